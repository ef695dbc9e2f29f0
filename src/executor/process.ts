/**
 * An executor process (Redis mode): a worker-thread pool fed by the HTTP invocation lists (redis-lists.ts) and by a
 * BullMQ Worker for durable work (schedule ticks). `picloud executor` runs one anywhere; `picloud up --executors N`
 * (with REDIS_URL) spawns N of them.
 */
import type { Logger } from '../common/log.ts';
import type { Pool } from '../db/pool.ts';
import { startBullmqWorker } from '../queue/bullmq.ts';
import { startListWorker } from '../queue/redis-lists.ts';
import { ExecutorPool } from './pool.ts';

export interface ExecutorProcessOptions {
  pool: Pool;
  log: Logger;
  redisUrl: string;
  prefix?: string;
  threads: number;
  /**
   * BullMQ jobs taken at once (queued in the thread pool; default max(2, threads)). A job is a batch of
   * invocations, so two keep the threads busy while the next is fetched; more only added Redis round trips.
   */
  concurrency?: number;
  /** V8 heap cap per thread (MB) */
  threadHeapMb?: number;
  /** fair share (pool.ts): threads one app may hold (default threads − 1) and its wait queue */
  appShare?: number;
  appQueue?: number;
}

/** Start the thread pool, then the BullMQ worker; returns a closer. */
export async function startExecutorProcess(o: ExecutorProcessOptions): Promise<{ close(): Promise<void>; pool: ExecutorPool }> {
  const pool = new ExecutorPool({ pool: o.pool, log: o.log.child({ component: 'executor' }), threads: o.threads, maxHeapMb: o.threadHeapMb, appShare: o.appShare, appQueue: o.appQueue });
  await pool.start();
  const worker = await startBullmqWorker({
    redisUrl: o.redisUrl,
    prefix: o.prefix,
    log: o.log,
    concurrency: o.concurrency ?? Math.max(2, o.threads),
    run: (job) => pool.run(job),
    record: (row) => pool.invocationLog?.add(row),
  });
  // HTTP invocations: plain Redis lists; room for a few per thread so each thread has its next one at hand
  const lists = await startListWorker({ redisUrl: o.redisUrl, prefix: o.prefix, log: o.log, capacity: o.threads * 4, run: (job) => pool.run(job) });
  return {
    pool,
    async close() {
      await lists.close();
      await worker.close();
      await pool.close();
    },
  };
}
