/**
 * The synchronous HTTP path over plain Redis lists (issue 11, architecture.md §7 "Queue (revised)"): no BullMQ, no
 * Lua. Orchestrators LPUSH invocations to one shared list (`<prefix>:http`), all those of an event-loop turn in one
 * command; each executor process takes as many as it has room for with one `BLMPOP … COUNT n`; results come back
 * on the orchestrator's own reply list (`<prefix>:reply:<uuid>`, one LPUSH per executor turn, read with
 * `BLMPOP … COUNT 512`). Measured against a stream with a consumer group (XADD / XREADGROUP / XACK, one more command
 * per invocation and a PEL to trim) the lists cost less Redis CPU per invocation; the consumer group's only gain,
 * re-delivery of an invocation whose executor died, is what an HTTP request must NOT get (deterministic failures are
 * never retried, and a re-run after the client was answered would run it twice).
 *
 * Each invocation carries its deadline (the time its orchestrator answers it anyway): an executor that takes it too
 * late to finish before then answers 503 at once instead of running it (its client has gone or is about to). A dead
 * executor is noticed: when it takes invocations it says so (`taken` on the reply list) and refreshes a heartbeat
 * key (`<prefix>:exec:<id>`, 5 s TTL, every second while it has work); an orchestrator checks the heartbeats of the
 * executors holding its invocations every second and answers those of a vanished one 502. Anything unanswered at
 * its deadline answers 502 (taken) or 503 (never taken). Idle cost: one blocking read per 30 s per connection.
 *
 * Wire format of an invocation (one list element): `<replyTo>\t<deadline ms>\t<target JSON>\t<job JSON without
 * target>` (the target's JSON is encoded once per frozen route-table target, like the thread messages).
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Dispatcher, JobRunner } from './dispatch.ts';
import { errorResult, targetJson, type InvocationJob, type InvocationResult, type InvocationTarget } from './jobs.ts';
import { rateLimitedWarn, redisConnection, startBlockingReader, within } from './redis-util.ts';

export interface ListTransportOptions {
  redisUrl: string;
  /** key prefix (tests use a random one) */
  prefix?: string;
  log: Logger;
}

/** Extra time past timeout_ms an orchestrator waits for an answer (transit, queueing in the executor). */
const GRACE_MS = 5000;
const HEARTBEAT_TTL_MS = 5000;

const httpKey = (prefix: string) => `${prefix}:http`;
const execKey = (prefix: string, id: string) => `${prefix}:exec:${id}`;

/** A reply-list message: an invocation's result, or the ids an executor has just taken. */
type ReplyMessage = { id: string; result: InvocationResult } | { taken: string; ids: string[] };

/** One list element for an invocation. */
export function encodeInvocation(replyTo: string, deadline: number, job: InvocationJob): string {
  const { target, ...rest } = job;
  return `${replyTo}\t${deadline}\t${targetJson(target)}\t${JSON.stringify(rest)}`;
}

/** Decoded targets by their JSON text (frozen, so the executor pool caches their encoding too). */
const decodedTargets = new Map<string, InvocationTarget>();

export function decodeInvocation(raw: string): { replyTo: string; deadline: number; job: InvocationJob } {
  const a = raw.indexOf('\t');
  const b = raw.indexOf('\t', a + 1);
  const c = raw.indexOf('\t', b + 1);
  const tj = raw.slice(b + 1, c);
  let target = decodedTargets.get(tj);
  if (target === undefined) {
    target = Object.freeze(JSON.parse(tj) as InvocationTarget);
    if (decodedTargets.size >= 256) decodedTargets.delete(decodedTargets.keys().next().value!);
    decodedTargets.set(tj, target);
  }
  const job = JSON.parse(raw.slice(c + 1)) as InvocationJob;
  job.target = target;
  return { replyTo: raw.slice(0, a), deadline: Number(raw.slice(a + 1, b)), job };
}

interface Pending {
  resolve: (r: InvocationResult) => void;
  timer: NodeJS.Timeout;
  /** the executor that took it, once it said so */
  executor: string | null;
  /** connection epoch at invoke: another one at the deadline means Redis went away meanwhile */
  epoch: number;
}

export type ListDispatcher = Dispatcher & { onReconnect(f: () => void): void };

