/**
 * The bare-repository store: one bare repo per app under `<reposDir>/<app>.git`, created with
 * `git init --bare -b main` (stack-notes.md §1: never rely on git's default branch name).
 * App names are validated before any path is built from them.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { isValidAppName } from '../common/names.ts';

export { isValidAppName };

/** Absolute path of an app's bare repository. Throws on an invalid name (callers validate first). */
export function repoPath(reposDir: string, app: string): string {
  if (!isValidAppName(app)) throw new Error(`invalid app name: ${app}`);
  return path.join(reposDir, `${app}.git`);
}

/** Run git with args; resolves stdout, rejects with stderr on a non-zero exit. */
export function git(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', args, { cwd: opts.cwd, env: opts.env ?? cleanGitEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
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

/** Create the app's bare repository if missing; returns its path. Concurrent callers share one `git init`. */
export async function ensureRepo(reposDir: string, app: string): Promise<string> {
  const dir = repoPath(reposDir, app);
  if (existsSync(path.join(dir, 'HEAD'))) return dir;
  let p = creating.get(dir);
  if (!p) {
    p = (async () => {
      await mkdir(reposDir, { recursive: true });
      await git(['init', '--quiet', '--bare', '-b', 'main', dir]);
      return dir;
    })().finally(() => creating.delete(dir));
    creating.set(dir, p);
  }
  return p;
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
