/**
 * The Heroku-contract shims in buildpacks/rhai/bin (detect, compile, release), run as a buildpack runner would:
 * `bin/<step> BUILD_DIR` with bash, on real trees.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, FIXTURES, tempDir, writeFiles } from '../helpers/git.ts';
import { ROOT } from '../helpers/start.ts';

afterAll(() => cleanupTempDirs());

const bin = (step: string, dir: string) =>
  spawnSync('bash', [path.join(ROOT, 'buildpacks', 'rhai', 'bin', step), dir], { encoding: 'utf8', timeout: 60_000 });

describe('buildpacks/rhai/bin', () => {
  const app = path.join(FIXTURES, 'hello');

  it('detect: names the buildpack for a tree with picloud.toml, exit 1 without', () => {
    const yes = bin('detect', app);
    expect(yes.status).toBe(0);
    expect(yes.stdout).toBe('Rhai\n');
    const no = bin('detect', tempDir());
    expect(no.status).toBe(1);
    expect(no.stdout).toBe('');
  });

  it('compile: validates and compiles, rejecting a broken tree with path:line:col', () => {
    const ok = bin('compile', app);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/-----> Compiled 2 scripts/);
    const broken = tempDir();
    writeFiles(broken, { 'picloud.toml': '[[routes]]\npath = "/"\nscript = "a.rhai"\n', 'a.rhai': 'let = 1;\n' });
    const bad = bin('compile', broken);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/^a\.rhai:1:5: /m);
  });

  it('release: prints the release manifest as JSON', () => {
    const r = bin('release', app);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout) as { ok: boolean; manifest: { routes: { path: string }[] }; scripts: { path: string; hash: string }[] };
    expect(m.ok).toBe(true);
    expect(m.manifest.routes.map((x) => x.path)).toEqual(['/hello/:name', '/echo']);
    expect(m.scripts.map((s) => s.path).sort()).toEqual(['echo.rhai', 'hello.rhai']);
    expect(m.scripts.every((s) => /^[0-9a-f]{64}$/.test(s.hash))).toBe(true);
  });
});
