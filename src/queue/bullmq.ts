/**
 * BullMQ carries the schedules of the Redis mode (architecture.md §7 "Queue (revised)"): the orchestrator keeps a
 * job scheduler per live `[[schedules]]` entry on queue `picloud-invoke` (manager/schedules.ts), and each executor
 * process runs a Worker that takes the ticks. HTTP invocations travel on plain lists (redis-lists.ts) and
 * `[[queues]]` jobs live in PostgreSQL (db/jobs.ts; docs/architecture.md "Background jobs" says why).
 *
 * Ticks are at least once: a tick whose executor dies is run again within about 35 s of its death (plus an
 * executor's start when it was the only one). BullMQ's stalled check (every 15 s, once across all workers) marks
 * every active job, a lock renewal (every 7.5 s while the tick runs) unmarks it, and a check that finds a job still
 * marked and its 15 s lock gone moves it back to wait: at most two checks after the last renewal, so within 2 × 15 s
 * of the death, plus the dead run's 3 s overlap lease. With `overlap = false` a tick runs only under its schedule's
 * lock, a Redis key held with a short lease that the running executor renews every second: a tick that finds a
 * live holder is skipped (and recorded), one that finds a holder no longer renewing (its executor died) waits for
 * the lease to end and runs, so an executor kill does not turn ticks into skips. Idle cost: one blocking read per 10 s
 * (BullMQ's ceiling on a block while a scheduler's next job is delayed) and the stalled check every 15 s. The lock
 * renewal is ours, armed only while a tick runs (renewWhileRunning): BullMQ's own renewal timer fires every 3.75 s
 * whether or not a job runs, 16 wake-ups a minute of an idle executor (~0.8 ms of CPU each on the bench VM,
 * bench:idle). At start the orchestrator warns when Redis is not configured as BullMQ requires (AOF on,
 * noeviction).
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { nextCronTime } from '../common/cron.ts';
import type { Logger } from '../common/log.ts';
import type { InvocationRow } from '../db/invocation-row.ts';
import type { JobRunner } from './dispatch.ts';
import type { InvocationTarget } from './jobs.ts';
import { BLOCK_SECONDS, rateLimitedWarn, redisConnection, within } from './redis-util.ts';
import { FAILING_AFTER, SKIPPED_ERROR, SKIPPED_STATUS, failingRow, scheduleNoticeRow } from './schedule-rows.ts';

/** The queue the job schedulers live on (the name predates the move of HTTP invocations to lists; kept so an
 * upgrade keeps the schedulers already in Redis). */
export const INVOKE_QUEUE = 'picloud-invoke';

/** Payload of a job-scheduler tick. */
export interface TickData {
  type: 'tick';
  target: InvocationTarget;
  cron: string;
  overlap?: boolean;
}

export interface BullmqOptions {
  redisUrl: string;
  /** BullMQ key prefix (tests use a random one) */
  prefix?: string;
  queueName?: string;
  log: Logger;
}

export { redisConnection, within };

/** The orchestrator side: the queue the schedule driver upserts job schedulers on. */
export async function createScheduleQueue(opts: BullmqOptions): Promise<{ queue: Queue; close(): Promise<void> }> {
  const conn = redisConnection(opts.redisUrl, true);
  const queue = new Queue(opts.queueName ?? INVOKE_QUEUE, { connection: conn, prefix: opts.prefix ?? 'picloud' });
  queue.on('error', rateLimitedWarn(opts.log, 'bullmq queue error'));
  await queue.waitUntilReady();
  void checkRedisDurability(conn, opts.log);
  return {
    queue,
    async close() {
      // queue.close() waits on Redis; an unreachable Redis must not hold shutdown
      await within(queue.close(), conn.status === 'ready' ? 2000 : 200, undefined);
      conn.disconnect();
    },
  };
}

/** The nominal time of a job-scheduler tick: its id is `repeat:<schedulerId>:<millis>`. */
function tickTime(job: Job): number {
  const m = /:(\d+)$/.exec(job.id ?? '');
  return m ? Number(m[1]) : job.timestamp + (job.delay ?? 0);
}