/** The orchestrator side. */
export async function createListDispatcher(opts: ListTransportOptions & { maxInFlight?: number; graceMs?: number }): Promise<ListDispatcher> {
  const prefix = opts.prefix ?? 'picloud';
  const list = httpKey(prefix);
  const conn = redisConnection(opts.redisUrl, true);
  await within(new Promise<void>((res) => (conn.status === 'ready' ? res() : conn.once('ready', () => res()))), 10_000, undefined);
  const replyTo = `${prefix}:reply:${randomUUID()}`;
  const pending = new Map<string, Pending>();
  const maxInFlight = opts.maxInFlight ?? 4096;
  const grace = opts.graceMs ?? GRACE_MS;
  let closed = false;
  let completed = 0;
  let rejected = 0;
  let epoch = 0;
  const reconnectListeners: (() => void)[] = [];
  let lost = false;
  conn.on('close', () => {
    epoch++;
    if (!closed && !lost) opts.log.warn('redis connection lost; invocations answer 503 QUEUE_UNAVAILABLE until it is back');
    lost = true;
  });
  conn.on('ready', () => {
    if (!lost) return;
    lost = false;
    opts.log.warn('redis connection restored');
    for (const f of reconnectListeners) f();
  });

  const answer = (id: string, r: InvocationResult) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(r);
  };

  const reader = startBlockingReader({
    redisUrl: opts.redisUrl,
    key: replyTo,
    count: 512,
    log: opts.log,
    onItems: (items) => {
      for (const raw of items) {
        let m: ReplyMessage;
        try {
          m = JSON.parse(raw) as ReplyMessage;
        } catch {
          continue;
        }
        if ('taken' in m) {
          for (const id of m.ids) {
            const p = pending.get(id);
            if (p) p.executor = m.taken;
          }
          continue;
        }
        if (pending.has(m.id)) completed++;
        answer(m.id, m.result);
      }
    },
  });

  const onDeadline = (id: string) => {
    const p = pending.get(id);
    if (!p) return;
    if (conn.status !== 'ready' || p.epoch !== epoch) answer(id, queueUnavailable('the connection to Redis was lost while this invocation was pending; it may or may not have run'));
    else if (p.executor) answer(id, errorResult(502, 'The executor did not answer: it crashed or was stopped while running this invocation'));
    else answer(id, errorResult(503, 'No executor capacity: no executor took the invocation in time', { code: 'NO_CAPACITY' }));
  };

  // Dead executors: every second while some invocation is held by an executor, check the holders' heartbeats.
  const warnHb = rateLimitedWarn(opts.log, 'executor heartbeat check failed');
  const heartbeat = setInterval(() => {
    const held = new Set<string>();
    for (const p of pending.values()) if (p.executor) held.add(p.executor);
    if (held.size === 0 || conn.status !== 'ready') return;
    const ids = [...held];
    conn.mget(...ids.map((e) => execKey(prefix, e))).then((vals) => {
      const dead = new Set(ids.filter((_, i) => vals[i] === null));
      if (dead.size === 0) return;
      opts.log.warn({ executors: [...dead] }, 'executor vanished: its invocations answer 502');
      for (const [id, p] of pending) if (p.executor && dead.has(p.executor)) answer(id, errorResult(502, 'The executor running this invocation stopped answering (it crashed or was killed)'));
    }, warnHb);
  }, 1000);
  heartbeat.unref();

  let outbox: string[] = [];
  let outboxIds: string[] = [];
  let flushQueued = false;
  const flush = () => {
    flushQueued = false;
    const items = outbox;
    const ids = outboxIds;
    outbox = [];
    outboxIds = [];
    if (items.length === 0) return;
    conn.lpush(list, ...items).catch((err: unknown) => {
      opts.log.error({ err }, 'enqueue failed');
      for (const id of ids) answer(id, queueUnavailable('the invocation could not be queued; nothing was run'));
    });
  };
  const push = (raw: string, id: string | null) => {
    outbox.push(raw);
    if (id) outboxIds.push(id);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  };

  return {
    mode: 'redis',
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
        const wait = job.target.limits.timeoutMs + grace;
        const timer = setTimeout(() => onDeadline(job.id), wait + 50);
        pending.set(job.id, { resolve, timer, executor: null, epoch });
        push(encodeInvocation(replyTo, Date.now() + wait, job), job.id);
      });
    },
    submit(job) {
      if (conn.status !== 'ready') {
        opts.log.warn({ kind: job.kind }, 'not enqueued: Redis cannot be reached');
        return;
      }
      push(encodeInvocation('', Date.now() + job.target.limits.timeoutMs + grace, job), null);
    },
    onReconnect(f) {
      reconnectListeners.push(f);
    },
    ping: () => within(conn.ping().then((r) => r === 'PONG'), 1000, false),
    stats: () => ({ mode: 'redis', inFlight: pending.size, completed, rejected }),
    async close() {
      closed = true;
      clearInterval(heartbeat);
      flush();
      for (const [id] of pending) answer(id, errorResult(503, 'The orchestrator is shutting down'));
      reader.close();
      // a graceful QUIT waits in ioredis' offline queue while Redis is down: only when it is up
      if (conn.status === 'ready') await within(conn.quit().then(() => undefined), 2000, undefined);
      conn.disconnect();
    },
  };
}

/**
 * The executor side: takes invocations from the shared list while it has room (`capacity` in flight), runs them
 * with `run` and replies on each invocation's reply list.
 */
