/**
 * Reading a pushed tree (possibly still in the push quarantine) with `git ls-tree -r -z -l` and ONE
 * `git cat-file --batch` process for all blob contents (stack-notes.md §1: never a process per file).
 * Sizes come from ls-tree's `-l` column, so a blob over the limit is never read into memory.
 */
import { spawnGit } from './spawn.ts';

export interface TreeEntry {
  path: string;
  /** git mode: 100644, 100755, 120000 (symlink), 160000 (submodule), … */
  mode: string;
  type: 'blob' | 'commit' | 'tree';
  oid: string;
  /** bytes (0 for submodules) */
  size: number;
}

/** All entries of the tree of `rev` (recursive). `env` carries GIT_DIR and the quarantine variables. */
export async function listTree(rev: string, env: NodeJS.ProcessEnv): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  await streamTree(rev, env, (e) => {
    entries.push(e);
    return true;
  });
  return entries;
}

/**
 * The entries of the tree of `rev` as `git ls-tree` prints them, one call of `onEntry` each; when it returns
 * false, git is stopped there and nothing more is read (a tree of 500,000 files is rejected after its first
 * entries, not after listing them all). Resolves true when the whole tree was listed.
 */
export function streamTree(rev: string, env: NodeJS.ProcessEnv, onEntry: (e: TreeEntry) => boolean): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const p = spawnGit(['ls-tree', '-r', '-z', '-l', '--full-tree', rev], { env });
    p.stdin.on('error', () => {});
    p.stdin.end();
    let rest: Buffer = Buffer.alloc(0);
    let stderr = '';
    let stopped = false;
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    p.stdout.on('data', (chunk: Buffer) => {
      if (stopped) return;
      let buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      for (let z = buf.indexOf(0); z !== -1; z = buf.indexOf(0)) {
        const rec = buf.subarray(0, z).toString('utf8');
        buf = buf.subarray(z + 1);
        const tab = rec.indexOf('\t');
        const [mode, type, oid, size] = rec.slice(0, tab).split(/ +/);
        const e: TreeEntry = { path: rec.slice(tab + 1), mode: mode!, type: type as TreeEntry['type'], oid: oid!, size: size === '-' ? 0 : Number(size) };
        if (!onEntry(e)) {
          stopped = true;
          p.kill();
          return;
        }
      }
      rest = Buffer.from(buf);
    });
    p.on('error', reject);
    p.on('close', (code) => {
      if (stopped) resolve(false);
      else if (code === 0) resolve(true);
      else reject(new Error(`git ls-tree exited ${code}: ${stderr.trim()}`));
    });
  });
}

/** Read many blobs through one `git cat-file --batch`; returns oid → content. */
export function readBlobs(oids: string[], env: NodeJS.ProcessEnv): Promise<Map<string, Buffer>> {
  const unique = [...new Set(oids)];
  const result = new Map<string, Buffer>();
  if (unique.length === 0) return Promise.resolve(result);
  return new Promise((resolve, reject) => {
    const p = spawnGit(['cat-file', '--batch'], { env });
    let buf: Buffer = Buffer.alloc(0);
    let idx = 0;
    let stderr = '';
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      p.kill();
      reject(e);
    };
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    p.stdout.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        const nl = buf.indexOf(10);
        if (nl < 0) return;
        const header = buf.subarray(0, nl).toString('utf8');
        const parts = header.split(' ');
        if (parts[1] === 'missing') return fail(new Error(`git cat-file: object ${parts[0]} is missing`));
        const size = Number(parts[2]);
        if (buf.length < nl + 1 + size + 1) return;
        result.set(parts[0]!, Buffer.from(buf.subarray(nl + 1, nl + 1 + size)));
        buf = buf.subarray(nl + 1 + size + 1);
        idx++;
      }
    });
    p.on('error', fail);
    p.on('close', (code) => {
      if (failed) return;
      if (idx !== unique.length) fail(new Error(`git cat-file exited ${code} after ${idx}/${unique.length} objects: ${stderr.trim()}`));
      else resolve(result);
    });
    p.stdin.on('error', () => {});
    p.stdin.end(unique.join('\n') + '\n');
  });
}
