/**
 * Schedules in both modes: a 6-field (seconds) cron fires every second, each tick exactly once (counted per
 * scheduled_at in KV), none missed, and a new release replaces the schedules at once; with BullMQ, ticks that fall
 * due while the only executor restarts are run when it is back.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnExecutor } from '../../src/orchestrator/index.ts';
import { exited } from '../helpers/crash.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { startTestPlane, waitForExecutors, type Mode, type TestPlane } from '../helpers/plane.ts';
import { createScheduleQueue } from '../../src/queue/bullmq.ts';
import { silentLogger } from '../../src/common/log.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

const TICK = `
let k = "tick:" + ctx.scheduled_at;
let c = kv::get(k);
kv::set(k, if c == () { 1 } else { c + 1 });
kv::set("meta", #{ trigger: ctx.trigger, cron: ctx.cron, release: ctx.release, scheduled_at: ctx.scheduled_at });
`;

for (const mode of ['embedded', 'bullmq'] as Mode[]) {
  describe(`schedules (${mode})`, () => {
    let t: TestPlane;
    beforeAll(async () => {
      t = await startTestPlane(mode);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('should skip (and record) the ticks due while a 2-second run is still running, never running two at once', async () => {
      const SLOW = `
        let t0 = now();
        while now() - t0 < 2000 { kv::get("x"); }
        kv::set("slow:" + ctx.scheduled_at, [t0, now()]);`;
      const { appId } = await pushRelease(t.db.pool, {
        app: 'slowpoke', scripts: { 'slow.rhai': SLOW }, schedules: [{ cron: '* * * * * *', script: 'slow.rhai' }], limits: { timeout_ms: 10_000 },
      });
      const skipped = async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM invocations WHERE app_id = $1 AND trigger = 'schedule' AND status = 409 AND error LIKE 'skipped:%'`, [appId])).rows[0].n as number;
      await waitFor(async () => (await skipped()) >= 3, 30_000, 'three skipped ticks');
      await pushRelease(t.db.pool, { app: 'slowpoke', scripts: { 'slow.rhai': SLOW }, schedules: [] });
      await new Promise((r) => setTimeout(r, 2_500));
      const { rows } = await t.db.pool.query<{ value: [number, number] }>(`SELECT value FROM kv WHERE app_id = $1 AND key LIKE 'slow:%'`, [appId]);
      const runs = rows.map((r) => r.value).sort((a, b) => a[0] - b[0]);
      expect(runs.length).toBeGreaterThanOrEqual(1);
      for (let i = 1; i < runs.length; i++) expect(runs[i]![0], 'a run started before the previous one ended').toBeGreaterThanOrEqual(runs[i - 1]![1]);
    });

    it('should fire a seconds cron every second for 5 s with no double and no missed runs', async () => {
      const { appId } = await pushRelease(t.db.pool, {
        app: 'ticker', scripts: { 'tick.rhai': TICK }, schedules: [{ cron: '* * * * * *', script: 'tick.rhai' }],
      });
      // first tick observed → count the following 5 s
      await waitFor(async () => (await t.db.pool.query(`SELECT 1 FROM kv WHERE app_id = $1 AND key LIKE 'tick:%'`, [appId])).rows.length > 0, 30_000, 'first tick');
      await new Promise((r) => setTimeout(r, 5_300));
      // stop: a release without schedules replaces them
      await pushRelease(t.db.pool, { app: 'ticker', scripts: { 'tick.rhai': TICK }, schedules: [] });
      await new Promise((r) => setTimeout(r, 1_500));
      const { rows } = await t.db.pool.query<{ key: string; value: number }>(
        `SELECT key, value FROM kv WHERE app_id = $1 AND key LIKE 'tick:%' ORDER BY key`, [appId]);
      const ticks = rows.map((r) => Number(r.key.slice(5))).sort((a, b) => a - b);
      expect(rows.every((r) => r.value === 1), `doubles: ${JSON.stringify(rows)}`).toBe(true);
      expect(ticks.length).toBeGreaterThanOrEqual(6);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!, `gap after ${ticks[i - 1]}`).toBe(1000);
      const meta = (await t.db.pool.query(`SELECT value FROM kv WHERE app_id = $1 AND key = 'meta'`, [appId])).rows[0].value;
      expect(meta).toMatchObject({ trigger: 'schedule', cron: '* * * * * *', release: 1 });
      // replaced: no tick after the switch settled
      const before = ticks.length;
      await new Promise((r) => setTimeout(r, 1_500));
      const after = (await t.db.pool.query(`SELECT count(*)::int AS n FROM kv WHERE app_id = $1 AND key LIKE 'tick:%'`, [appId])).rows[0].n;
      expect(after).toBe(before);
      // the ticks are in the invocation log
      await waitFor(async () => (await t.db.pool.query(`SELECT 1 FROM invocations WHERE app_id = $1 AND trigger = 'schedule'`, [appId])).rows.length >= before, 3000, 'log rows');
    });
  });
}

describe('schedules (bullmq) across an executor restart', () => {
  let t: TestPlane;
  beforeAll(async () => {
    t = await startTestPlane('bullmq', { spawn: 0 });
  });
  afterAll(async () => {
    await t?.close();
  });

  const stop = async (c: ChildProcess) => {
    c.kill('SIGTERM');
    await exited(c);
  };
  /** one executor process of this plane, one thread */
  const spawnOne = () => spawnExecutor({ ...process.env, DATABASE_URL: t.db.url, REDIS_URL: TEST_REDIS_URL, PICLOUD_LOG_LEVEL: 'warn' }, ['--prefix', t.prefix, '--threads', '1']);

  it('should start an executor\'s BullMQ worker only once a live release runs a schedule', async () => {
    const ex = spawnOne();
    const q = await createScheduleQueue({ redisUrl: TEST_REDIS_URL, prefix: t.prefix, log: silentLogger });
    try {
      await waitForExecutors(TEST_REDIS_URL, t.prefix, 1);
      await pushRelease(t.db.pool, { app: 'routes-only', scripts: { 'hi.rhai': '"hi"' }, routes: [{ path: '/', script: 'hi.rhai' }] });
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await q.queue.getWorkersCount(), 'BullMQ workers while no release has a schedule').toBe(0);
      const { appId } = await pushRelease(t.db.pool, { app: 'ticker-late', scripts: { 'tick.rhai': TICK }, schedules: [{ cron: '* * * * * *', script: 'tick.rhai' }] });
      const count = async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM kv WHERE app_id = $1 AND key LIKE 'tick:%'`, [appId])).rows[0].n as number;
      await waitFor(async () => (await count()) >= 2, 20_000, 'two ticks once the schedule is live');
      expect(await q.queue.getWorkersCount()).toBe(1);
      await pushRelease(t.db.pool, { app: 'ticker-late', scripts: { 'tick.rhai': TICK }, schedules: [] });
    } finally {
      await q.close();
      await stop(ex);
    }
  });

  it('should not lose the ticks that fall due while the only executor restarts', async () => {
    let ex = spawnOne();
    try {
      // TICK, and each run's [start, end] (to tell a recorded skip of a live run from a lost tick)
      const RTICK = `let t0 = now();${TICK}kv::set("end:" + ctx.scheduled_at, [t0, now()]);`;
      const { appId } = await pushRelease(t.db.pool, {
        app: 'ticker', scripts: { 'tick.rhai': RTICK }, schedules: [{ cron: '* * * * * *', script: 'tick.rhai' }],
      });
      const count = async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM kv WHERE app_id = $1 AND key LIKE 'tick:%'`, [appId])).rows[0].n as number;
      await waitFor(async () => (await count()) >= 2, 30_000, 'two ticks');
      await stop(ex);
      await new Promise((r) => setTimeout(r, 2_500)); // two or three ticks fall due with no executor
      ex = spawnOne();
      const n = await count();
      await waitFor(async () => (await count()) >= n + 5, 30_000, 'ticks after the restart');
      await pushRelease(t.db.pool, { app: 'ticker', scripts: { 'tick.rhai': RTICK }, schedules: [] });
      await new Promise((r) => setTimeout(r, 1_500));
      const { rows } = await t.db.pool.query<{ key: string; value: number }>(
        `SELECT key, value FROM kv WHERE app_id = $1 AND key LIKE 'tick:%'`, [appId]);
      const ticks = rows.map((r) => Number(r.key.slice(5))).sort((a, b) => a - b);
      expect(rows.every((r) => r.value === 1), `doubles: ${JSON.stringify(rows)}`).toBe(true);
      // every second has a run, or a recorded skip (overlap = false) made while a live run held the lock: on a loaded
      // machine the first run of a new executor (thread, connections) can outlast a second (as in schedules-kill)
      const runs = (await t.db.pool.query<{ value: [number, number] }>(`SELECT value FROM kv WHERE app_id = $1 AND key LIKE 'end:%'`, [appId])).rows.map((r) => r.value);
      const skips = (await t.db.pool.query<{ at: string }>(`SELECT (extract(epoch FROM created_at) * 1000)::bigint::text AS at FROM invocations WHERE app_id = $1 AND status = 409`, [appId])).rows.map((r) => Number(r.at));
      const unexplained = skips.filter((x) => !runs.some(([t0, t1]) => x >= t0 - 100 && x <= t1 + 500));
      expect(unexplained, 'ticks skipped while no live run held the lock').toEqual([]);
      const lost: number[] = [];
      for (let at = ticks[0]!; at <= ticks[ticks.length - 1]!; at += 1000) if (!ticks.includes(at)) lost.push(at);
      expect(lost.length, `ticks with no run (${lost.join(', ')}) beyond the recorded skips of a live run`).toBeLessThanOrEqual(skips.length);
    } finally {
      await stop(ex);
    }
  });
});
