/**
 * Direct lanes (src/queue/lanes.ts) with real executor processes and a redis-server of the test's own: executors
 * find the orchestrator in Redis and dial it, invocations then travel on the lanes (not the Redis list); an
 * executor killed with -9 fails only what it held, at once (its socket closed: no wait for the heartbeat); one
 * stopped with SIGTERM finishes what it runs and hands back what it had not started, and one killed with -9 has what
 * it held unstarted sent to another executor; invocations waiting on I/O hold no credit; Redis going away does not
 * stop the HTTP path while lanes are open; a lane with the wrong token is refused; an orchestrator that starts later
 * is dialed within seconds; executors without a lane get the work that waits for one, over the lists. The Redis-list path alone:
 * redis-lists.test.ts and redis-restart.test.ts (PICLOUD_LANES=off).
 */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnExecutor } from '../../src/orchestrator/index.ts';
import { redisConnection } from '../../src/queue/redis-util.ts';
import { busyScript, timed } from '../helpers/load.ts';
import { missing } from '../helpers/needs.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { startTestPlane, waitForExecutors, type TestPlane } from '../helpers/plane.ts';
import { freePort } from '../helpers/ports.ts';
import { haveRedisServer, startRedis, stopRedis } from '../helpers/private-redis.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const skip = missing('redis-server', haveRedisServer, 'apt-get install -y redis-server');

function kill(c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((res) => {
    if (c.exitCode !== null || c.signalCode !== null) return res();
    c.once('exit', () => res());
    c.kill(signal);
  });
}

