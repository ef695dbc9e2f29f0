/**
 * The `picloud` executable itself (src/cli/bin.js, as a user runs it): --version, `help VERB`, shell completion
 * run by a real bash, and the git credential helper driven by a real `git credential fill`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitEnv } from '../helpers/git.ts';
import { ROOT } from '../helpers/start.ts';

const BIN = path.join(ROOT, 'src', 'cli', 'bin.js');
const picloud = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });

describe('picloud executable', () => {
  it('prints the version of package.json', () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = picloud(['--version']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`picloud ${version}\n`);
  });

  it('answers `help VERB` with the verb usage, and an unknown verb with 64', () => {
    const r = picloud(['help', 'logs']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^picloud logs -a APP \[--tail\]/);
    expect(picloud(['help', 'run']).stdout).toMatch(/^usage: picloud run FILE\.rhai/);
    const bad = picloud(['help', 'frobnicate']);
    expect(bad.status).toBe(64);
    expect(bad.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('generates a bash completion that completes commands and each verb’s flags', () => {
    const script = picloud(['completion', 'bash']);
    expect(script.status, script.stderr).toBe(0);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'picloud-completion-')), 'picloud.bash');
    writeFileSync(file, script.stdout);
    const probe = (words: string[]) =>
      spawnSync('bash', ['-c', `source '${file}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _picloud; printf '%s\\n' "\${COMPREPLY[@]}"`], {
        encoding: 'utf8',
      }).stdout.trim().split('\n');
    expect(probe(['picloud', 'kv'])).toEqual(['kv', 'kv:get', 'kv:set', 'kv:delete']);
    expect(probe(['picloud', 'logs', '--t'])).toEqual(['--tail']);
    expect(probe(['picloud', 'apps:create', '--'])).toEqual(['--app', '--json', '--help']);
    const zsh = picloud(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef picloud\n/);
    expect(zsh.stdout).toContain("'kv\\:set:set a key to a JSON value\\: -a APP KEY JSON'");
    // a real zsh (installed by .ci/run) loads it and completes the verbs
    const zfile = path.join(path.dirname(file), '_picloud');
    writeFileSync(zfile, zsh.stdout);
    const z = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D; source '${zfile}'; print -l \${(k)_comps[picloud]}; whence -w _picloud`], { encoding: 'utf8' });
    expect(z.error, 'zsh is needed (apt-get install zsh; .ci/run installs it)').toBeUndefined();
    expect(z.stdout).toContain('_picloud: function');
    expect(picloud(['completion', 'fish']).status).toBe(64);
  });

  it('is a git credential helper that answers only for the logged-in server', () => {
    const env = { ...gitEnv(), PICLOUD_URL: 'http://127.0.0.1:9', PICLOUD_TOKEN: 'pc_0123456789', PICLOUD_CONFIG: '/nonexistent/credentials.json' };
    const helper = `!"${process.execPath}" "${BIN}" git-credential`;
    const fill = (host: string) =>
      spawnSync('git', ['-c', `credential.helper=${helper}`, 'credential', 'fill'], { input: `protocol=http\nhost=${host}\n\n`, env, encoding: 'utf8', timeout: 30_000 });
    const ok = fill('127.0.0.1:9');
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('username=picloud\npassword=pc_0123456789\n');
    const other = fill('example.invalid');
    expect(other.stdout).not.toContain('pc_0123456789');
    expect(other.status).not.toBe(0); // no prompt allowed (GIT_TERMINAL_PROMPT=0) and no answer from us
  });
});
