/**
 * BullMQ transport (REDIS_URL set): the orchestrator adds jobs to queue `picloud-invoke`; executor processes run
 * them with their worker-thread pool. A job carries a batch of invocations (one at low load, up to 64 under load;
 * see MAX_BATCH for when a batch goes out): BullMQ costs ~0.5 ms of Redis scripts per job whatever its size,
 * which capped one-invocation-per-job at ~1.5k/s on 2 cores. Results come back one by one as each invocation
 * finishes, on a per-orchestrator Redis list (`<prefix>:reply:<uuid>`: LPUSH by executors, one blocking BLMPOP
 * loop in the orchestrator that takes up to 512 replies per round trip) instead of QueueEvents, which costs
 * ~1 ms and a stream read per job event (stack-notes §3). HTTP invocations are never
 * retried (attempts 1, removeOnComplete/Fail: true since nothing waits on the job's stored state), and a stalled
 * job is failed rather than re-run (maxStalledCount 0). Idle cost: one blocking read per 30 s per connection
 * (worker drainDelay, reply BLMPOP timeout), stalledInterval 5 min.
 *
 * Redis going away (restart, possibly EMPTY with `--save ''`): new invocations get an immediate 503
 * QUEUE_UNAVAILABLE while the connection is not ready (no unbounded ioredis offline queue); every pending
 * invocation has a deadline (timeout_ms + grace) after which it is answered without waiting on Redis; blocking
 * reads run under a watchdog (ioredis re-sends or orphans a blocking command interrupted by a reconnect, so it can
 * hang forever) that replaces the connection; on reconnect `onReconnect` listeners run (the plane re-creates the
 * job schedulers). Closing never waits on an unreachable Redis for more than a few seconds.
 *
 * Since HTTP invocations moved to plain lists (redis-lists.ts), the worker here runs schedule ticks only, and
 * those are at least once: a tick whose executor dies is found by the stalled check (every 30 s) and run again.
 * At start the orchestrator warns when Redis is not configured as BullMQ requires (AOF on, noeviction).
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { nextCronTime } from '../common/cron.ts';
import type { Redis } from 'ioredis';
import { rateLimitedWarn, redisConnection, within } from './redis-util.ts';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Dispatcher, JobRunner } from './dispatch.ts';
import type { InvocationRow } from '../db/invocation-row.ts';
import { FAILING_AFTER, SKIPPED_ERROR, SKIPPED_STATUS, failingRow, scheduleNoticeRow } from './schedule-rows.ts';
import { errorResult, type InvocationJob, type InvocationResult, type InvocationTarget, type ReplyEnvelope } from './jobs.ts';

export const INVOKE_QUEUE = 'picloud-invoke';

/** Payload of a BullMQ job: an invocation (with where to reply), or a schedule template from a job scheduler. */
export type QueueJobData =
  | { type: 'batch'; jobs: InvocationJob[]; replyTo: string | null }
  | { type: 'tick'; target: InvocationTarget; cron: string; overlap?: boolean };

/**
 * Batching (orchestrator side). A batch goes out at once when no job of this orchestrator is in transit (an idle
 * platform adds no latency), when it is full (MAX_BATCH), or when fewer than MAX_IN_TRANSIT jobs are in transit and
 * it holds MIN_BATCH invocations; otherwise it waits for a job to be answered, at most MAX_HOLD_MS. Measured on
 * 2 cores at 50 connections: ~10 % more req/s than one job per event-loop turn, which sent many 1–3 invocation
 * jobs whose fixed BullMQ cost (two Lua scripts of ~60 µs in Redis, ~300 µs of node CPU) dominated.
 */
const MAX_BATCH = 64;
const MIN_BATCH = 8;
const MAX_IN_TRANSIT = 2;
const MAX_HOLD_MS = 5;

export interface BullmqOptions {
  redisUrl: string;
  /** BullMQ key prefix (tests use a random one) */
  prefix?: string;
  queueName?: string;
  log: Logger;
}

export { redisConnection, within };

/** Blocking reads: seconds a BLMPOP/BRPOP waits server-side; the client-side watchdog allows this + 3 s. */
const BLOCK_SECONDS = 30;

/** Calls `f` each time `r` becomes ready again after having lost its connection. */
function onReconnected(r: Redis, f: () => void): void {
  let lost = false;
  r.on('close', () => { lost = true; });
  r.on('ready', () => {
    if (!lost) return;
    lost = false;
    f();
  });
}

