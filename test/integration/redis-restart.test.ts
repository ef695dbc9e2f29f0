/**
 * Redis mode without direct lanes (PICLOUD_LANES=off) survives a Redis restart: while Redis is down, requests get a prompt JSON error (no hang, no
 * crash) and an invocation caught in flight is answered by its deadline; once Redis is back (EMPTY: `--save ''`),
 * the live release serves again and the schedules fire again without restarting anything. Runs its own
 * redis-server on a free port, so the machine's Redis is never touched.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { missing } from '../helpers/needs.ts';
import { freePort } from '../helpers/ports.ts';
import { haveRedisServer, startRedis, stopRedis } from '../helpers/private-redis.ts';

const skip = missing('redis-server', haveRedisServer, 'apt-get install -y redis-server');

describe.skipIf(skip)('BullMQ mode across a Redis restart', () => {
  let port: number;
  let redis: ChildProcess;
  let t: TestPlane;

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    // the Redis-list path (with lanes open the HTTP path does not need Redis: lanes.test.ts)
    t = await startTestPlane('bullmq', { redisUrl: `redis://127.0.0.1:${port}`, env: { PICLOUD_LANES: 'off' } });
    await pushRelease(t.db.pool, { app: 'steady', scripts: { 'a.rhai': '"still here"' }, routes: [{ path: '/a', script: 'a.rhai' }], limits: { timeout_ms: 2000 } });
    await pushRelease(t.db.pool, { app: 'ticker', scripts: { 'tick.rhai': 'kv::set("last", ctx.scheduled_at);' }, schedules: [{ cron: '* * * * * *', script: 'tick.rhai' }] });
    await waitFor(() => t.plane.routes.size() === 2, 5000, 'route table');
  });

  const lastTick = async (): Promise<number> => {
    const { rows } = await t.db.pool.query(`SELECT k.value FROM kv k JOIN apps a ON a.id = k.app_id WHERE a.name = 'ticker' AND k.key = 'last'`);
    return rows.length ? Number(rows[0].value) : 0;
  };

  afterAll(async () => {
    await t?.close().catch(() => {});
    if (redis) await stopRedis(redis);
  });

  it('should answer promptly with a JSON error while Redis is down, and serve again once it is back', async () => {
    const url = `${t.base}/apps/steady/a`;
    await waitFor(async () => (await fetch(url)).status === 200, 20_000, 'first answer');
    expect(await (await fetch(url)).text()).toBe('still here');
    await waitFor(async () => (await lastTick()) > 0, 15_000, 'first schedule tick');

    // freeze Redis so an invocation is accepted but never answered, then kill it under that invocation
    redis.kill('SIGSTOP');
    const inFlightStarted = Date.now();
    const inFlight = fetch(url).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: string }, ms: Date.now() - inFlightStarted }));
    await new Promise((r) => setTimeout(r, 300));
    await stopRedis(redis);

    const started = Date.now();
    const r = await fetch(url);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect([502, 503, 504]).toContain(r.status);
    const body = (await r.json()) as { error: string; code: string };
    expect(body.error).toEqual(expect.any(String));
    expect(body.code).toBe('QUEUE_UNAVAILABLE');
    // readiness says so (a load balancer's health check takes the node out)
    expect(await t.plane.ready()).toEqual({ ok: false, problems: ['redis unavailable'] });

    // the stranded invocation is answered at its deadline (timeout_ms 2000 + the dispatcher's grace), not never
    const f = await inFlight;
    expect([502, 503, 504]).toContain(f.status);
    expect(f.body.error).toEqual(expect.any(String));
    expect(f.ms).toBeLessThan(12_000);

    const restartedAt = Date.now();
    redis = await startRedis(port);
    await waitFor(async () => (await fetch(url)).status === 200, 30_000, 'serving again after the Redis restart');
    expect(await t.plane.ready()).toEqual({ ok: true, problems: [] });
    expect(await (await fetch(url)).text()).toBe('still here');
    // the job schedulers were lost with the data; the plane re-created them
    await waitFor(async () => (await lastTick()) > restartedAt, 30_000, 'a schedule tick after the Redis restart');
  }, 90_000);

  it('should shut the plane and its executors down promptly while Redis is down', async () => {
    await stopRedis(redis);
    const started = Date.now();
    const plane = t;
    t = undefined as unknown as TestPlane; // closed here, not in afterAll
    await plane.close();
    // executors get SIGTERM and are SIGKILLed only after 8 s: well under that means they stopped by themselves
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 30_000);
});
