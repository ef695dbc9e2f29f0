/**
 * The HTTP path over plain Redis lists alone (src/queue/redis-lists.ts, PICLOUD_LANES=off: the direct lanes' fallback)
 * with real executor processes: fair share inside an
 * executor process, a dead executor noticed before the deadline (502), an invocation whose deadline has passed
 * dropped by the executor that takes it late (never run), invocations waiting on I/O held beyond the executor's
 * capacity (they hold no thread), and what a killed executor held unstarted sent to another one (claims through park
 * keys). A node's own threads: node-dispatch.test.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnExecutor } from '../../src/orchestrator/index.ts';
import { redisConnection } from '../../src/queue/redis-util.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { busyScript, median, quickWhileBusy, timed } from '../helpers/load.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';



function startExecutor(t: TestPlane, threads: number): ChildProcess {
  const env = { ...process.env, REDIS_URL: TEST_REDIS_URL, DATABASE_URL: t.db.url, PICLOUD_LOG_LEVEL: 'error' };
  return spawnExecutor(env, ['--prefix', t.prefix, '--threads', String(threads), '--thread-heap-mb', '96']);
}

async function executorsUp(t: TestPlane, n: number): Promise<void> {
  const r = redisConnection(TEST_REDIS_URL);
  try {
    await waitFor(async () => (await r.keys(`${t.prefix}:exec:*`)).length >= n, 60_000, 'executor heartbeat');
  } finally {
    r.disconnect();
  }
}

function kill(c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((res) => {
    if (c.exitCode !== null || c.signalCode !== null) return res();
    c.once('exit', () => res());
    c.kill(signal);
  });
}

describe('HTTP invocations over Redis lists', () => {
  let t: TestPlane;
  let up: Upstream;
  const children: ChildProcess[] = [];
  /** park keys that still hold an executor's id (an orchestrator's `taken-back` marks, kept 5 min, do not count) */
  const parkKeys = async () => {
    const r = redisConnection(TEST_REDIS_URL);
    try {
      const keys = await r.keys(`${t.prefix}:park:*`);
      const vals = keys.length ? await r.mget(...keys) : [];
      return keys.filter((_, i) => vals[i] !== 'taken-back');
    } finally {
      r.disconnect();
    }
  };

  beforeAll(async () => {
    up = await startUpstream(async (_q, res) => {
      await new Promise((r) => setTimeout(r, 500));
      res.end('late');
    });
    // the lists alone (the lanes' fallback path; lanes: lanes.test.ts)
    t = await startTestPlane('bullmq', { spawn: 0, env: { PICLOUD_LANES: 'off' } });
    await pushRelease(t.db.pool, { app: 'waits', scripts: { 'f.rhai': 'http::fetch(ctx.env.UP).body' }, routes: [{ path: '/f', script: 'f.rhai' }], env: { UP: `${up.origin}/` }, toml: `[fetch]\nallow = ["127.0.0.1:${up.port}"]\n` });
    await pushRelease(t.db.pool, { app: 'hog', scripts: { 'slow.rhai': busyScript(1200), 'long.rhai': busyScript(4000) }, routes: [{ path: '/slow', script: 'slow.rhai' }, { path: '/long', script: 'long.rhai' }], limits: { timeout_ms: 20_000, max_operations: 10_000_000 } });
    await pushRelease(t.db.pool, { app: 'quick', scripts: { 'ok.rhai': '"ok"', 'mark.rhai': 'kv::set("ran", true); "ran"' }, routes: [{ path: '/ok', script: 'ok.rhai' }, { path: '/mark', script: 'mark.rhai' }], limits: { timeout_ms: 300 } });
    await waitFor(() => t.plane.routes.size() === 3, 5000, 'route table');
    expect(await t.plane.ready()).toEqual({ ok: true, problems: [] });
  });
  afterAll(async () => {
    for (const c of children) await kill(c, 'SIGKILL');
    await t?.close();
    await up?.close();
  });

  it('should drop an invocation whose deadline passed before an executor took it, never running it', async () => {
    // no executor yet: the orchestrator answers 503 at its deadline (timeout_ms 300 + 5 s grace)
    const r = await timed(`${t.base}/apps/quick/mark`);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'NO_CAPACITY' });
    expect(r.ms).toBeGreaterThan(5000);
    // an executor that starts now finds the stale invocation in the list and drops it
    children.push(startExecutor(t, 3));
    await executorsUp(t, 1);
    const redis = redisConnection(TEST_REDIS_URL);
    try {
      await waitFor(async () => (await redis.llen(`${t.prefix}:http`)) === 0, 10_000, 'list drained');
    } finally {
      redis.disconnect();
    }
    expect((await timed(`${t.base}/apps/quick/ok`)).status).toBe(200);
    const { rows } = await t.db.pool.query(`SELECT count(*)::int AS n FROM kv WHERE key = 'ran'`);
    expect(rows[0].n).toBe(0);
  }, 60_000);

  it('should answer another app fast while one app saturates its share of an executor process', async () => {
    const { quick, hog } = await quickWhileBusy(`${t.base}/apps/hog/slow`, 6, `${t.base}/apps/quick/ok`, 5, 200);
    expect(median(quick)).toBeLessThan(250);
    expect(Math.max(...quick)).toBeLessThan(1000);
    expect((await hog).map((h) => h.status)).toEqual([200, 200, 200, 200, 200, 200]);
  }, 60_000);

  it('should answer 502 soon after the executor running an invocation is killed, and keep serving', async () => {
    const victim = children[0]!;
    const started = performance.now();
    const long = timed(`${t.base}/apps/hog/long`);
    await new Promise((r) => setTimeout(r, 500));
    children.push(startExecutor(t, 2));
    await kill(victim, 'SIGKILL');
    const r = await long;
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/executor/);
    // noticed by the heartbeat (5 s TTL), long before the deadline (20 s + grace)
    expect(performance.now() - started).toBeLessThan(12_000);
    await executorsUp(t, 1);
    expect((await timed(`${t.base}/apps/quick/ok`)).status).toBe(200);
  }, 60_000);

  it('should take invocations waiting on http::fetch beyond its capacity: they hold no thread', async () => {
    // the executor left running has 2 threads: room for 8 active invocations; 40 waiting ones are all held at once
    await executorsUp(t, 1);
    const rs = await Promise.all(Array.from({ length: 40 }, () => timed(`${t.base}/apps/waits/f`)));
    expect(rs.map((r) => r.status)).toEqual(Array.from({ length: 40 }, () => 200));
    expect(up.maxInFlight).toBeGreaterThan(8);
  }, 60_000);

  it("should send to another executor, when one is killed with -9, the invocations it held unstarted for their app's share", async () => {
    await pushRelease(t.db.pool, { app: 'mid', scripts: { 'm.rhai': busyScript(300) }, routes: [{ path: '/m/:n', script: 'm.rhai' }], limits: { timeout_ms: 20_000, max_operations: 10_000_000 } });
    await waitFor(() => t.plane.routes.size() === 4, 5000, 'route table');
    // the one executor left learns that it runs long (it does not queue it on a thread behind a running one)
    expect((await Promise.all(Array.from({ length: 4 }, (_, i) => timed(`${t.base}/apps/mid/m/w${i}`)))).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const before = t.plane.dispatcher.stats().sentAgain ?? 0;
    // 30 at once, all taken by that executor: it runs 2 and, once they have waited 100 ms, parks the rest (a park key
    // each) and claims each one (deletes its key) before it starts it
    const rs = Promise.all(Array.from({ length: 30 }, (_, i) => timed(`${t.base}/apps/mid/m/${i}`)));
    await new Promise((r) => setTimeout(r, 600));
    const victim = children.at(-1)!;
    children.push(startExecutor(t, 2));
    await kill(victim, 'SIGKILL');
    const out = await rs;
    const failed = out.filter((r) => r.status !== 200);
    // what it had started (2 running, at most 1 claimed but not yet posted to its thread) may have run: 502; once its
    // heartbeat lapsed, the others went to the new executor (before claims on the lists: 502, all ~25)
    expect(failed.length).toBeLessThanOrEqual(3);
    for (const r of failed) expect(`${r.status} ${r.body}`).toMatch(/^502 .*stopped answering/);
    expect((t.plane.dispatcher.stats().sentAgain ?? 0) - before).toBeGreaterThanOrEqual(15);
    // nothing ran twice: at most one invocation per request path in the log (flushed every ~100 ms)
    await new Promise((r) => setTimeout(r, 500));
    const { rows } = await t.db.pool.query(`SELECT i.path, count(*)::int AS n FROM invocations i JOIN apps a ON a.id = i.app_id WHERE a.name = 'mid' GROUP BY i.path`);
    expect(rows.length).toBeGreaterThanOrEqual(30 - failed.length);
    expect(rows.filter((r) => r.n > 1)).toEqual([]);
    // no park key holds an executor's id: swapped by the orchestrator (sent again) or taken by a claim
    expect(await parkKeys()).toEqual([]);
  }, 90_000);

  it("should hand back, when stopped gracefully, the invocations waiting for their app's share, and leave no park key", async () => {
    // 30 at once, all taken by the one executor, which parks those waiting; stopped at 600 ms, it finishes what it
    // runs and hands back the rest unrun (deleting their park keys: a stale one would let its orchestrator take a
    // later run of that invocation, on an executor that dies, for one that never started)
    const rs = Promise.all(Array.from({ length: 30 }, (_, i) => timed(`${t.base}/apps/mid/m/g${i}`)));
    await new Promise((r) => setTimeout(r, 600));
    const stopping = children.at(-1)!;
    children.push(startExecutor(t, 2));
    await kill(stopping, 'SIGTERM');
    const out = await rs;
    expect(out.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body}`)).toEqual([]);
    expect(await parkKeys()).toEqual([]);
  }, 90_000);
});
