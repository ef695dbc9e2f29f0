/**
 * BullMQ transport (REDIS_URL set): the orchestrator adds jobs to queue `picloud-invoke`; executor processes run
 * them with their worker-thread pool. A job carries a batch of the invocations that arrived in the same event-loop
 * turn (one at low load, up to 64 under load): BullMQ costs ~0.5 ms of Redis scripts per job whatever its size,
 * which capped one-invocation-per-job at ~1.5k/s on 2 cores. Results come back one by one as each invocation
 * finishes, on a per-orchestrator Redis list (`<prefix>:reply:<uuid>`: LPUSH by executors, one blocking BLMPOP
 * loop in the orchestrator that takes up to 512 replies per round trip) instead of QueueEvents, which costs
 * ~1 ms and a stream read per job event (stack-notes §3). HTTP invocations are never
 * retried (attempts 1, removeOnComplete/Fail: true since nothing waits on the job's stored state), and a stalled
 * job is failed rather than re-run (maxStalledCount 0). Idle cost: worker drainDelay 300 s, stalledInterval 5 min,
 * BRPOP with no timeout: no polling.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Cron } from 'croner';
import { Redis } from 'ioredis';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Dispatcher, JobRunner } from './dispatch.ts';
import { errorResult, type InvocationJob, type InvocationResult, type InvocationTarget, type ReplyEnvelope } from './jobs.ts';

export const INVOKE_QUEUE = 'picloud-invoke';

/** Payload of a BullMQ job: an invocation (with where to reply), or a schedule template from a job scheduler. */
export type QueueJobData =
  | { type: 'batch'; jobs: InvocationJob[]; replyTo: string | null }
  | { type: 'tick'; target: InvocationTarget; cron: string };

const MAX_BATCH = 64;

export interface BullmqOptions {
  redisUrl: string;
  /** BullMQ key prefix (tests use a random one) */
  prefix?: string;
  queueName?: string;
  log: Logger;
}

export function redisConnection(url: string, autoPipeline = false): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, enableAutoPipelining: autoPipeline });
  r.on('error', () => {}); // reconnects by itself; errors surface on commands
  return r;
}

interface Pending {
  resolve: (r: InvocationResult) => void;
  timer: NodeJS.Timeout;
  bullJob: Promise<Job | null>;
}

