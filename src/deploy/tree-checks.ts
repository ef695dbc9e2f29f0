/**
 * Checks on the pushed tree itself, before any buildpack looks at it: file count, per-file and total size
 * (PUSH_LIMITS), submodules, symlinks that escape the repository, and UTF-8 validity of every file.
 */
import path from 'node:path/posix';
import { PUSH_LIMITS } from '../common/config.ts';
import type { DeployDiagnostic } from './diagnostics.ts';

export interface TreeFile {
  path: string;
  /** git mode: 100644, 100755, 120000 (symlink), 160000 (submodule) */
  mode: string;
  size: number;
}

const fmtBytes = (n: number): string => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`);

export interface TreeLimits {
  maxFileBytes: number;
  maxTotalBytes: number;
  maxFiles: number;
}

/**
 * Counts a tree's files and bytes while it is being listed, so a listing stops at the first entry past the count
 * or total-size limit: nothing more is listed and no file is read (a tree of 500,000 files costs 2,001 entries).
 */
export class TreeTally {
  files = 0;
  bytes = 0;
  constructor(readonly limits: TreeLimits = PUSH_LIMITS) {}
  /** Count one file; a diagnostic when the tree is now over a limit (the listing should stop). */
  add(f: TreeFile): DeployDiagnostic | null {
    this.files++;
    this.bytes += f.size;
    const { maxFiles, maxTotalBytes } = this.limits;
    if (this.files > maxFiles) {
      return { path: '.', line: 1, col: 1, message: `the tree has more than ${maxFiles} files, over the limit of ${maxFiles} (the push was stopped there; no file was read)` };
    }
    if (this.bytes > maxTotalBytes) {
      return { path: '.', line: 1, col: 1, message: `the tree is more than ${fmtBytes(maxTotalBytes)}, over the total limit of ${fmtBytes(maxTotalBytes)} (its first ${this.files} files come to ${fmtBytes(this.bytes)}; no file was read)` };
    }
    return null;
  }
}

/** Size/count/submodule checks; returns the files whose content may be read (all when within limits). */
export function checkTreeShape(files: TreeFile[], limits: TreeLimits = PUSH_LIMITS): { diagnostics: DeployDiagnostic[]; readable: TreeFile[] } {
  const diagnostics: DeployDiagnostic[] = [];
  const readable: TreeFile[] = [];
  const tooMany = files.length > limits.maxFiles;
  if (tooMany) {
    diagnostics.push({ path: '.', line: 1, col: 1, message: `the tree has ${files.length} files, over the limit of ${limits.maxFiles}` });
  }
  let total = 0;
  for (const f of files) {
    if (f.mode === '160000') {
      diagnostics.push({ path: f.path, line: 1, col: 1, message: 'submodules are not supported' });
      continue;
    }
    total += f.size;
    if (f.size > limits.maxFileBytes) {
      diagnostics.push({ path: f.path, line: 1, col: 1, message: `file is ${fmtBytes(f.size)}, over the per-file limit of ${fmtBytes(limits.maxFileBytes)}` });
      continue;
    }
    readable.push(f);
  }
  if (total > limits.maxTotalBytes) {
    diagnostics.push({ path: '.', line: 1, col: 1, message: `the tree is ${fmtBytes(total)}, over the total limit of ${fmtBytes(limits.maxTotalBytes)}` });
  }
  // a tree over the count or total limit is rejected without reading any file
  return { diagnostics, readable: tooMany || total > limits.maxTotalBytes ? [] : readable };
}

/** A symlink whose target is absolute or leaves the repository. */
export function checkSymlink(file: TreeFile, target: string): DeployDiagnostic | null {
  const resolved = path.normalize(path.join(path.dirname(file.path), target));
  if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
    return { path: file.path, line: 1, col: 1, message: `symlink points outside the repository (-> ${target})` };
  }
  return null;
}

/** Byte offset of the first invalid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    if (i + n >= b.length) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Decode a file as UTF-8, or report where it is not. */
export function decodeUtf8(file: string, content: Buffer): { text: string } | { diagnostic: DeployDiagnostic } {
  const bad = firstInvalidUtf8(content);
  if (bad < 0) return { text: content.toString('utf8') };
  const before = content.subarray(0, bad).toString('utf8');
  const lines = before.split('\n');
  const line = lines.length;
  const col = Array.from(lines[lines.length - 1]!).length + 1;
  return { diagnostic: { path: file, line, col, message: `file is not valid UTF-8 (byte 0x${content[bad]!.toString(16).padStart(2, '0')} at offset ${bad})` } };
}