describe.skipIf(skip)('direct lanes between an orchestrator and its executors', () => {
  let port: number;
  let redisUrl: string;
  let redis: ChildProcess;
  let t: TestPlane;
  let up: Upstream;
  const children: ChildProcess[] = [];
  const stats = () => t.plane.dispatcher.stats();
  const startExecutor = (threads: number) => {
    const c = spawnExecutor({ ...process.env, REDIS_URL: redisUrl, DATABASE_URL: t.db.url, PICLOUD_LOG_LEVEL: 'error' }, ['--prefix', t.prefix, '--threads', String(threads), '--thread-heap-mb', '96']);
    children.push(c);
    return c;
  };
  const lanesOpen = (n: number) => waitFor(() => stats().lanes === n, 30_000, `${n} lanes open`);

  beforeAll(async () => {
    if (skip) return;
    port = await freePort();
    redisUrl = `redis://127.0.0.1:${port}`;
    redis = await startRedis(port);
    up = await startUpstream(async (_q, res) => {
      await new Promise((r) => setTimeout(r, 400));
      res.end('late');
    });
    t = await startTestPlane('bullmq', { redisUrl, spawn: 0 });
    await pushRelease(t.db.pool, { app: 'quick', scripts: { 'ok.rhai': '"ok"' }, routes: [{ path: '/ok', script: 'ok.rhai' }] });
    await pushRelease(t.db.pool, { app: 'hog', scripts: { 'long.rhai': busyScript(2500) }, routes: [{ path: '/long', script: 'long.rhai' }], limits: { timeout_ms: 20_000, max_operations: 10_000_000 } });
    await pushRelease(t.db.pool, { app: 'waits', scripts: { 'f.rhai': 'http::fetch(ctx.env.UP).body' }, routes: [{ path: '/f', script: 'f.rhai' }], env: { UP: `${up.origin}/` }, toml: `[fetch]\nallow = ["127.0.0.1:${up.port}"]\n` });
    await waitFor(() => t.plane.routes.size() === 3, 5000, 'route table');
    startExecutor(2);
    startExecutor(2);
    await lanesOpen(2);
  }, 90_000);
  afterAll(async () => {
    for (const c of children) await kill(c, 'SIGKILL');
    await t?.close().catch(() => {});
    await up?.close();
    if (redis) await stopRedis(redis);
  });

  it('should carry invocations on the lanes, none through the Redis list', async () => {
    const before = stats().direct!;
    const r = redisConnection(redisUrl);
    try {
      await r.config('RESETSTAT');
      const rs = await Promise.all(Array.from({ length: 10 }, async () => {
        const out: number[] = [];
        for (let i = 0; i < 20; i++) out.push((await timed(`${t.base}/apps/quick/ok`)).status);
        return out;
      }));
      expect(rs.flat()).toEqual(Array.from({ length: 200 }, () => 200));
      expect(stats().direct! - before).toBe(200);
      const info = await r.info('commandstats');
      expect(info).not.toMatch(/cmdstat_lpush:/);
    } finally {
      r.disconnect();
    }
  }, 60_000);

  it('should answer 502 at once for what a killed executor held, and only that', async () => {
    // two long invocations: the lanes share them out, one each
    const a = timed(`${t.base}/apps/hog/long`);
    const b = timed(`${t.base}/apps/hog/long`);
    await new Promise((r) => setTimeout(r, 400));
    const killedAt = performance.now();
    await kill(children[0]!, 'SIGKILL');
    const [ra, rb] = await Promise.all([a.then((r) => ({ ...r, at: performance.now() })), b.then((r) => ({ ...r, at: performance.now() }))]);
    const failed = [ra, rb].filter((r) => r.status !== 200);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.status).toBe(502);
    expect(failed[0]!.body).toMatch(/connection closed/);
    // the closed socket says so: no wait for the heartbeat key to lapse (5 s)
    expect(failed[0]!.at - killedAt).toBeLessThan(1000);
    expect([ra, rb].filter((r) => r.status === 200)).toHaveLength(1);
    expect(stats().lanes).toBe(1);
    expect((await timed(`${t.base}/apps/quick/ok`)).status).toBe(200);
  }, 60_000);

  it('should finish what it holds when an executor is stopped gracefully', async () => {
    startExecutor(2);
    await lanesOpen(2);
    const rs = Promise.all([timed(`${t.base}/apps/hog/long`), timed(`${t.base}/apps/hog/long`)]);
    await new Promise((r) => setTimeout(r, 400));
    await kill(children[1]!, 'SIGTERM');
    expect((await rs).map((r) => r.status)).toEqual([200, 200]);
    await lanesOpen(1);
    startExecutor(2);
    await lanesOpen(2);
  }, 60_000);

  it("should hand back, when stopped gracefully, the invocations waiting for their app's share, to run elsewhere", async () => {
    // the app may hold 1 of each executor's 2 threads; what waits for it waits aside in the executor processes
    await pushRelease(t.db.pool, { app: 'mid', scripts: { 'm.rhai': busyScript(400) }, routes: [{ path: '/m', script: 'm.rhai' }], limits: { timeout_ms: 20_000, max_operations: 10_000_000 } });
    await waitFor(() => t.plane.routes.size() === 4, 5000, 'route table');
    // both executors learn it runs long (they do not queue it on a thread behind a running one)
    expect((await Promise.all(Array.from({ length: 4 }, () => timed(`${t.base}/apps/mid/m`)))).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // 30 × 400 ms: each executor holds ~15 (~6 s, more than a stopping one waits for what it holds: 5 s)
    const rs = Promise.all(Array.from({ length: 30 }, () => timed(`${t.base}/apps/mid/m`)));
    await new Promise((r) => setTimeout(r, 600));
    await kill(children.at(-1)!, 'SIGTERM');
    const out = await rs;
    // none failed: those it had not started went to the other executor (they answered 502 after 5 s before)
    expect(out.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body}`)).toEqual([]);
    await lanesOpen(1);
    startExecutor(2);
    await lanesOpen(2);
  }, 90_000);

  it("should send to another executor, when one is killed with -9, the invocations it held unstarted for their app's share", async () => {
    // 'mid' (400 ms) may hold 1 of each executor's 2 threads. The executor started last learns first that it runs
    // long, so that it does not queue it on its thread behind a running one (what a thread was given may have run)
    expect((await Promise.all(Array.from({ length: 4 }, () => timed(`${t.base}/apps/mid/m`)))).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // 30 at once: each executor runs 1 and, once they have waited 100 ms, parks the rest with the orchestrator
    // (`P`), and claims one (`C`, `K`) before it starts it
    const before = stats().sentAgain ?? 0;
    const rs = Promise.all(Array.from({ length: 30 }, () => timed(`${t.base}/apps/mid/m`)));
    await new Promise((r) => setTimeout(r, 600));
    await kill(children.at(-1)!, 'SIGKILL');
    const out = await rs;
    const failed = out.filter((r) => r.status !== 200);
    // what it had started (its 1 running, and at most 1 claimed but not yet posted to its thread) may have run: 502;
    // the others had not started and ran on the other executor (before claims: 502, all 14)
    expect(failed.length).toBeLessThanOrEqual(2);
    for (const r of failed) expect(`${r.status} ${r.body}`).toMatch(/^502 .*connection closed/);
    expect((stats().sentAgain ?? 0) - before).toBeGreaterThanOrEqual(8);
    await lanesOpen(1);
    startExecutor(2);
    await lanesOpen(2);
  }, 90_000);

  it('should hold invocations waiting on http::fetch beyond its window: they hold no thread', async () => {
    // 2 executors × 2 threads: windows of 16 each to begin with; 60 fetches of 400 ms are all in flight at once
    up.maxInFlight = 0;
    const rs = await Promise.all(Array.from({ length: 60 }, () => timed(`${t.base}/apps/waits/f`)));
    expect(rs.map((r) => r.status)).toEqual(Array.from({ length: 60 }, () => 200));
    expect(up.maxInFlight).toBeGreaterThan(32);
  }, 60_000);

  it('should refuse a lane that does not present the token from Redis', async () => {
    const r = redisConnection(redisUrl);
    const [member] = await r.zrange(`${t.prefix}:lanes`, '0', '-1');
    r.disconnect();
    const [, address] = member!.split(' ');
    const [host, p] = address!.split(':');
    const s = net.connect({ host: host!, port: Number(p) });
    const closed = new Promise<string>((res) => {
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('close', () => res(got));
      s.on('error', () => {});
    });
    s.write('PICLOUD-LANE 1 not-the-token intruder 1000\n');
    expect(await closed).toBe('');
    expect(stats().lanes).toBe(2);
    expect((await timed(`${t.base}/apps/quick/ok`)).status).toBe(200);
  }, 30_000);

  it('should keep serving over the lanes while Redis is down, and after it is back', async () => {
    await stopRedis(redis);
    // the orchestrator's connection sees the close at once (a killed redis-server's sockets close)
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 20; i++) expect((await timed(`${t.base}/apps/quick/ok`)).body).toBe('ok');
    // and it stays ready: a load balancer must not take it out while it can serve
    expect(await t.plane.ready()).toEqual({ ok: true, problems: [] });
    redis = await startRedis(port);
    await waitFor(async () => (await t.plane.ready()).ok, 30_000, 'ready again');
    for (let i = 0; i < 20; i++) expect((await timed(`${t.base}/apps/quick/ok`)).body).toBe('ok');
  }, 60_000);

  it('should give an orchestrator that starts later lanes of its own within seconds', async () => {
    // past the executors' quick re-reads after their own start (every 2 s until their lanes opened)
    await new Promise((r) => setTimeout(r, 2500));
    const second = await startTestPlane('bullmq', { redisUrl, spawn: 0, db: t.db, prefix: t.prefix });
    try {
      // its registration is announced: the executors read it at once, not at their next look (every 30 s)
      await waitFor(() => second.plane.dispatcher.stats().lanes === 2, 2000, 'both executors dial the second orchestrator');
      await waitFor(() => second.plane.routes.size() === t.plane.routes.size(), 5000, 'route table');
      const before = second.plane.dispatcher.stats().direct!;
      for (let i = 0; i < 20; i++) expect((await timed(`${second.base}/apps/quick/ok`)).body).toBe('ok');
      expect(second.plane.dispatcher.stats().direct! - before).toBe(20);
      expect(stats().lanes).toBe(2);
    } finally {
      await second.close();
    }
    // its lanes closed with it; the first orchestrator's serve on
    for (let i = 0; i < 5; i++) expect((await timed(`${t.base}/apps/quick/ok`)).body).toBe('ok');
    expect(stats().lanes).toBe(2);
  }, 60_000);
});

describe.skipIf(skip)('an orchestrator whose lanes cannot be reached', () => {
  let t: TestPlane;
  let exec: ChildProcess;

  beforeAll(async () => {
    if (skip) return;
    // it listens on 127.0.0.1 but tells executors to dial 127.0.0.2 (loopback, where nothing listens on that port)
    t = await startTestPlane('bullmq', { spawn: 0, env: { PICLOUD_LANES: '127.0.0.1:0', PICLOUD_LANES_ADVERTISE: '127.0.0.2' } });
    await pushRelease(t.db.pool, { app: 'quick', scripts: { 'ok.rhai': '"ok"' }, routes: [{ path: '/ok', script: 'ok.rhai' }] });
    await waitFor(() => t.plane.routes.size() === 1, 5000, 'route table');
    exec = spawnExecutor({ ...process.env, REDIS_URL: TEST_REDIS_URL, DATABASE_URL: t.db.url, PICLOUD_LOG_LEVEL: 'error' }, ['--prefix', t.prefix, '--threads', '2', '--thread-heap-mb', '96']);
    await waitForExecutors(TEST_REDIS_URL, t.prefix, 1);
  }, 90_000);
  afterAll(async () => {
    if (exec) await kill(exec, 'SIGKILL');
    await t?.close();
  });

  it('should be served over the Redis lists instead', async () => {
    // the executor has tried to dial (at once: the orchestrator was registered before it started) and failed
    await new Promise((r) => setTimeout(r, 2500));
    for (let i = 0; i < 20; i++) expect((await timed(`${t.base}/apps/quick/ok`)).body).toBe('ok');
    expect(t.plane.dispatcher.stats()).toMatchObject({ lanes: 0, direct: 0, completed: 20 });
  }, 30_000);
});

describe.skipIf(skip)('an executor that holds no lane to the orchestrator', () => {
  let t: TestPlane;
  const execs: ChildProcess[] = [];
  const start = (name: string, env: NodeJS.ProcessEnv) => {
    const u = new URL(t.db.url);
    u.searchParams.set('application_name', name);
    execs.push(spawnExecutor({ ...process.env, REDIS_URL: TEST_REDIS_URL, DATABASE_URL: u.toString(), PICLOUD_LOG_LEVEL: 'error', ...env }, ['--prefix', t.prefix, '--threads', '2', '--thread-heap-mb', '96']));
  };

  beforeAll(async () => {
    if (skip) return;
    t = await startTestPlane('bullmq', { spawn: 0 });
    // which executor wrote each invocation-log row (COPY fires row triggers): test-only, on the throwaway database
    await t.db.pool.query(`
      CREATE TABLE t_writers (who text NOT NULL);
      CREATE FUNCTION t_writer() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO t_writers VALUES (current_setting('application_name')); RETURN NULL; END $$;
      CREATE TRIGGER t_writer AFTER INSERT ON invocations FOR EACH ROW EXECUTE FUNCTION t_writer();`);
    await pushRelease(t.db.pool, { app: 'hog', scripts: { 'w.rhai': busyScript(200) }, routes: [{ path: '/w', script: 'w.rhai' }], limits: { timeout_ms: 20_000, max_operations: 10_000_000 } });
    await waitFor(() => t.plane.routes.size() === 1, 5000, 'route table');
    // the lane-less one first: its blocking pop on the list is then the older one, served first (a laned executor's
    // pop, issued while it had room, may also take spilled work: it queues it behind its lane's)
    start('listed', { PICLOUD_LANES: 'off' });
    await waitForExecutors(TEST_REDIS_URL, t.prefix, 1);
    start('laned', {});
    await waitForExecutors(TEST_REDIS_URL, t.prefix, 2);
    await waitFor(() => t.plane.dispatcher.stats().lanes === 1, 30_000, 'one lane');
    // the orchestrator reads who holds no lane every 10 s
    await waitFor(() => t.plane.dispatcher.stats().without === 1, 20_000, 'the other executor known to hold none');
  }, 90_000);
  afterAll(async () => {
    for (const c of execs) await kill(c, 'SIGKILL');
    await t?.close();
  });

  it('should get the work that waits for a lane, over the Redis lists', async () => {
    // one app holds 1 of an executor's 2 threads: 24 invocations of 200 ms are a backlog for the laned one alone
    const rs = await Promise.all(Array.from({ length: 24 }, () => timed(`${t.base}/apps/hog/w`)));
    expect(rs.map((r) => r.status)).toEqual(Array.from({ length: 24 }, () => 200));
    expect(t.plane.dispatcher.stats().spilledToLists).toBeGreaterThan(0);
    await waitFor(async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM t_writers`)).rows[0].n >= 24, 10_000, 'log rows');
    const { rows } = await t.db.pool.query<{ who: string; n: number }>(`SELECT who, count(*)::int AS n FROM t_writers GROUP BY who`);
    const by = Object.fromEntries(rows.map((r) => [r.who, r.n]));
    expect(by, JSON.stringify(by)).toHaveProperty("laned");
    expect(by.laned).toBeGreaterThan(0);
    expect(by, JSON.stringify(by)).toHaveProperty("listed");
    expect(by.listed).toBeGreaterThan(0);
  }, 60_000);
});
