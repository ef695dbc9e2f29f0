/**
 * Nothing lost (architecture.md §6): 40 jobs of ~200 ms each, then
 *  - embedded mode: kill -9 of the whole platform (`picloud up`, executor threads in-process) and a restart;
 *  - Redis mode: kill -9 of one of two executor processes;
 * every job completes (at least once) within 120 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeArgsFor } from '../../src/common/runtime.ts';
import { spawnExecutor } from '../../src/orchestrator/index.ts';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../helpers/db.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { cleanupTempDirs, makeRepo, push, remoteUrl } from '../helpers/git.ts';
import { manifestOf, pushRelease, waitFor } from '../helpers/releases.ts';

const APP = {
  app: 'crashy',
  scripts: {
    'send.rhai': 'let ids = []; for i in 0..40 { ids.push(queue::send("slow", #{ i: i })); } ids',
    'ping.rhai': '"pong"',
    // ~200 ms without burning the thread: kv round trips
    'slow.rhai': `
      let t0 = now();
      while now() - t0 < 200 { kv::get("x"); }
      let k = "done:" + ctx.json.i;
      let c = kv::get(k);
      kv::set(k, if c == () { 1 } else { c + 1 });`,
  },
  routes: [{ path: '/send', method: 'POST', script: 'send.rhai' }, { path: '/ping', script: 'ping.rhai' }],
  queues: [{ name: 'slow', script: 'slow.rhai', attempts: 5, backoffMs: 200, concurrency: 4 }],
};

const done = async (db: TestDatabase, appId: number): Promise<number> =>
  (await db.pool.query(`SELECT count(*)::int AS n FROM kv WHERE app_id = $1 AND key LIKE 'done:%'`, [appId])).rows[0].n;

const killed = (c: ChildProcess) => new Promise<void>((res) => {
  if (c.exitCode !== null || c.signalCode !== null) return res();
  c.once('exit', () => res());
  c.kill('SIGKILL');
});

describe('nothing lost (embedded): kill -9 of the whole platform, then a restart', () => {
  let db: TestDatabase;
  let home: string;
  let proc: ChildProcess | null = null;
  afterAll(async () => {
    if (proc) await killed(proc);
    await db?.drop();
    if (home) rmSync(home, { recursive: true, force: true });
    cleanupTempDirs();
  });

  /** `picloud up --port 0` on the test database (embedded mode: no REDIS_URL); resolves with its port. */
  let out = '';
  const up = (): Promise<number> => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, PICLOUD_HOME: home, PICLOUD_LOG_LEVEL: 'warn', PICLOUD_EXECUTORS: '2' };
    delete env.REDIS_URL;
    const p = spawn(process.execPath, [...nodeArgsFor('cli/main'), 'up', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    out = '';
    return new Promise((resolve, reject) => {
      p.stdout!.on('data', (b: Buffer) => {
        out += b.toString('utf8');
        const port = /running on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)?.[1];
        if (port) resolve(Number(port));
      });
      p.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
      p.once('exit', (code, signal) => reject(new Error(`picloud up exited ${code ?? signal}:\n${out}`)));
    });
  };

  it('should complete all 40 jobs after the restart', async () => {
    db = await createTestDatabase();
    home = mkdtempSync(path.join(tmpdir(), 'picloud-crash-'));
    const port = await up();
    // a real git push: `up` reconciles releases with its repositories at start
    await waitFor(() => /pc_[0-9a-f]+/.test(out), 10_000, 'the admin token in the output'); // may follow "running on"
    const token = /(pc_[0-9a-f]+)/.exec(out)![1]!;
    const repo = await makeRepo({ files: { 'picloud.toml': manifestOf(APP), ...APP.scripts } });
    const pushed = await push(repo, remoteUrl(`http://127.0.0.1:${port}`, 'crashy', token), ['HEAD:main']);
    expect(pushed.code, pushed.stderr).toBe(0);
    const appId = (await db.pool.query(`SELECT id FROM apps WHERE name = 'crashy'`)).rows[0].id as number;
    let last = '';
    await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/apps/crashy/ping`).catch((e: Error) => e);
      last = res instanceof Error ? res.message : `${res.status} ${await res.text()}`;
      return last.startsWith('200');
    }, 30_000, 'platform up').catch((e: Error) => { throw new Error(`${e.message}: ${last}`); });
    const r = await fetch(`http://127.0.0.1:${port}/apps/crashy/send`, { method: 'POST' });
    expect(r.status).toBe(200);
    expect(await r.json()).toHaveLength(40);
    await waitFor(async () => (await done(db, appId)) >= 4, 30_000, 'first jobs done');
    await killed(proc!);
    const before = await done(db, appId);
    expect(before, 'the crash should leave jobs to do').toBeLessThan(40);
    const started = Date.now();
    await up();
    await waitFor(async () => (await done(db, appId)) === 40, 120_000, 'all 40 jobs after the restart');
    expect(Date.now() - started).toBeLessThan(120_000);
    // the handler's last write comes just before its try is recorded as done
    const notDone = async () => (await db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE app_id = $1 AND state <> 'done'`, [appId])).rows[0].n as number;
    await waitFor(async () => (await notDone()) === 0, 10_000, 'every job recorded as done').catch(() => {});
    expect(await notDone()).toBe(0);
  });
});

describe('nothing lost (Redis): kill -9 of one of two executor processes', () => {
  let t: TestPlane;
  const executors: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(executors.map(killed));
    await t?.close();
  });

  it('should complete all 40 jobs', async () => {
    t = await startTestPlane('bullmq', { spawn: 0 });
    const env = { ...process.env, DATABASE_URL: t.db.url, REDIS_URL: TEST_REDIS_URL, PICLOUD_LOG_LEVEL: 'warn' };
    // one executor first: it takes the request that sends the jobs, and runs them (local-first), so the one killed
    // below holds running jobs for sure; the second starts while they run
    executors.push(spawnExecutor(env, ['--prefix', t.prefix, '--threads', '2']));
    const { appId } = await pushRelease(t.db.pool, APP);
    await waitFor(() => t.plane.routes.entry('crashy', 'main') !== null, 5000, 'release live');
    await waitFor(async () => (await fetch(`${t.base}/apps/crashy/ping`).catch(() => null))?.status === 200, 60_000, 'executor up');
    const r = await fetch(`${t.base}/apps/crashy/send`, { method: 'POST' });
    expect(r.status).toBe(200);
    executors.push(spawnExecutor(env, ['--prefix', t.prefix, '--threads', '2']));
    await waitFor(async () => (await done(t.db, appId)) >= 4, 30_000, 'first jobs done');
    const running = async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE app_id = $1 AND state = 'running'`, [appId])).rows[0].n as number;
    expect(await running(), 'the killed executor should be running jobs').toBeGreaterThan(0);
    const started = Date.now();
    await killed(executors[0]!);
    await waitFor(async () => (await done(t.db, appId)) === 40, 120_000, 'all 40 jobs after the kill');
    expect(Date.now() - started).toBeLessThan(120_000);
  });
});
