import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keepQuarantinedObjects, quarantineDirs, rescueQuarantines } from './quarantine.ts';
import { cleanGitEnv } from './repos.ts';

const base = mkdtempSync(path.join(tmpdir(), 'picloud-quarantine-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const env = cleanGitEnv({ GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' });
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();
const has = (repo: string, sha: string) => {
  try {
    git(repo, `--git-dir=${repo}`, 'cat-file', '-e', sha);
    return true;
  } catch {
    return false;
  }
};

/** A work tree with one commit, and an empty bare repo to receive it. */
function setup(name: string): { work: string; bare: string; commit: string } {
  const work = path.join(base, `${name}-work`);
  const bare = path.join(base, `${name}.git`);
  mkdirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  writeFileSync(path.join(work, 'a.txt'), `${name}\n`);
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', name);
  git(base, 'init', '-q', '--bare', bare);
  return { work, bare, commit: git(work, 'rev-parse', 'HEAD') };
}

describe('quarantine', () => {
  it('should move a leftover quarantine pack into the repository and remove the quarantine', async () => {
    const { work, bare, commit } = setup('pack');
    const q = path.join(bare, 'objects', 'tmp_objdir-incoming-abc123', 'pack');
    mkdirSync(q, { recursive: true });
    execFileSync('git', ['pack-objects', '-q', '--revs', path.join(q, 'pack')], { cwd: work, env, input: `${commit}\n` });
    // an unfinished pack of a push that died while receiving (no .idx): not an object store anyone may trust
    const half = path.join(bare, 'objects', 'incoming-xyz', 'pack');
    mkdirSync(half, { recursive: true });
    writeFileSync(path.join(half, 'pack-0123.pack'), 'partial');
    expect(has(bare, commit)).toBe(false);
    const removed = await rescueQuarantines(bare);
    expect(removed.map((d) => path.basename(d)).sort()).toEqual(['incoming-xyz', 'tmp_objdir-incoming-abc123']);
    expect(has(bare, commit)).toBe(true);
    expect(readdirSync(path.join(bare, 'objects', 'pack'))).not.toContain('pack-0123.pack');
    expect(await quarantineDirs(bare)).toEqual([]);
    git(base, `--git-dir=${bare}`, 'fsck', '--no-dangling');
  });

  it('should keep loose objects of the running push, and refuse a path outside the objects directory', async () => {
    const { work, bare, commit } = setup('loose');
    const q = path.join(bare, 'objects', 'tmp_objdir-incoming-loose');
    mkdirSync(q, { recursive: true });
    // copy the work tree's loose objects, as receive-pack unpacks a small push
    for (const d of readdirSync(path.join(work, '.git', 'objects')).filter((n) => /^[0-9a-f]{2}$/.test(n))) {
      mkdirSync(path.join(q, d), { recursive: true });
      for (const f of readdirSync(path.join(work, '.git', 'objects', d))) {
        execFileSync('cp', [path.join(work, '.git', 'objects', d, f), path.join(q, d, f)]);
      }
    }
    await keepQuarantinedObjects(bare, q);
    expect(has(bare, commit)).toBe(true);
    expect(existsSync(q)).toBe(true); // git still owns it
    await expect(keepQuarantinedObjects(bare, work)).rejects.toThrow(/not a quarantine directory/);
    await expect(keepQuarantinedObjects(bare, undefined)).resolves.toBeUndefined();
  });
});