const MAX_CATCH_UP = 60;

/** Move the scheduler's last-run mark forward only (a stalled tick run again late must not move it back); returns the mark before. */
const MARK = "local p = redis.call('get', KEYS[1]) if (not p) or tonumber(p) < tonumber(ARGV[1]) then redis.call('set', KEYS[1], ARGV[1], 'EX', 86400) end return p";

/**
 * BullMQ creates a scheduler's next job only when the current one starts, so ticks that fell due while no
 * executor was running collapse into one late job. Record the last tick run per scheduler and return the missed
 * occurrences between it and `at` (at most MAX_CATCH_UP) followed by `at` itself; a tick older than the mark (a
 * stalled one run again) runs alone, and a duplicate delivery of the latest tick (not a retry, not a stalled
 * re-run) returns nothing.
 */
async function ticksDue(redis: Redis, key: string, cron: string, at: number, job: Job): Promise<number[]> {
  const prevRaw = (await redis.eval(MARK, 1, key, String(at))) as string | null;
  const prev = prevRaw === null ? null : Number(prevRaw);
  if (prev === at && job.attemptsMade === 0 && (job.attemptsStarted ?? 0) <= 1) return [];
  const out: number[] = [];
  if (prev !== null && prev < at) {
    let d: number | null = prev;
    while (out.length < MAX_CATCH_UP && (d = nextCronTime(cron, d)) !== null && d < at) out.push(d);
  }
  out.push(at);
  return out;
}

/**
 * The ticks a tick job runs. A catch-up (several ticks) is kept in Redis until the job finishes, so the job run
 * again after its executor died (stalled, or retried) runs the same ticks, not only its own.
 */
async function jobTicks(r: Redis, key: string, due: () => Promise<number[]>, job: Job): Promise<number[]> {
  if (job.attemptsMade > 0 || (job.attemptsStarted ?? 0) > 1) {
    const kept = await r.get(key);
    if (kept !== null) return JSON.parse(kept) as number[];
  }
  const ticks = await due();
  if (ticks.length > 1) await r.set(key, JSON.stringify(ticks), 'EX', 86_400);
  return ticks;
}

/** Lease of a schedule's overlap lock; its holder renews it every LOCK_RENEW_MS while it runs. */
const LOCK_LEASE_MS = 3000;
const LOCK_RENEW_MS = 1000;
const LOCK_POLL_MS = 100;
/**
 * Release our own lock only (a run that outlived its lease must not free the next run's), and say it ended and
 * when (`<token> <ms>`: the time its last invocation returned, not this release's, which comes later).
 */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[2], ARGV[1] .. ' ' .. ARGV[2], 'PX', 60000) return redis.call('del', KEYS[1]) end return 0";

/** Drop our own lock without saying a run ended (a tick that took it only to learn it must skip). */
const DROP = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

/** A held overlap lock: stop renewing and release it, saying when the run's invocations ended. */
type HeldLock = { release(endedAt: number): Promise<void> };

/**
 * Take a schedule's overlap lock, or decide to skip. A plain tick due at `dueAt` skips when the holder is a plain run
 * that is alive (its lease is renewed while we look: a run renews only while its invocations run) or that ended while
 * we looked and after `dueAt` (the tick was due during it; a run whose invocation ended before `dueAt` and that was
 * only still releasing the lock did not overlap it); it takes the lock when the holder's lease ran out unrenewed (its
 * executor died). A catch-up always waits, and is waited for.
 */
