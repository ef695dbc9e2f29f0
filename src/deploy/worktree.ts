/**
 * A working tree as validation sees it, for `picloud check` and `picloud dev`: inside a git repository, the files git
 * would commit (`git ls-files`: tracked, and with `untracked: true` also untracked files that are not ignored), read
 * from the working tree; outside a repository, every file under DIR (but `.git`, `node_modules` and `.picloud`).
 * So `check` sees what a push of the current files would see, never an ignored `.env` or build output.
 */
import { spawnSync } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { TreeFile } from './tree-checks.ts';
import { dirTreeSource, readFiles, type TreeSource } from './validate.ts';

/** The repository top level containing `dir`, or null. */
export function gitTopLevel(dir: string): string | null {
  const r = spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export async function workTreeSource(dir: string, opts: { untracked?: boolean } = {}): Promise<TreeSource & { git: boolean }> {
  const top = gitTopLevel(dir);
  if (!top || path.resolve(top) !== path.resolve(dir)) {
    // not a repository, or a folder inside one (an app in a monorepo): every file, as before
    // (dirTreeSource skips .git, node_modules and .picloud at the top)
    return { ...(await dirTreeSource(dir)), git: false };
  }
  const args = ['ls-files', '-z', '--cached', ...(opts.untracked ? ['--others', '--exclude-standard'] : [])];
  const r = spawnSync('git', args, { cwd: dir, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr.toString('utf8').trim()}`);
  const names = [...new Set(r.stdout.toString('utf8').split('\0').filter(Boolean))].sort();
  const files: TreeFile[] = [];
  for (const name of names) {
    const st = await lstat(path.join(dir, name)).catch(() => null);
    if (!st) continue; // deleted in the working tree: a commit now would not have it
    if (st.isSymbolicLink()) files.push({ path: name, mode: '120000', size: st.size });
    else if (st.isDirectory()) files.push({ path: name, mode: '160000', size: 0 }); // a submodule's work tree
    else if (st.isFile()) files.push({ path: name, mode: st.mode & 0o111 ? '100755' : '100644', size: st.size });
  }
  // validateTree reads them in the validation worker (origin)
  return { git: true, files, read: (list) => readFiles(dir, list), origin: { kind: 'fs', root: dir } };
}
