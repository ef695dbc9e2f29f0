/**
 * A schedule tick that runs longer than its BullMQ lock keeps the lock and runs once (queue/bullmq.ts): the tick
 * worker renews the lock itself while a tick runs (BullMQ's own renewal timer, which fires every few seconds on an
 * idle executor too, is off). The worker runs against the real Redis and BullMQ with a 1 s lock and a 0.5 s stalled
 * check, so a tick of 3.5 s outlives its lock three times over: without the renewal the stalled check moves it back
 * to wait and it runs again. The tick's work is the test's own function (what the executor pool would run), since
 * what is tested is the lock protocol, not the script.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_APP_LIMITS, PLATFORM_LIMITS } from '../../src/common/config.ts';
import { createLogger } from '../../src/common/log.ts';
import { createScheduleQueue, startTickWorker, type TickData } from '../../src/queue/bullmq.ts';
import type { InvocationJob, InvocationResult } from '../../src/queue/jobs.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';

const TICK_MS = 3500;

describe('a schedule tick longer than its BullMQ lock', () => {
  const prefix = `picloud-test-lock-${randomBytes(4).toString('hex')}`;
  const log = createLogger('error');
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('keeps its lock while it runs and runs once', async () => {
    const runs: string[] = [];
    const run = async (job: InvocationJob): Promise<InvocationResult> => {
      runs.push(job.id);
      await new Promise((res) => setTimeout(res, TICK_MS));
      return { status: 200, headers: {}, body: '', durationMs: TICK_MS, operations: 0, cold: false, logs: [], error: null };
    };
    const q = await createScheduleQueue({ redisUrl: TEST_REDIS_URL, prefix, log });
    closers.push(async () => {
      await q.queue.obliterate({ force: true });
      await q.close();
    });
    const w = await startTickWorker({ redisUrl: TEST_REDIS_URL, prefix, log, concurrency: 2, run, lockMs: 1000, stalledMs: 500 });
    closers.push(() => w.close());
    const due = Date.now();
    const data: TickData = { type: 'tick', target: { appId: 0, app: 'lock-test', branch: 'main', releaseId: 0, version: 1, scriptPath: 'tick.rhai', scriptHash: '', fn: null, env: {}, limits: { ...PLATFORM_LIMITS, ...DEFAULT_APP_LIMITS } }, cron: '0 0 1 1 *', overlap: true };
    const job = await q.queue.add('schedule', data, { jobId: `repeat:lock-test:${due}` });
    // the tick's run, then as long again: a stalled re-run would have started within a second of the lock's end
    await new Promise((res) => setTimeout(res, TICK_MS * 2));
    expect(runs, 'runs of the one tick').toEqual([`${job.id}@${due}`]);
    // completed (and removed, as the worker's removeOnComplete says), not failed, nothing left to run
    expect(await q.queue.getJobCounts('active', 'wait', 'delayed', 'failed')).toEqual({ active: 0, wait: 0, delayed: 0, failed: 0 });
  }, 20_000);
});