/** The orchestrator side. */
export async function createBullmqDispatcher(opts: BullmqOptions & { maxInFlight?: number; graceMs?: number }): Promise<Dispatcher & { queue: Queue }> {
  const prefix = opts.prefix ?? 'picloud';
  const conn = redisConnection(opts.redisUrl, true);
  const blocking = redisConnection(opts.redisUrl);
  const queue = new Queue(opts.queueName ?? INVOKE_QUEUE, {
    connection: conn,
    prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
  });
  queue.setMaxListeners(0);
  queue.on('error', (err) => opts.log.warn({ err }, 'bullmq queue error'));
  await queue.waitUntilReady();
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
  const loop = async () => {
    while (!closed) {
      try {
        if (blmpop) {
          try {
            const r = (await blocking.call('BLMPOP', 0, 1, replyTo, 'RIGHT', 'COUNT', 512)) as [string, string[]] | null;
            if (r) for (const raw of r[1]) deliver(raw);
            continue;
          } catch (err) {
            if (closed || !/unknown command|ERR/i.test(String((err as Error).message))) throw err;
            blmpop = false; // Redis < 7: one reply per BRPOP
          }
        }
        const r = await blocking.brpop(replyTo, 0);
        if (r) deliver(r[1]);
      } catch (err) {
        if (closed) return;
        opts.log.warn({ err }, 'reply channel error; retrying');
        await new Promise((res) => setTimeout(res, 500));
      }
    }
  };
  void loop();

  const onTimeout = async (id: string) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    let state = 'unknown';
    try {
      const j = await p.bullJob;
      if (j) state = await j.getState();
      if (j && (state === 'waiting' || state === 'prioritized' || state === 'delayed') && (await j.remove().then(() => true, () => false))) {
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
  /** Add the invocations gathered in this event-loop turn as one job. */
  const flush = () => {
    flushQueued = false;
    if (batch.length === 0) return;
    const jobs = batch;
    batch = [];
    const data: QueueJobData = { type: 'batch', jobs, replyTo };
    const added = queue.add('http', data).catch((err: unknown) => {
      opts.log.error({ err }, 'enqueue failed');
      for (const j of jobs) {
        const p = pending.get(j.id);
        if (!p) continue;
        pending.delete(j.id);
        clearTimeout(p.timer);
        p.resolve(errorResult(503, 'No executor capacity: the queue is unavailable'));
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
      if (pending.size >= maxInFlight) {
        rejected++;
        return Promise.reject(new AppError('NO_CAPACITY', 'No executor capacity: the queue is full, try again later'));
      }
      return new Promise<InvocationResult>((resolve) => {
        const timer = setTimeout(() => void onTimeout(job.id), job.target.limits.timeoutMs + (opts.graceMs ?? 5000));
        pending.set(job.id, { resolve, timer, bullJob: Promise.resolve(null) });
        batch.push(job);
        if (batch.length >= MAX_BATCH) flush();
        else if (!flushQueued) {
          flushQueued = true;
          setImmediate(flush);
        }
      });
    },
    submit(job) {
      const data: QueueJobData = { type: 'batch', jobs: [job], replyTo: null };
      queue.add(job.kind, data).catch((err: unknown) => opts.log.error({ err }, 'enqueue failed'));
    },
    stats: () => ({ mode: 'bullmq', inFlight: pending.size, completed, rejected }),
    async close() {
      closed = true;
      for (const [, p] of pending) {
        clearTimeout(p.timer);
        p.resolve(errorResult(503, 'The orchestrator is shutting down'));
      }
      pending.clear();
      blocking.disconnect();
      await queue.close();
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
    const c = new Cron(cron, { timezone: 'UTC', paused: true });
    let d: Date | null = new Date(prev);
    while (out.length < MAX_CATCH_UP && (d = c.nextRun(d)) && d.getTime() < at) out.push(d.getTime());
    c.stop();
  }
  out.push(at);
  return out;
}

/** The executor-process side: runs jobs with `run` and replies on the job's reply list. */
export async function startBullmqWorker(opts: BullmqOptions & { run: JobRunner; concurrency: number }): Promise<{ worker: Worker; close(): Promise<void> }> {
  const prefix = opts.prefix ?? 'picloud';
  const conn = redisConnection(opts.redisUrl);
  const replies = redisConnection(opts.redisUrl, true);
  // Replies finished in the same event-loop turn go out as ONE LPUSH (+ EXPIRE, since the list vanishes whenever
  // the orchestrator drains it) per reply list: a thread's results arrive in batches, and a command per
  // invocation cost more Redis and ioredis work than the invocation itself.
  const outbox = new Map<string, { values: string[]; done: (() => void)[] }>();
  let outboxQueued = false;
  const flushReplies = () => {
    outboxQueued = false;
    for (const [list, o] of outbox) {
      const sent = replies.lpush(list, ...o.values);
      void replies.expire(list, 300).catch(() => {});
      sent.then(() => { for (const d of o.done) d(); }, (err: unknown) => {
        opts.log.warn({ err }, 'reply failed');
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
  const worker = new Worker(
    opts.queueName ?? INVOKE_QUEUE,
    async (bj: Job) => {
      const data = bj.data as QueueJobData;
      if (data.type === 'tick') {
        const at = tickTime(bj);
        for (const t of await ticksDue(replies, `${prefix}:ticks:${bj.repeatJobKey ?? data.cron}`, data.cron, at, bj.attemptsMade)) {
          await opts.run({ kind: 'schedule', id: `${bj.id}@${t}`, target: data.target, cron: data.cron, scheduledAt: t });
        }
        return;
      }
      const replyTo = data.replyTo;
      await Promise.all(data.jobs.map(async (job) => {
        let result: InvocationResult;
        try {
          result = await opts.run(job);
        } catch (err) {
          result = isNoCapacity(err) ? errorResult(503, (err as Error).message) : errorResult(502, 'The executor failed to run the invocation');
        }
        if (replyTo) await reply(replyTo, JSON.stringify({ id: job.id, result } satisfies ReplyEnvelope));
      }));
    },
    {
      connection: conn,
      prefix,
      concurrency: opts.concurrency,
      drainDelay: 300,
      stalledInterval: 300_000,
      maxStalledCount: 0,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 100 },
    },
  );
  worker.on('error', (err) => opts.log.warn({ err }, 'bullmq worker error'));
  await worker.waitUntilReady();
  return {
    worker,
    async close() {
      await worker.close();
      replies.disconnect();
      conn.disconnect();
    },
  };
}

function isNoCapacity(e: unknown): boolean {
  return e instanceof AppError && e.code === 'NO_CAPACITY';
}
