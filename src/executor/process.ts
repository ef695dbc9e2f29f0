/**
 * An executor process (Redis mode): a worker-thread pool fed by the HTTP invocation lists (redis-lists.ts), by a
 * BullMQ Worker for durable work (schedule ticks), and by its own `[[queues]]` job runner (orchestrator/job-runner.ts
 * over the PostgreSQL job store, with the process's route table for the live release of each queue). Jobs run where
 * they are claimed, local-first: a job this process sends is claimed in the send's transaction and runs on its own
 * threads, and any runner woken by a send's NOTIFY may take the rest; nothing goes through Redis, and finishing a
 * job and claiming the next is one round trip, as a BullMQ worker's. A try's lease is 15 s, renewed every 5 s while
 * it runs (whatever its timeout_ms), so the jobs of an executor that dies are taken again within ~20 s by a runner
 * that has seen the queues active in the last minute (it looks for ended leases every 5 s meanwhile), or by any
 * runner's 30 s poll (the "stalled check every 30 s"). `picloud executor` runs one anywhere; `picloud up
 * --executors N` (with REDIS_URL) spawns N of them.
 *
 * The BullMQ worker starts only once a live release runs a schedule (its route table says so, at start or on a
 * switch), and then runs until the process stops: a cluster without `[[schedules]]` never loads BullMQ (~4.6 MB of
 * heap) nor pays its idle polls (a blocking read every 10 s and a stalled check every 15 s, each a wake-up and a
 * Lua script). A tick due before the worker started waits in Redis and is caught up (queue/bullmq.ts).
 */
import type { Logger } from '../common/log.ts';
import { JobSends } from '../db/job-sends.ts';
import type { Pool } from '../db/pool.ts';
import { JobRunner } from '../orchestrator/job-runner.ts';
import { RouteTable, runningSchedules } from '../orchestrator/route-table.ts';
import { createLocalDispatcher } from '../queue/dispatch.ts';
import { handedBack, startListWorker, type ListWorker } from '../queue/redis-lists.ts';
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
  /** dial the orchestrators' direct lanes (default true; false: the Redis lists only, PICLOUD_LANES=off) */
  lanes?: boolean;
}

/** invocations one thread of an executor process holds at once from the HTTP list, waiting ones included */
const MAX_HELD_PER_THREAD = 256;
/**
 * invocations per thread waiting for their app's share that take no room (pool.heldAside): enough that another app
 * reaches a thread at once behind a flood of a few times the process's room, few enough that a process that dies
 * (kill -9, a power cut) fails only so many it never started (the rest wait at their orchestrators)
 */
const ASIDE_FOR_SHARE_PER_THREAD = 32;
/** the job runner's safety poll, its lease renewal and check for ended leases while active, its lease (see above) */
const JOBS_POLL_MS = 30_000;
const JOBS_BUSY_CHECK_MS = 5_000;
const JOBS_LEASE_MS = 15_000;

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
  const jobSends = new JobSends({ pool: o.pool });
  const pool = new ExecutorPool({
    pool: o.pool, log: o.log.child({ component: 'executor' }), threads: o.threads, maxHeapMb: o.threadHeapMb, appShare: o.appShare, appQueue: o.appQueue,
    onSetAside: () => lists?.room(), jobSends,
  });
  await pool.start();
  const jobs = await startJobRunner(o, pool, jobSends);
  const ticks = tickWorkerWhenScheduled(o, pool, jobs.routes);
  // HTTP invocations: plain Redis lists; room for a few active ones per thread so each thread has its next one at
  // hand, and for any number held aside (waiting on I/O, or for their app's share) up to the threads' own bound
  lists = await startListWorker({
    redisUrl: o.redisUrl, prefix: o.prefix, log: o.log, capacity: o.threads * 8, maxHeld: o.threads * MAX_HELD_PER_THREAD,
    heldAside: () => pool.heldAside(o.threads * ASIDE_FOR_SHARE_PER_THREAD), onDrain: () => pool.handBackQueued(handedBack()), run: (job, gate) => pool.run(job, gate), lanes: o.lanes === false ? 'without' : true,
  });
  const l = lists;
  return {
    pool,
    async ready() {
      const [db, redis] = await Promise.all([
        within(o.pool.query('SELECT 1').then(() => true), 2000, false),
        l.ping(),
      ]);
      const problems = [...(db ? [] : ['database unavailable']), ...(redis ? [] : ['redis unavailable']), ...pool.problems(),
        ...(jobs.routes.live() ? [] : ['route table not loaded'])];
      return { ok: problems.length === 0, problems };
    },
    stats: () => ({ mode: 'executor', pool: pool.stats(), lists: l.stats(), jobs: jobs.runner.stats() }),
    async close() {
      await l.close();
      await ticks.close();
      // tries in flight finish and are recorded before the threads go
      await jobs.runner.close();
      await jobs.routes.close();
      await pool.close();
    },
  };
}

/** This process's `[[queues]]` runner: its sends claim in their own transaction, its tries run on its threads. */
async function startJobRunner(o: ExecutorProcessOptions, pool: ExecutorPool, jobSends: JobSends): Promise<{ runner: JobRunner; routes: RouteTable }> {
  const routes = new RouteTable(o.pool, o.log.child({ component: 'routes' }));
  const runner = new JobRunner({
    pool: o.pool, routes, dispatcher: createLocalDispatcher((job) => pool.run(job), async () => {}), log: o.log.child({ component: 'jobs' }),
    exclusive: false, sends: jobSends, pollMs: JOBS_POLL_MS, busyCheckMs: JOBS_BUSY_CHECK_MS, leaseMs: JOBS_LEASE_MS,
  });
  await routes.start();
  await runner.start();
  return { runner, routes };
}

/** Retry a tick worker start that failed (Redis refused it) this long after. */
const TICKS_RETRY_MS = 5_000;

/**
 * The BullMQ tick worker, started once the route table has a branch that runs schedules (now or after a switch),
 * kept until close (see the header).
 */
function tickWorkerWhenScheduled(o: ExecutorProcessOptions, pool: ExecutorPool, routes: RouteTable): { close(): Promise<void> } {
  let worker: { close(): Promise<void> } | null = null;
  let starting: Promise<void> | null = null;
  let retry: NodeJS.Timeout | null = null;
  let closed = false;
  const start = (): void => {
    if (worker || starting || retry || closed || !routes.entries().some((e) => runningSchedules(e).length > 0)) return;
    starting = import('../queue/bullmq.ts')
      .then(({ startTickWorker }) => startTickWorker({
        redisUrl: o.redisUrl,
        prefix: o.prefix,
        log: o.log,
        concurrency: o.concurrency ?? Math.max(2, o.threads),
        run: (job) => pool.run(job),
        record: (row) => pool.invocationLog?.add(row),
      }))
      .then(async (w) => {
        if (closed) await w.close();
        else worker = w;
      })
      .catch((err: unknown) => {
        o.log.error({ err }, 'the schedule tick worker did not start; trying again');
        retry = setTimeout(() => {
          retry = null;
          start();
        }, TICKS_RETRY_MS);
      })
      .finally(() => {
        starting = null;
      });
  };
  routes.onChange(() => start());
  start();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      // a start that waits for an unreachable Redis must not hold the stop (it closes its worker if it ever ends)
      if (starting) await within(starting, 3000, undefined);
      await worker?.close();
    },
  };
}