interface Pending {
  resolve: (r: InvocationResult) => void;
  timer: NodeJS.Timeout;
  bullJob: Promise<Job | null>;
  /** connection epoch at invoke: a different one at the deadline means Redis went away meanwhile */
  epoch: number;
  /** the queued job this invocation travels in (set when its batch is flushed) */
  batch: BatchRef | null;
}

/** A job (batch) added to the queue: how many of its invocations are still unanswered. */
interface BatchRef {
  left: number;
}

/** The orchestrator side. */
export async function createBullmqDispatcher(opts: BullmqOptions & { maxInFlight?: number; graceMs?: number }): Promise<Dispatcher & { queue: Queue; onReconnect(f: () => void): void }> {
  const prefix = opts.prefix ?? 'picloud';
  const conn = redisConnection(opts.redisUrl, true);
  /** The reply-reading connection, and a promise that settles when it has lost its connection and is back. */
  const newBlocking = () => {
    const r = redisConnection(opts.redisUrl);
    const back = new Promise<void>((res) => r.once('close', () => r.once('ready', () => res())));
    return { r, back };
  };
  let blocking = newBlocking();
  const reconnectListeners: (() => void)[] = [];
  onReconnected(conn, () => {
    opts.log.warn('redis connection restored');
    for (const f of reconnectListeners) {
      try {
        f();
      } catch (err) {
        opts.log.error({ err }, 'redis reconnect listener failed');
      }
    }
  });
  let epoch = 0;
  conn.on('close', () => {
    epoch++;
    if (!closed) opts.log.warn('redis connection lost; invocations answer 503 QUEUE_UNAVAILABLE until it is back');
  });
  const queue = new Queue(opts.queueName ?? INVOKE_QUEUE, {
    connection: conn,
    prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
  });
  queue.setMaxListeners(0);
  queue.on('error', (err) => opts.log.warn({ err }, 'bullmq queue error'));
  await queue.waitUntilReady();
  void checkRedisDurability(conn, opts.log);
  const replyTo = `${prefix}:reply:${randomUUID()}`;
  const pending = new Map<string, Pending>();
  const maxInFlight = opts.maxInFlight ?? 4096;
  let closed = false;
  let completed = 0;
  let rejected = 0;

  const deliver = (raw: string) => {
    let env: ReplyEnvelope;
    try {
      env = JSON.parse(raw) as ReplyEnvelope;
    } catch {
      return;
    }
    const p = pending.get(env.id);
    if (!p) return;
    pending.delete(env.id);
    clearTimeout(p.timer);
    completed++;
    p.resolve(env.result);
  };

  let blmpop = true;
  const STUCK = Symbol('stuck');
  const warnReply = rateLimitedWarn(opts.log, 'reply channel error; retrying');
  /** One blocking read under a watchdog: a read that outlives its server-side timeout is abandoned with its connection. */
  const readReplies = async (): Promise<string[]> => {
    const { r: b, back } = blocking;
    const cmd: Promise<string[] | null> = blmpop
      ? (b.call('BLMPOP', BLOCK_SECONDS, 1, replyTo, 'RIGHT', 'COUNT', 512) as Promise<[string, string[]] | null>).then((r) => (r ? r[1] : null))
      : b.brpop(replyTo, BLOCK_SECONDS).then((r) => (r ? [r[1]] : null));
    cmd.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<typeof STUCK>((res) => { timer = setTimeout(() => res(STUCK), (BLOCK_SECONDS + 3) * 1000); });
    const reconnected = back.then((): typeof STUCK => STUCK);
    try {
      const r = await Promise.race([cmd, watchdog, reconnected]);
      if (r === STUCK) {
        // the connection was lost under the read (or the read never came back): drop it and start a fresh one
        if (!closed && blocking.r === b) {
          blocking = newBlocking();
          b.disconnect();
        }
        return [];
      }
      return r ?? [];
    } finally {
      clearTimeout(timer);
    }
  };
  const loop = async () => {
    while (!closed) {
      try {
        for (const raw of await readReplies()) deliver(raw);
      } catch (err) {
        if (closed) return;
        if (blmpop && /unknown command/i.test(String((err as Error).message))) {
          blmpop = false; // Redis < 7: one reply per BRPOP
          continue;
        }
        warnReply(err);
        await new Promise((res) => setTimeout(res, 500));
      }
    }
  };
  void loop();

  const onTimeout = async (id: string) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (conn.status !== 'ready' || p.epoch !== epoch) {
      // its reply may have been lost with Redis (a restarted Redis can come back empty)
      p.resolve(queueUnavailable('the connection to Redis was lost while this invocation was pending; it may or may not have run'));
      return;
    }
    let state = 'unknown';
    try {
      const j = await within(p.bullJob, 1000, null);
      if (j) state = await within(j.getState(), 1000, 'unknown');
      if (j && (state === 'waiting' || state === 'prioritized' || state === 'delayed') && (await within(j.remove().then(() => true, () => false), 1000, false))) {
        // the whole batch was withdrawn before any executor took it: answer its other invocations now too
        const busy = errorResult(503, 'No executor capacity: no executor picked up the invocation in time');
        for (const [otherId, o] of pending) {
          if (o.bullJob !== p.bullJob) continue;
          pending.delete(otherId);
          clearTimeout(o.timer);
          o.resolve(busy);
        }
        p.resolve(busy);
        return;
      }
    } catch {
      /* Redis trouble: answer anyway */
    }
    p.resolve(
      state === 'waiting' || state === 'prioritized' || state === 'delayed'
        ? errorResult(503, 'No executor capacity: no executor picked up the invocation in time')
        : errorResult(502, 'The executor did not answer: it crashed or was stopped while running this invocation'),
    );
  };

  let batch: InvocationJob[] = [];
  let flushQueued = false;
  let holdTimer: NodeJS.Timeout | null = null;
  /** jobs added by this orchestrator and not fully answered */
  let inTransit = 0;
  /** Flush now-ish if the executors could use it, else hold the batch (bounded by MAX_HOLD_MS) to let it grow. */
  const flushSoon = () => {
    if (flushQueued || batch.length === 0) return;
    if (batch.length >= MAX_BATCH || inTransit === 0 || (inTransit < MAX_IN_TRANSIT && batch.length >= MIN_BATCH)) {
      flushQueued = true;
      setImmediate(flush);
    } else if (!holdTimer) holdTimer = setTimeout(flush, MAX_HOLD_MS);
  };
  const batchDone = () => {
    inTransit--;
    flushSoon();
  };
  /** Add the invocations gathered so far as one job. */
  const flush = () => {
    flushQueued = false;
    if (holdTimer) {
      clearTimeout(holdTimer);
      holdTimer = null;
    }
    if (batch.length === 0) return;
    const jobs = batch;
    batch = [];
    const ref: BatchRef = { left: jobs.length };
    inTransit++;
    for (const j of jobs) {
      const p = pending.get(j.id);
      if (p) p.batch = ref;
      else if (--ref.left === 0) inTransit--;
    }
    const data: QueueJobData = { type: 'batch', jobs, replyTo };
    const added = queue.add('http', data).catch((err: unknown) => {
      opts.log.error({ err }, 'enqueue failed');
      for (const j of jobs) {
        const p = pending.get(j.id);
        if (!p) continue;
        pending.delete(j.id);
        clearTimeout(p.timer);
        p.resolve(queueUnavailable('the invocation could not be queued; nothing was run'));
      }
      return null;
    });
    for (const j of jobs) {
      const p = pending.get(j.id);
      if (p) p.bullJob = added;
    }
  };

  return {
    mode: 'bullmq',
    queue,
    invoke(job) {
      if (closed) return Promise.reject(new AppError('NO_CAPACITY', 'The orchestrator is shutting down'));
      if (conn.status !== 'ready') {
        rejected++;
        return Promise.reject(new AppError('QUEUE_UNAVAILABLE', 'The invocation queue is unavailable: Redis cannot be reached; nothing was run, try again later'));
      }
      if (pending.size >= maxInFlight) {
        rejected++;
        return Promise.reject(new AppError('NO_CAPACITY', 'No executor capacity: the queue is full, try again later'));
      }
      return new Promise<InvocationResult>((resolve) => {
        const timer = setTimeout(() => void onTimeout(job.id), job.target.limits.timeoutMs + (opts.graceMs ?? 5000));
        const p: Pending = {
          resolve: (r) => {
            resolve(r);
            if (p.batch && --p.batch.left === 0) batchDone();
          },
          timer, bullJob: Promise.resolve(null), epoch, batch: null,
        };
        pending.set(job.id, p);
        batch.push(job);
        if (batch.length >= MAX_BATCH) flush();
        else flushSoon();
      });
    },
    submit(job) {
      if (conn.status !== 'ready') {
        opts.log.warn({ kind: job.kind }, 'not enqueued: Redis cannot be reached');
        return;
      }
      const data: QueueJobData = { type: 'batch', jobs: [job], replyTo: null };
      queue.add(job.kind, data).catch((err: unknown) => opts.log.error({ err }, 'enqueue failed'));
    },
    onReconnect(f) {
      reconnectListeners.push(f);
    },
    stats: () => ({ mode: 'bullmq', inFlight: pending.size, completed, rejected }),
    async close() {
      closed = true;
      if (holdTimer) clearTimeout(holdTimer);
      batch = [];
      for (const [, p] of pending) {
        clearTimeout(p.timer);
        p.resolve(errorResult(503, 'The orchestrator is shutting down'));
      }
      pending.clear();
      blocking.r.disconnect();
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

/**
 * BullMQ creates a scheduler's next job only when the current one starts, so ticks that fell due while no
 * executor was running collapse into one late job. Record the last tick run per scheduler (SET … GET) and return
 * the missed occurrences between it and `at` (at most MAX_CATCH_UP) followed by `at` itself; a duplicate delivery
 * of the same tick (not a retry) returns nothing.
 */
async function ticksDue(redis: Redis, key: string, cron: string, at: number, attemptsMade: number): Promise<number[]> {
  const prevRaw = await redis.set(key, String(at), 'EX', 86_400, 'GET');
  const prev = prevRaw === null ? null : Number(prevRaw);
  if (prev === at && attemptsMade === 0) return [];
  const out: number[] = [];
  if (prev !== null && prev < at) {
    let d: number | null = prev;
    while (out.length < MAX_CATCH_UP && (d = nextCronTime(cron, d)) !== null && d < at) out.push(d);
  }
  out.push(at);
  return out;
}

/** The executor-process side: runs jobs with `run` and replies on the job's reply list. */
export async function startBullmqWorker(opts: BullmqOptions & { run: JobRunner; concurrency: number; record?: (row: InvocationRow) => void }): Promise<{ worker: Worker; close(): Promise<void> }> {
  const prefix = opts.prefix ?? 'picloud';
  const conn = redisConnection(opts.redisUrl);
  const replies = redisConnection(opts.redisUrl, true);
  // Replies finished in the same event-loop turn go out as ONE LPUSH (+ EXPIRE, since the list vanishes whenever
  // the orchestrator drains it) per reply list: a thread's results arrive in batches, and a command per
  // invocation cost more Redis and ioredis work than the invocation itself.
  const outbox = new Map<string, { values: string[]; done: (() => void)[] }>();
  const warnReply = rateLimitedWarn(opts.log, 'reply failed');
  let outboxQueued = false;
  const flushReplies = () => {
    outboxQueued = false;
    for (const [list, o] of outbox) {
      // a reply held in ioredis' offline queue while Redis is down must not hold the job forever: the
      // orchestrator answers the invocation at its deadline anyway
      const sent = within(replies.lpush(list, ...o.values).then(() => true), 5000, false);
      void replies.expire(list, 300).catch(() => {});
      void sent.then((ok) => {
        if (!ok) warnReply(new Error('reply not delivered: Redis cannot be reached'));
        for (const d of o.done) d();
      });
    }
    outbox.clear();
  };
  const reply = (list: string, value: string) => new Promise<void>((done) => {
    let o = outbox.get(list);
    if (!o) outbox.set(list, (o = { values: [], done: [] }));
    o.values.push(value);
    o.done.push(done);
    if (!outboxQueued) {
      outboxQueued = true;
      setImmediate(flushReplies);
    }
  });
  const record = opts.record ?? (() => {});
  const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
  /**
   * The ticks of one tick job (the ones missed while no executor ran, then its own), in order. With overlap =
   * false they run only under the schedule's lock (a Redis key leased for timeout_ms + 2 s and renewed per run, so
   * a run whose executor died frees it soon): a single tick that finds another single tick's run holding it is
   * skipped and recorded; a catch-up (missed ticks) waits for the lock, and is waited for, so catching up after a
   * restart never turns ticks into skips.
   * Consecutive failures are counted in Redis; the FAILING_AFTER-th writes a `schedule failing` row.
   */
  const runTicks = async (data: Extract<QueueJobData, { type: 'tick' }>, sched: string, jobId: string, ticks: number[]) => {
    const lock = `${prefix}:running:${sched}`;
    const lease = data.target.limits.timeoutMs + 2000;
    // a tick picked up late (it waited in the queue while no executor ran, e.g. across a restart) is caught up like
    // missed ticks: it waits for the lock instead of being skipped, since it never overlapped a run when it was due
    const late = Date.now() - ticks[ticks.length - 1]! > 1000;
    const catchup = ticks.length > 1 || late;
    const token = `${catchup ? 'catchup' : 'run'}:${randomUUID()}`;
    const exclusive = data.overlap !== true;
    if (exclusive) {
      for (let waited = 0; ; waited += 200) {
        if ((await replies.set(lock, token, 'PX', lease, 'NX')) !== null) break;
        const holder = await replies.get(lock);
        // skip only a plain tick that finds a plain run: a catch-up always waits, and is waited for
        if (holder !== null && ((!holder.startsWith('catchup:') && !catchup) || waited > 60 * lease)) {
          record(scheduleNoticeRow(data.target, data.cron, SKIPPED_STATUS, SKIPPED_ERROR));
          return;
        }
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    try {
      for (const t of ticks) {
        if (exclusive) await replies.pexpire(lock, lease);
        const r = await opts.run({ kind: 'schedule', id: `${jobId}@${t}`, target: data.target, cron: data.cron, scheduledAt: t });
        const fails = `${prefix}:fails:${sched}`;
        if (r.status < 500) await replies.del(fails);
        else {
          const n = await replies.incr(fails);
          void replies.expire(fails, 7 * 86_400).catch(() => {});
          if (n === FAILING_AFTER) record(failingRow(data.target, data.cron, r));
        }
      }
    } finally {
      // release only our own lock (a run that outlived its lease must not free the next run's)
      if (exclusive) await replies.eval(RELEASE, 1, lock, token).catch(() => {});
    }
  };
  const worker = new Worker(
    opts.queueName ?? INVOKE_QUEUE,
    async (bj: Job) => {
      const data = bj.data as QueueJobData;
      if (data.type === 'tick') {
        const sched = bj.repeatJobKey ?? data.cron;
        const at = tickTime(bj);
        const ticks = await ticksDue(replies, `${prefix}:ticks:${sched}`, data.cron, at, bj.attemptsMade);
        if (ticks.length) await runTicks(data, sched, bj.id ?? '', ticks);
        return;
      }
      const replyTo = data.replyTo;
      await Promise.all(data.jobs.map(async (job) => {
        let result: InvocationResult;
        try {
          result = await opts.run(job);
        } catch (err) {
          result = isNoCapacity(err) ? errorResult(503, (err as Error).message, { code: (err as AppError).code }) : errorResult(502, 'The executor failed to run the invocation');
        }
        if (replyTo) await reply(replyTo, JSON.stringify({ id: job.id, result } satisfies ReplyEnvelope));
      }));
    },
    {
      connection: conn,
      prefix,
      concurrency: opts.concurrency,
      drainDelay: BLOCK_SECONDS,
      // schedule ticks are at least once: a tick whose executor died (its lock not renewed for lockDuration) is
      // found by the stalled check and run again, within about a minute; a check every 30 s is the idle cost
      stalledInterval: 30_000,
      lockDuration: 30_000,
      maxStalledCount: 2,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 100 },
    },
  );
  worker.on('error', rateLimitedWarn(opts.log, 'bullmq worker error'));
  onReconnected(conn, () => opts.log.warn('redis connection restored'));
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      // a graceful close waits for Redis (its QUIT sits in ioredis' offline queue while Redis is down): force it
      // when Redis cannot be reached, and never wait more than a few seconds (the process exits after this)
      const graceful = conn.status === 'ready';
      await within(worker.close(!graceful), graceful ? 3000 : 1000, undefined);
      replies.disconnect();
      conn.disconnect();
    },
  };
}

function queueUnavailable(detail: string): InvocationResult {
  return errorResult(503, `The invocation queue is unavailable: ${detail}`, { code: 'QUEUE_UNAVAILABLE' });
}

function isNoCapacity(e: unknown): boolean {
  return e instanceof AppError && (e.code === 'NO_CAPACITY' || e.code === 'APP_BUSY');
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
