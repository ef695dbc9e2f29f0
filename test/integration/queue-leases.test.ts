/**
 * Jobs run by executor processes (Redis mode, executor/process.ts): a try's lease is 15 s, renewed every 5 s while
 * it runs, so a job that runs longer than the lease (20 s here) is neither taken back nor run twice, and its lease
 * moves forward while it runs. (A dead executor's jobs coming back within ~20 s: queues-crash.test.ts.)
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnExecutor } from '../../src/orchestrator/index.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

describe('job leases of executor processes', () => {
  let t: TestPlane;
  const executors: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of executors) c.kill('SIGKILL');
    await t?.close();
  });

  it('should renew the lease of a job running longer than it, and run the job once', async () => {
    t = await startTestPlane('bullmq', { spawn: 0 });
    const env = { ...process.env, DATABASE_URL: t.db.url, REDIS_URL: TEST_REDIS_URL, PICLOUD_LOG_LEVEL: 'warn' };
    for (let i = 0; i < 2; i++) executors.push(spawnExecutor(env, ['--prefix', t.prefix, '--threads', '2']));
    const { appId } = await pushRelease(t.db.pool, {
      app: 'longjob',
      scripts: {
        'send.rhai': 'queue::send("long", 1)',
        'ping.rhai': '"pong"',
        // ~20 s without burning the thread: kv round trips
        'long.rhai': `
          kv::set("start:" + ctx.attempt, now());
          let t0 = now();
          while now() - t0 < 20000 { kv::get("x"); }
          kv::set("end:" + ctx.attempt, now());`,
      },
      routes: [{ path: '/send', method: 'POST', script: 'send.rhai' }, { path: '/ping', script: 'ping.rhai' }],
      queues: [{ name: 'long', script: 'long.rhai', attempts: 3, backoffMs: 100 }],
      limits: { timeout_ms: 30_000, max_operations: 10_000_000 },
    });
    await waitFor(async () => (await fetch(`${t.base}/apps/longjob/ping`).catch(() => null))?.status === 200, 60_000, 'executors up');
    const r = await fetch(`${t.base}/apps/longjob/send`, { method: 'POST' });
    expect(r.status).toBe(200);
    const id = (await r.json()) as string;
    const lease = async () => (await t.db.pool.query<{ ms: string | null }>(`SELECT (extract(epoch FROM lease_until) * 1000)::bigint::text AS ms FROM jobs WHERE id = $1 AND state = 'running'`, [id])).rows[0]?.ms;
    await waitFor(async () => (await lease()) != null, 10_000, 'the job running');
    const first = Number(await lease());
    await new Promise((res) => setTimeout(res, 7000));
    const later = Number(await lease());
    expect(later - first, 'the lease moves forward while the job runs').toBeGreaterThan(4000);
    await waitFor(async () => (await t.db.pool.query(`SELECT state FROM jobs WHERE id = $1`, [id])).rows[0]?.state === 'done', 40_000, 'the job done');
    const { rows } = await t.db.pool.query<{ attempts: number }>(`SELECT attempts FROM jobs WHERE id = $1`, [id]);
    expect(rows[0]!.attempts).toBe(1);
    const keys = (await t.db.pool.query<{ key: string }>(`SELECT key FROM kv WHERE app_id = $1 AND key LIKE 'start:%' ORDER BY key`, [appId])).rows.map((x) => x.key);
    expect(keys).toEqual(['start:1']);
  }, 90_000);
});
