/**
 * An executor process (Redis mode): a worker-thread pool fed by the HTTP invocation lists (redis-lists.ts) and by a
 * BullMQ Worker for durable work (schedule ticks). `picloud executor` runs one anywhere; `picloud up --executors N`
 * (with REDIS_URL) spawns N of them.
 */
import type { Logger } from '../common/log.ts';
import type { Pool } from '../db/pool.ts';
import { startTickWorker } from '../queue/bullmq.ts';
import { within } from '../queue/redis-util.ts';
import { startExecutorNotices } from '../queue/redis-lists.ts';
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
/** active invocations one thread takes from the HTTP list at once (its next ones at hand) */
const CAPACITY_PER_THREAD = 8;

export interface ExecutorProcess {
  pool: ExecutorPool;
  /** readiness: the database and Redis answer, a thread is ready, the preload listener is connected */
  ready(): Promise<{ ok: boolean; problems: string[] }>;
  stats(): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * Start the thread pool (each thread takes HTTP invocations from the Redis lists itself, thread-lists.ts), then the
 * BullMQ worker.
 */
export async function startExecutorProcess(o: ExecutorProcessOptions): Promise<ExecutorProcess> {
  const notices = startExecutorNotices({ redisUrl: o.redisUrl, prefix: o.prefix, log: o.log });
  const pool = new ExecutorPool({
    pool: o.pool, log: o.log.child({ component: 'executor' }), threads: o.threads, maxHeapMb: o.threadHeapMb, appShare: o.appShare, appQueue: o.appQueue,
    lists: { redisUrl: o.redisUrl, prefix: o.prefix, capacity: CAPACITY_PER_THREAD, maxHeld: MAX_HELD_PER_THREAD },
    listNotices: notices,
  });
  await pool.start();
  notices.beat(); // present once its threads are ready (tests and operators can see it)
  const worker = await startTickWorker({
    redisUrl: o.redisUrl,
    prefix: o.prefix,
    log: o.log,
    concurrency: o.concurrency ?? Math.max(2, o.threads),
    run: (job) => pool.run(job),
    record: (row) => pool.invocationLog?.add(row),
  });
  return {
    pool,
    async ready() {
      const [db, redis] = await Promise.all([
        within(o.pool.query('SELECT 1').then(() => true), 2000, false),
        notices.ping(),
      ]);
      const problems = [...(db ? [] : ['database unavailable']), ...(redis ? [] : ['redis unavailable']), ...pool.problems()];
      return { ok: problems.length === 0, problems };
    },
    stats: () => ({ mode: 'executor', pool: pool.stats() }),
    async close() {
      await pool.closeLists();
      await worker.close();
      await pool.close();
      await notices.close();
    },
  };
}
