/**
 * Crash tests of pushes: `picloud up` as a real process (the compiled dist/ that `npm start` runs) against a
 * throwaway database, in its own process group, with PICLOUD_FAULT making it SIGKILL itself at one step of a push
 * (src/common/fault.ts). Then a restart without the fault and checks that git's ref, the live release and the
 * served code agree, that no quarantine is left, and that the next push and the push of an older commit work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/db/pool.ts';
import { insertToken, newToken } from '../../src/db/tokens.ts';
import { readRef } from '../../src/git/repos.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { cleanupTempDirs, commitAll, makeRepo, push, remoteUrl, tempDir, writeFiles } from './git.ts';
import { ROOT, startArgs } from './start.ts';

export interface Up {
  proc: ChildProcess;
  port: number;
  out: () => string;
}

/** Start `picloud up --port 0` with `env` added; resolves once it listens. */
export function startUp(env: NodeJS.ProcessEnv): Promise<Up> {
  const full: NodeJS.ProcessEnv = { ...process.env, PICLOUD_LOG_LEVEL: 'warn', PICLOUD_EXECUTORS: '1', ...env };
  delete full.REDIS_URL;
  if (!env.PICLOUD_FAULT) delete full.PICLOUD_FAULT;
  // its own process group: a ":group" fault kills the server and its git children, and nothing else
  const proc = spawn(process.execPath, [...startArgs(), '--port', '0'], { cwd: ROOT, env: full, detached: true });
  let out = '';
  const text = () => out;
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      const port = /PiCloud is running on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
      if (port) resolve({ proc, port: Number(port), out: text });
    });
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
    proc.once('exit', (code, signal) => reject(new Error(`picloud up exited ${code ?? signal}:\n${out}`)));
  });
}

/** Resolves with the signal (or exit code) once the process has exited. */
export function exited(proc: ChildProcess): Promise<string | number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.signalCode ?? proc.exitCode);
  return new Promise((r) => proc.once('exit', (code, signal) => r(signal ?? code)));
}

/** Processes of a process group that are still running (zombies excluded), from /proc. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Wait (bounded) until every process of the server's group has ended: git's orphans finish on their own. */
export async function groupGone(pgid: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (groupMembers(pgid).length && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}

/** Kill whatever of the group is left (test cleanup). */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function stopUp(up: Up): Promise<void> {
  up.proc.kill('SIGINT');
  expect(await exited(up.proc), up.out()).toBe(0);
}

export const quarantines = (repoDir: string): string[] => readdirSync(path.join(repoDir, 'objects')).filter((n) => /incoming-/.test(n));

/** The live release of (app, main): its commit, with the number of pending ref updates of the app. */
export async function liveState(pool: Pool, app: string): Promise<{ commit: string | null; pending: number }> {
  const { rows } = await pool.query<{ commit_sha: string }>(
    `SELECT r.commit_sha FROM branch_pointers p JOIN releases r ON r.id = p.release_id JOIN apps a ON a.id = p.app_id WHERE a.name = $1 AND p.branch = 'main'`,
    [app],
  );
  const pending = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pending_ref_updates');
  return { commit: rows[0]?.commit_sha ?? null, pending: pending.rows[0]!.n };
}

/** A commit whose hello.rhai answers `<tag> <name>`. */
export async function commitVersion(repo: string, tag: string): Promise<string> {
  writeFiles(repo, { 'hello.rhai': `fn handle(ctx) { "${tag} " + ctx.params.name }\n` });
  return commitAll(repo, tag);
}

export async function served(port: number, app: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/apps/${app}/hello/x`);
  return `${r.status} ${await r.text()}`;
}

/** git's ref, the live release and the served code agree on `commit` (serving `tag`); nothing is left over. */
export async function expectConsistent(o: { pool: Pool; repoDir: string; port: number; app: string; commit: string; tag: string }): Promise<void> {
  expect(await readRef(o.repoDir, 'refs/heads/main'), 'git ref').toBe(o.commit);
  expect(await liveState(o.pool, o.app)).toEqual({ commit: o.commit, pending: 0 });
  expect(await served(o.port, o.app)).toBe(`200 ${o.tag} x`);
  expect(quarantines(o.repoDir)).toEqual([]);
}

export interface CrashCase {
  /** PICLOUD_FAULT */
  fault: string;
  /** which release the restart must serve: the one before the push, or the pushed one (the push completes) */
  live: 'old' | 'new';
}

/**
 * One `describe` running each case in turn on one app: start with the fault, push a new commit, see the server
 * die of SIGKILL, start again, then check agreement and roll back by pushing an older commit (the next case's
 * push starts from there); the last case pushes once more.
 */
export function crashSuite(cases: CrashCase[]): void {
  const APP = 'crashapp';
  let db: TestDatabase;
  let home = '';
  let token = '';
  let repo = '';
  const commits: string[] = [];
  const started: Up[] = [];
  const repoDir = () => path.join(home, 'repos', `${APP}.git`);
  const url = (up: Up) => remoteUrl(`http://127.0.0.1:${up.port}`, APP, token);
  const start = async (fault?: string): Promise<Up> => {
    const up = await startUp({ PICLOUD_HOME: home, DATABASE_URL: db.url, ...(fault ? { PICLOUD_FAULT: fault } : {}) });
    started.push(up);
    return up;
  };
  const consistent = (up: Up, i: number) => expectConsistent({ pool: db.pool, repoDir: repoDir(), port: up.port, app: APP, commit: commits[i]!, tag: `v${i}` });

  beforeAll(async () => {
    db = await createTestDatabase();
    home = tempDir('picloud-crash-home-');
    token = newToken();
    await insertToken(db.pool, 'crash-test', token);
    repo = await makeRepo({ fixture: 'hello' });
    for (const tag of ['v0', 'v1']) commits.push(await commitVersion(repo, tag));
    const up = await start();
    const r = await push(repo, url(up), ['main']);
    expect(r.code, r.stderr).toBe(0);
    await stopUp(up);
  }, 60_000);

  afterAll(async () => {
    for (const up of started) killGroup(up.proc.pid!);
    await db?.drop();
    cleanupTempDirs();
  });

  describe('kill -9 at each step of a push', () => {
    let liveIdx = 1;
    let run = 0;
    it.each(cases)('$fault: the next start reconciles git and the live release ($live)', async ({ fault, live }) => {
      const last = ++run === cases.length;
      const crashed = await start(fault);
      commits.push(await commitVersion(repo, `v${commits.length}`));
      const pushed = commits.length - 1;
      const r = await push(repo, url(crashed), ['main']);
      expect(await exited(crashed.proc), `the fault fired\n${r.stderr}\n${crashed.out()}`).toBe('SIGKILL');
      if (fault.endsWith(':group')) expect(quarantines(repoDir()).length, 'git died with its quarantine').toBeGreaterThan(0);
      await groupGone(crashed.proc.pid!);

      const up = await start();
      const now = live === 'new' ? pushed : liveIdx;
      await consistent(up, now);
      // the documented rollback, pushing an older commit, deploys it (never "Everything up-to-date")
      const older = now === 0 ? 1 : 0;
      const back = await push(repo, url(up), [`${commits[older]}:main`], { force: true });
      expect(back.code, back.stderr).toBe(0);
      expect(back.stderr).toContain('Released v');
      await consistent(up, older);
      liveIdx = older;
      if (last) {
        // and the next push deploys (each case's crash push also starts from this rollback)
        const next = await push(repo, url(up), ['main']);
        expect(next.code, next.stderr).toBe(0);
        await consistent(up, pushed);
      }
      await stopUp(up);
    });
  });
}