async function acquireLock(r: Redis, lock: string, catchup: boolean, dueAt: number): Promise<HeldLock | null> {
  const token = `${catchup ? 'catchup' : 'run'}:${randomUUID()}`;
  let watched = null as { holder: string; ttl: number } | null;
  for (let waited = 0; ; waited += LOCK_POLL_MS) {
    if ((await r.set(lock, token, 'PX', LOCK_LEASE_MS, 'NX')) !== null) {
      // the holder we watched ended normally just before we took it: this tick was due during that run
      if (watched && !catchup) {
        const [endedBy, endedAt] = ((await r.get(`${lock}:ended`)) ?? '').split(' ');
        if (endedBy === watched.holder && Number(endedAt) > dueAt) {
          await r.eval(DROP, 1, lock, token);
          return null;
        }
      }
      return held(r, lock, token);
    }
    const [holder, ttl] = await Promise.all([r.get(lock), r.pttl(lock)]);
    if (holder !== null && !catchup && !holder.startsWith('catchup:')) {
      if (watched?.holder === holder && ttl > watched.ttl) return null; // renewed: a live run
      if (!watched || watched.holder !== holder) watched = { holder, ttl };
      else watched.ttl = ttl;
    }
    if (waited > 60 * LOCK_LEASE_MS) return null;
    await new Promise((res) => setTimeout(res, LOCK_POLL_MS));
  }
}

function held(r: Redis, lock: string, token: string): HeldLock {
  const renew = setInterval(() => void r.pexpire(lock, LOCK_LEASE_MS).catch(() => {}), LOCK_RENEW_MS);
  return {
    async release(endedAt) {
      clearInterval(renew);
      await r.eval(RELEASE, 2, lock, `${lock}:ended`, token, String(endedAt)).catch(() => {});
    },
  };
}

interface TickWorkerOptions extends BullmqOptions {
  run: JobRunner;
  concurrency: number;
  record?: (row: InvocationRow) => void;
  /** a tick job's BullMQ lock (renewed every half of it while the tick runs) and the stalled check's period, ms
   * (default 15 s each, see the header; tests shorten them) */
  lockMs?: number;
  stalledMs?: number;
}

/**
 * Renew a tick job's BullMQ lock every half of its duration until the returned stop is called: what BullMQ's lock
 * manager does, but with a timer only while a tick runs (the worker runs with skipLockRenewal).
 */
function renewWhileRunning(job: Job, token: string | undefined, lockMs: number, log: Logger): () => void {
  if (!token) return () => {};
  const t = setInterval(() => {
    job.extendLock(token, lockMs).catch((err: unknown) => log.warn({ err, job: job.id }, 'could not renew a schedule tick\'s lock; the stalled check may run it again'));
  }, lockMs / 2);
  return () => clearInterval(t);
}

/**
 * The ticks of one tick job (the ones missed while no executor ran, then its own), in order, under the schedule's
 * overlap lock unless `overlap = true`. Consecutive failures are counted in Redis; the FAILING_AFTER-th writes a
 * `schedule failing` row.
 */
async function runTicks(o: TickWorkerOptions, r: Redis, data: TickData, sched: string, jobId: string, ticks: number[]): Promise<void> {
  const prefix = o.prefix ?? 'picloud';
  const record = o.record ?? (() => {});
  // a tick picked up late (it waited in the queue while no executor ran, e.g. across a restart) is caught up like
  // missed ticks: it waits for the lock instead of being skipped, since it never overlapped a run when it was due
  const catchup = ticks.length > 1 || Date.now() - ticks[ticks.length - 1]! > 1000;
  let lock: HeldLock | null = null;
  if (data.overlap !== true) {
    lock = await acquireLock(r, `${prefix}:running:${sched}`, catchup, ticks[ticks.length - 1]!);
    if (!lock) {
      record(scheduleNoticeRow(data.target, data.cron, SKIPPED_STATUS, SKIPPED_ERROR));
      return;
    }
  }
  try {
    for (let i = 0; i < ticks.length; i++) {
      const t = ticks[i]!;
      const res = await o.run({ kind: 'schedule', id: `${jobId}@${t}`, target: data.target, cron: data.cron, scheduledAt: t });
      if (i === ticks.length - 1 && lock) {
        // the run is over: the lock goes now, saying when, not after the bookkeeping below (a tick due meanwhile
        // did not overlap this run; under load that bookkeeping took long enough to skip the next tick)
        const l = lock;
        lock = null;
        await l.release(Date.now());
      }
      const fails = `${prefix}:fails:${sched}`;
      if (res.status < 500) await r.del(fails);
      else {
        const n = await r.incr(fails);
        void r.expire(fails, 7 * 86_400).catch(() => {});
        if (n === FAILING_AFTER) record(failingRow(data.target, data.cron, res));
      }
    }
  } finally {
    await lock?.release(Date.now());
  }
}

