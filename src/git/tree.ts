/**
 * Reading a pushed tree (possibly still in the push quarantine) with `git ls-tree -r -z -l` and ONE
 * `git cat-file --batch` process for all blob contents (stack-notes.md §1: never a process per file).
 * Sizes come from ls-tree's `-l` column, so a blob over the limit is never read into memory.
 */
import { spawn } from 'node:child_process';
import { git } from './repos.ts';

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
  const out = await git(['ls-tree', '-r', '-z', '-l', '--full-tree', rev], { env });
  const entries: TreeEntry[] = [];
  for (const rec of out.toString('utf8').split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, type, oid, size] = rec.slice(0, tab).split(/ +/);
    entries.push({ path: rec.slice(tab + 1), mode: mode!, type: type as TreeEntry['type'], oid: oid!, size: size === '-' ? 0 : Number(size) });
  }
  return entries;
}

/** Read many blobs through one `git cat-file --batch`; returns oid → content. */
export function readBlobs(oids: string[], env: NodeJS.ProcessEnv): Promise<Map<string, Buffer>> {
  const unique = [...new Set(oids)];
  const result = new Map<string, Buffer>();
  if (unique.length === 0) return Promise.resolve(result);
  return new Promise((resolve, reject) => {
    const p = spawn('git', ['cat-file', '--batch'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
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
