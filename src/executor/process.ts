/**
 * An executor process (Redis mode): a worker-thread pool fed by the HTTP invocation lists (redis-lists.ts) and by a
 * BullMQ Worker for durable work (schedule ticks). `picloud executor` runs one anywhere; `picloud up --executors N`
 * (with REDIS_URL) spawns N of them.
 */
import type { Logger } from '../common/log.ts';
import type { Pool } from '../db/pool.ts';
import { startTickWorker } from '../queue/bullmq.ts';
import { startListWorker, type ListWorker } from '../queue/redis-lists.ts';
import { within } from '../queue/redis-util.ts';
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

/** invocations one thread of an executor process holds at once from the HTTP list, waiting ones included */
const MAX_HELD_PER_THREAD = 256;

export interface ExecutorProcess {
  pool: ExecutorPool;
  /** readiness: the database and Redis answer, a thread is ready, the preload listener is connected */
  ready(): Promise<{ ok: boolean; problems: string[] }>;
  stats(): Record<string, unknown>;
  close(): Promise<void>;
}

/** Start the thread pool, then the BullMQ worker and the HTTP list worker. */
export async function startExecutorProcess(o: ExecutorProcessOptions): Promise<ExecutorProcess> {
  let lists: ListWorker | null = null;
  const pool = new ExecutorPool({
    pool: o.pool, log: o.log.child({ component: 'executor' }), threads: o.threads, maxHeapMb: o.threadHeapMb, appShare: o.appShare, appQueue: o.appQueue,
    onSuspend: () => lists?.room(),
  });
  await pool.start();
  const worker = await startTickWorker({
    redisUrl: o.redisUrl,
    prefix: o.prefix,
    log: o.log,
    concurrency: o.concurrency ?? Math.max(2, o.threads),
    run: (job) => pool.run(job),
    record: (row) => pool.invocationLog?.add(row),
  });
  // HTTP invocations: plain Redis lists; room for a few active ones per thread so each thread has its next one at
  // hand, and for any number waiting on I/O (they hold no thread) up to the threads' own bound
  lists = await startListWorker({
    redisUrl: o.redisUrl, prefix: o.prefix, log: o.log, capacity: o.threads * 8, maxHeld: o.threads * MAX_HELD_PER_THREAD,
    suspended: () => pool.suspendedCount(), run: (job) => pool.run(job),
  });
  const l = lists;
  return {
    pool,
    async ready() {
      const [db, redis] = await Promise.all([
        within(o.pool.query('SELECT 1').then(() => true), 2000, false),
        l.ping(),
      ]);
      const problems = [...(db ? [] : ['database unavailable']), ...(redis ? [] : ['redis unavailable']), ...pool.problems()];
      return { ok: problems.length === 0, problems };
    },
    stats: () => ({ mode: 'executor', pool: pool.stats(), lists: l.stats() }),
    async close() {
      await l.close();
      await worker.close();
      await pool.close();
    },
  };
}