/** The executor-process side: a Worker that runs schedule ticks with `run`. */
export async function startTickWorker(o: TickWorkerOptions): Promise<{ worker: Worker; close(): Promise<void> }> {
  const prefix = o.prefix ?? 'picloud';
  const conn = redisConnection(o.redisUrl);
  const cmd = redisConnection(o.redisUrl, true);
  const lockMs = o.lockMs ?? 15_000;
  const worker = new Worker(
    o.queueName ?? INVOKE_QUEUE,
    async (bj: Job, token?: string) => {
      const data = bj.data as TickData;
      if (data.type !== 'tick') return; // an HTTP batch left by a version before 0.3: its orchestrator has answered it
      const stop = renewWhileRunning(bj, token, lockMs, o.log);
      try {
        const sched = bj.repeatJobKey ?? data.cron;
        const ticks = await jobTicks(cmd, `${prefix}:tickjob:${bj.id ?? ''}`, () => ticksDue(cmd, `${prefix}:ticks:${sched}`, data.cron, tickTime(bj), bj), bj);
        if (ticks.length) await runTicks(o, cmd, data, sched, bj.id ?? '', ticks);
        await cmd.del(`${prefix}:tickjob:${bj.id ?? ''}`);
      } finally {
        stop();
      }
    },
    {
      connection: conn,
      prefix,
      concurrency: o.concurrency,
      drainDelay: BLOCK_SECONDS,
      // a tick whose executor died is moved back to wait by the second stalled check after its last lock renewal:
      // within 30 s (the issue asks for 60); a check every 15 s per executor process is the idle cost
      stalledInterval: o.stalledMs ?? 15_000,
      lockDuration: lockMs,
      skipLockRenewal: true, // renewWhileRunning
      maxStalledCount: 2,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 100 },
    },
  );
  worker.on('error', rateLimitedWarn(o.log, 'bullmq worker error'));
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      // a graceful close waits for Redis (its QUIT sits in ioredis' offline queue while Redis is down): force it
      // when Redis cannot be reached, and never wait more than a few seconds (the process exits after this)
      const graceful = conn.status === 'ready';
      await within(worker.close(!graceful), graceful ? 3000 : 1000, undefined);
      cmd.disconnect();
      conn.disconnect();
    },
  };
}

/**
 * BullMQ wants `appendonly yes` (a restart keeps the job schedulers and ticks) and `maxmemory-policy noeviction`
 * (an evicted key corrupts a queue): warn at start when Redis says otherwise, or when it cannot be asked (CONFIG
 * disabled on a managed Redis).
 */
export async function checkRedisDurability(r: Redis, log: Logger): Promise<{ appendonly: string | null; policy: string | null }> {
  const get = async (k: string): Promise<string | null> => {
    try {
      const v = (await within(r.config('GET', k) as Promise<string[]>, 2000, [])) ?? [];
      return v[1] ?? null;
    } catch {
      return null;
    }
  };
  const appendonly = await get('appendonly');
  const policy = await get('maxmemory-policy');
  if (appendonly === null || policy === null) log.warn('cannot read the Redis configuration (CONFIG GET); BullMQ needs appendonly yes and maxmemory-policy noeviction');
  else if (appendonly !== 'yes' || policy !== 'noeviction') {
    log.warn({ appendonly, maxmemoryPolicy: policy }, 'Redis is not configured as BullMQ requires (appendonly yes, maxmemory-policy noeviction): a Redis restart or eviction can lose schedules; jobs ([[queues]]) are kept in PostgreSQL');
  }
  return { appendonly, policy };
}
