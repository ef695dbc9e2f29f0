/**
 * A node (an orchestrator with its own executor threads, `picloud orchestrator --executors N`): invocations go to its
 * threads first and spill over to the Redis executor processes only when those threads are saturated.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnExecutor } from '../../src/orchestrator/index.ts';
import { redisConnection } from '../../src/queue/redis-util.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { busyScript } from '../helpers/load.ts';


async function status(url: string): Promise<number> {
  const r = await fetch(url);
  await r.text();
  return r.status;
}

describe('a node: its own executor threads first, Redis for overflow', () => {
  let t: TestPlane;
  let child: ChildProcess | null = null;

  beforeAll(async () => {
    t = await startTestPlane('bullmq', { spawn: 0, localThreads: 2 });
    // the Redis executor starts meanwhile (seconds on a busy machine)
    child = spawnExecutor({ ...process.env, REDIS_URL: TEST_REDIS_URL, DATABASE_URL: t.db.url, PICLOUD_LOG_LEVEL: 'error' }, ['--prefix', t.prefix, '--threads', '3']);
    await pushRelease(t.db.pool, { app: 'busy', scripts: { 'slow.rhai': busyScript(300), 'ok.rhai': '"ok"' }, routes: [{ path: '/slow', script: 'slow.rhai' }, { path: '/ok', script: 'ok.rhai' }], limits: { timeout_ms: 10_000, max_operations: 10_000_000 } });
    await waitFor(() => t.plane.routes.size() === 1, 5000, 'route table');
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const c = child;
      await new Promise<void>((res) => {
        c.once('exit', () => res());
        c.kill('SIGKILL');
      });
    }
    await t?.close();
  });

  it('should serve from its own threads without Redis executors, and spill over only when they are saturated', async () => {
    for (let i = 0; i < 5; i++) expect(await status(`${t.base}/apps/busy/ok`)).toBe(200);
    expect(t.plane.stats()).toMatchObject({ mode: 'node', dispatch: { spilled: 0 } });
    const r = redisConnection(TEST_REDIS_URL);
    try {
      await waitFor(async () => (await r.keys(`${t.prefix}:exec:*`)).length >= 1, 60_000, 'executor heartbeat');
    } finally {
      r.disconnect();
    }
    // 2 local threads, share 1 for the app, 8 pipelined on it: 20 slow ones overflow to the executor process
    const rs = await Promise.all(Array.from({ length: 20 }, () => status(`${t.base}/apps/busy/slow`)));
    expect(rs.every((s) => s === 200)).toBe(true);
    const spilled = (t.plane.stats() as { dispatch: { spilled: number } }).dispatch.spilled;
    expect(spilled).toBeGreaterThan(0);
    expect(spilled).toBeLessThan(20);
  }, 90_000);
});