export async function startListWorker(opts: ListTransportOptions & { run: JobRunner; capacity: number; id?: string }): Promise<{ id: string; stats(): { taken: number; late: number }; close(): Promise<void> }> {
  const prefix = opts.prefix ?? 'picloud';
  const id = opts.id ?? randomUUID().slice(0, 12);
  const hbKey = execKey(prefix, id);
  const replies = redisConnection(opts.redisUrl, true);
  const warnReply = rateLimitedWarn(opts.log, 'reply failed');
  let inFlight = 0;
  let taken = 0;
  let late = 0;
  let closed = false;
  let roomWaiter: (() => void) | null = null;
  const idle: (() => void)[] = [];

  // replies finished in one event-loop turn go out as one LPUSH per reply list (+ EXPIRE: the list vanishes
  // whenever its orchestrator drains it, and one whose orchestrator died must not stay)
  const outbox = new Map<string, string[]>();
  let outboxQueued = false;
  const flushReplies = () => {
    outboxQueued = false;
    for (const [list, values] of outbox) {
      void within(replies.lpush(list, ...values).then(() => true), 5000, false).then((ok) => ok || warnReply(new Error('reply not delivered: Redis cannot be reached')));
      void replies.pexpire(list, 300_000).catch(() => {});
    }
    outbox.clear();
  };
  const reply = (list: string, m: ReplyMessage) => {
    if (!list) return;
    let o = outbox.get(list);
    if (!o) outbox.set(list, (o = []));
    o.push(JSON.stringify(m));
    if (!outboxQueued) {
      outboxQueued = true;
      setImmediate(flushReplies);
    }
  };

  const beat = () => void replies.set(hbKey, '1', 'PX', HEARTBEAT_TTL_MS).catch(() => {});
  beat(); // present from the start (tests and operators can see it)
  const hbTimer = setInterval(() => {
    if (inFlight > 0) beat();
  }, 1000);
  hbTimer.unref();

  const done = () => {
    inFlight--;
    if (roomWaiter) {
      const w = roomWaiter;
      roomWaiter = null;
      w();
    }
    if (inFlight === 0) for (const f of idle.splice(0)) f();
  };

  const runOne = (replyTo: string, job: InvocationJob) => {
    inFlight++;
    opts.run(job).then(
      (result) => reply(replyTo, { id: job.id, result }),
      (err: unknown) => reply(replyTo, {
        id: job.id,
        result: err instanceof AppError && (err.code === 'NO_CAPACITY' || err.code === 'APP_BUSY')
          ? errorResult(503, err.message, { code: err.code })
          : errorResult(502, 'The executor failed to run the invocation'),
      }),
    ).finally(done);
  };

  const onItems = (items: string[]) => {
    const now = Date.now();
    const takenBy = new Map<string, string[]>();
    for (const raw of items) {
      let inv;
      try {
        inv = decodeInvocation(raw);
      } catch (err) {
        opts.log.error({ err }, 'undecodable invocation dropped');
        continue;
      }
      if (now + inv.job.target.limits.timeoutMs > inv.deadline) {
        // its orchestrator answers it before this run could end: do not run it
        late++;
        reply(inv.replyTo, { id: inv.job.id, result: errorResult(503, 'No executor capacity: no executor took the invocation in time', { code: 'NO_CAPACITY' }) });
        continue;
      }
      taken++;
      if (inv.replyTo) {
        let ids = takenBy.get(inv.replyTo);
        if (!ids) takenBy.set(inv.replyTo, (ids = []));
        ids.push(inv.job.id);
      }
      runOne(inv.replyTo, inv.job);
    }
    if (takenBy.size) {
      beat();
      for (const [list, ids] of takenBy) reply(list, { taken: id, ids });
    }
  };

  const reader = startBlockingReader({
    redisUrl: opts.redisUrl,
    key: httpKey(prefix),
    count: () => Math.max(0, opts.capacity - inFlight),
    waitForRoom: () => new Promise<void>((res) => {
      if (inFlight < opts.capacity || closed) res();
      else roomWaiter = res;
    }),
    log: opts.log,
    onItems,
  });

  return {
    id,
    stats: () => ({ taken, late }),
    async close() {
      closed = true;
      reader.close();
      clearInterval(hbTimer);
      if (inFlight > 0 && replies.status === 'ready') await within(new Promise<void>((res) => idle.push(res)), 5000, undefined);
      flushReplies();
      if (replies.status === 'ready') await within(replies.del(hbKey).then(() => replies.quit()).then(() => undefined), 2000, undefined);
      replies.disconnect();
    },
  };
}

function queueUnavailable(detail: string): InvocationResult {
  return errorResult(503, `The invocation queue is unavailable: ${detail}`, { code: 'QUEUE_UNAVAILABLE' });
}

