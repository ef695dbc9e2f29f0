/**
 * The bare-repository store: one bare repo per app under `<reposDir>/<app>.git`, created with
 * `git init --bare -b main` (stack-notes.md §1: never rely on git's default branch name).
 * App names are validated before any path is built from them.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';

import { isValidAppName } from '../common/names.ts';
import { spawnGit } from './spawn.ts';

export { isValidAppName };

/**
 * The one repository that is not an app's: always empty, it answers the receive-pack advertisement for a name
 * nobody has pushed to yet (src/git/http.ts), so that no repository is created before a push. No app name can
 * be spelled like it (names start with a letter).
 */
export const EMPTY_REPO = '.picloud-empty';

/** Absolute path of an app's bare repository. Throws on an invalid name (callers validate first). */
export function repoPath(reposDir: string, app: string): string {
  if (!isValidAppName(app) && app !== EMPTY_REPO) throw new Error(`invalid app name: ${app}`);
  return path.join(reposDir, `${app}.git`);
}

/** Run git with args; resolves stdout, rejects with stderr on a non-zero exit. */
export function git(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawnGit(args, { cwd: opts.cwd, env: opts.env ?? cleanGitEnv() });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => err.push(b));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`git ${args[0]} exited ${code}: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
    p.stdin.on('error', () => {});
    p.stdin.end(opts.input ?? '');
  });
}

/** process.env without GIT_* variables (a hook's quarantine env must never leak into git runs on other repos). */
export function cleanGitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  return { ...env, ...extra };
}

const creating = new Map<string, Promise<string>>();

/**
 * Create the app's bare repository if missing; returns its path and whether this call created it. Concurrent
 * callers share one `git init` (only the first is told `created`).
 */
export async function ensureRepo(reposDir: string, app: string): Promise<{ dir: string; created: boolean }> {
  const dir = repoPath(reposDir, app);
  if (existsSync(path.join(dir, 'HEAD'))) return { dir, created: false };
  const pending = creating.get(dir);
  if (pending) return { dir: await pending, created: false };
  const p = (async () => {
    await mkdir(reposDir, { recursive: true });
    await git(['init', '--quiet', '--bare', '-b', 'main', dir]);
    return dir;
  })().finally(() => creating.delete(dir));
  creating.set(dir, p);
  return { dir: await p, created: true };
}

/** True when the app's repository exists (a valid push created it). */
export async function repoExists(reposDir: string, app: string): Promise<boolean> {
  return existsSync(path.join(repoPath(reposDir, app), 'HEAD'));
}

/** True when the repository holds at least one ref. */
export async function hasRefs(repoDir: string): Promise<boolean> {
  const out = await git(['for-each-ref', '--count=1', '--format=%(refname)'], { env: cleanGitEnv({ GIT_DIR: repoDir }) });
  return out.length > 0;
}

/** Delete a repository directory (an app's repo that no valid push ever filled). */
export async function removeRepo(repoDir: string): Promise<void> {
  await rm(repoDir, { recursive: true, force: true });
}

/** Current sha of a ref in a repo, or null. */
export async function readRef(repoDir: string, ref: string): Promise<string | null> {
  try {
    const out = await git(['rev-parse', '--verify', '--quiet', ref], { env: cleanGitEnv({ GIT_DIR: repoDir }) });
    return out.toString('utf8').trim() || null;
  } catch {
    return null;
  }
}

const ZERO = '0'.repeat(40);

/** True when `sha` is a commit whose whole history and trees are in the repository (a ref may name it). */
export async function isCompleteCommit(repoDir: string, sha: string): Promise<boolean> {
  const env = cleanGitEnv({ GIT_DIR: repoDir });
  try {
    await git(['cat-file', '-e', `${sha}^{commit}`], { env });
    // walks what no ref reaches yet: fails on the first missing object
    await git(['rev-list', '--objects', sha, '--not', '--all'], { env });
    return true;
  } catch {
    return false;
  }
}

/**
 * Set (or, with sha null, delete) a ref, only if it still holds `expected` (null: absent), like git's own
 * compare-and-swap; rejects when it moved.
 */
export async function updateRef(repoDir: string, ref: string, sha: string | null, expected: string | null, reason: string): Promise<void> {
  const env = cleanGitEnv({ GIT_DIR: repoDir });
  if (sha === null) {
    if (expected !== null) await git(['update-ref', '-m', reason, '-d', ref, expected], { env });
    return;
  }
  await git(['update-ref', '-m', reason, ref, sha, expected ?? ZERO], { env });
}
