/**
 * Git helpers for integration tests: build repositories from plain file trees at test time (test/fixtures/apps/
 * holds no .git directories) and push with the real git client over HTTP.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/apps');

/** An env for the git client: no prompts, no user/system config, no credential helpers. */
export function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
  };
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runGit(cwd: string, args: string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', ['-c', 'credential.helper=', '-c', 'init.defaultBranch=main', ...args], { cwd, env: gitEnv() });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function mustGit(cwd: string, args: string[]): Promise<string> {
  const r = await runGit(cwd, args);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

export type FileSpec = string | Buffer | { symlink: string } | null;

const tmpDirs: string[] = [];

/** A fresh temp directory removed by cleanupTempDirs(). */
export function tempDir(prefix = 'picloud-test-'): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

export function cleanupTempDirs(): void {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Write files into a work tree (null deletes). */
export function writeFiles(dir: string, files: Record<string, FileSpec>): void {
  for (const [rel, spec] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    rmSync(abs, { force: true });
    if (spec === null) continue;
    mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof spec === 'object' && !Buffer.isBuffer(spec)) symlinkSync(spec.symlink, abs);
    else writeFileSync(abs, spec);
  }
}

/** A new repository on branch main, from a fixture directory and/or files, with one commit. */
export async function makeRepo(opts: { fixture?: string; files?: Record<string, FileSpec> } = {}): Promise<string> {
  const dir = tempDir('picloud-repo-');
  if (opts.fixture) cpSync(path.join(FIXTURES, opts.fixture), dir, { recursive: true });
  if (opts.files) writeFiles(dir, opts.files);
  await mustGit(dir, ['init', '-q', '-b', 'main']);
  await commitAll(dir, 'initial');
  return dir;
}

/** Stage everything and commit; returns the new HEAD sha. */
export async function commitAll(dir: string, message: string): Promise<string> {
  await mustGit(dir, ['add', '-A']);
  await mustGit(dir, ['commit', '-q', '--allow-empty', '-m', message]);
  return mustGit(dir, ['rev-parse', 'HEAD']);
}

export const headSha = (dir: string): Promise<string> => mustGit(dir, ['rev-parse', 'HEAD']);

/** `git push <url> <refspecs…>`; never throws on a rejected push. */
export function push(dir: string, url: string, refspecs: string[], opts: { force?: boolean } = {}): Promise<GitResult> {
  return runGit(dir, ['push', ...(opts.force ? ['-f'] : []), url, ...refspecs]);
}

/** The http URL of an app's repo with basic-auth credentials. */
export const remoteUrl = (base: string, app: string, token: string | null, user = 'tester'): string => {
  const u = new URL(`/git/${app}.git`, base);
  if (token !== null) {
    u.username = user;
    u.password = token;
  }
  return u.toString();
};

/** `git reset --hard <rev>` in a work tree. */
export const resetHard = (dir: string, rev: string): Promise<string> => mustGit(dir, ['reset', '-q', '--hard', rev]);

/** Run any git command in a work tree; throws on failure. */
export const git = mustGit;
