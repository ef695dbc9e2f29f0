/**
 * The synchronous HTTP path: over direct lanes to the executors that dialed this orchestrator (lanes.ts, the
 * transport only; invocations, deadlines and results are this module's on both paths), and over plain Redis lists
 * while it has none (issue 11, architecture.md §7 "Queue (revised)", "Direct lanes"). The lists: no BullMQ, no
 * Lua. Orchestrators LPUSH invocations to one shared list (`<prefix>:http`), all those of an event-loop turn in one
 * command; each executor process takes as many as it has room for with one `BLMPOP … COUNT n`; results come back on
 * the orchestrator's own reply list (`<prefix>:reply:<uuid>`, one element per executor turn holding that turn's
 * replies as lines, read with `BLMPOP … COUNT 512`). Measured against a stream with a consumer group (XADD /
 * XREADGROUP / XACK, one more command per invocation and a PEL to trim) the lists cost less: one direction, 600-byte
 * messages, batches of 8, about 7 against 16–18 µs of Redis CPU and half the client CPU per message (1.5× Redis CPU
 * unbatched); the consumer group's only gain, re-delivery of an invocation whose executor died, is what an HTTP
 * request must NOT get (deterministic failures are never retried, and a re-run after the client was answered would
 * run it twice).
 *
 * One list worker per executor process (its main thread), handing invocations to its threads, rather than each thread
 * popping and replying itself (tried in 7f6cccf, reverted): with the default 3 threads per process the executors cost
 * ~20 % more CPU per request at c50 (99/100 → 124/124 µs, Redis 18–21 → 27 µs: six poppers split the batches one took),
 * though with 1 thread per process it was 18 % cheaper (103/99 → 84/82 µs). One pop in flight per process, its
 * token passed among the threads (Atomics.waitAsync), did not help (one A/B: 92/89 → 125/118 µs, p50 c1 0.62 → 1.29
 * ms): the extra cost is per thread, not the number of poppers alone.
 *
 * Each invocation carries its deadline (the time its orchestrator answers it anyway): an executor that takes it too
 * late to finish before then answers 503 at once instead of running it (its client has gone or is about to). A dead
 * executor is noticed: an invocation it has held for TAKEN_AFTER_MS it reports (`taken` on the reply list; a quick
 * one has answered by then and costs no such message), and while it holds work it refreshes a heartbeat key
 * (`<prefix>:exec:<id>`, 5 s TTL, every second); an orchestrator checks the heartbeats of the executors holding its
 * invocations every second and answers those of a vanished one 502, but sends those it held parked unstarted to
 * another executor (ListClaims). Anything unanswered at its deadline answers 502
 * (taken) or 503 (never taken). The orchestrator keeps no timer per invocation: one tick every TICK_MS while any is
 * pending. Idle cost: one blocking read per 30 s per connection.
 *
 * Wire format of an invocation (one list element): `<replyTo>\t<deadline ms>\t<target JSON>\t<job JSON without
 * target>` (the target's JSON is encoded once per frozen route-table target, like the thread messages; an executor
 * forwards the job's JSON text to its threads as it came). A reply-list element: one line per message, a result as
 * `[id, status, headers, body, error]` (see WireResult), a notice as `{"taken": executor, "ids": [...]}`.
 */
import { randomUUID } from 'node:crypto';
import { appPartOf } from '../common/app-part.ts';
import { AppError, type ErrorCode } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Dispatcher, JobRunner, StartGate } from './dispatch.ts';
import { errorResult, jobRestJson, keepRestJson, targetJson, type InvocationJob, type InvocationResult, type InvocationTarget } from './jobs.ts';
import type { LaneListen } from '../common/config.ts';
import { startLaneRouting, type LaneRouting } from './lane-routing.ts';
import { startLaneClients, type LaneClients, type LaneReply } from './lanes.ts';
import type { Redis } from 'ioredis';
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
/** the orchestrator's deadline check period while invocations are pending */
const TICK_MS = 100;
/**
 * An executor says it has taken an invocation (`taken`) only once it has held it this long: a quick one answers
 * before, so it costs no message; a slow one's orchestrator learns its executor within TAKEN_AFTER_MS + one tick.
 */
const TAKEN_AFTER_MS = 50;
/** reply lists' expiry (re-armed at most every REPLY_EXPIRE_EVERY_MS per list, not per push) */
const REPLY_TTL_MS = 300_000;
const REPLY_EXPIRE_EVERY_MS = 30_000;
/** the executor's heartbeat key is refreshed at most this often */
const BEAT_EVERY_MS = 1000;

const httpKey = (prefix: string) => `${prefix}:http`;
const execKey = (prefix: string, id: string) => `${prefix}:exec:${id}`;
/** an invocation taken from the lists that its executor holds unstarted (ListClaims) */
const parkKey = (prefix: string, id: string) => `${prefix}:park:${id}`;
/** a park key outlives an executor and an orchestrator that both died this long (a claim deletes it otherwise) */
const PARK_TTL_MS = 300_000;
/** a claim that Redis does not answer in this long is refused (the invocation is not run here) */
const CLAIM_WAIT_MS = 2000;
/** the value an orchestrator swaps into a park key when it sends that invocation elsewhere (an executor id is hex) */
const TAKEN_BACK = 'taken-back';

/** A reply-list message: an invocation's result, or the ids an executor has just taken. */
type ReplyMessage = { id: string; result: InvocationResult } | { taken: string; ids: string[] };

/**
 * A result on the wire: `[id, status, headers, body, error]`. What an orchestrator uses of it (the ingress answers
 * with status, headers and body; the job runner reads the error): the executor thread records the invocation (its
 * duration, operations, log lines) itself, so those do not travel.
 */
type WireResult = [string, number, Record<string, string>, string, string | null];

export function encodeReply(m: ReplyMessage): string {
  if ('taken' in m) return JSON.stringify(m);
  const r = m.result;
  return JSON.stringify([m.id, r.status, r.headers, r.body, r.error] satisfies WireResult);
}

export function decodeReply(raw: string): ReplyMessage {
  const v = JSON.parse(raw) as WireResult | { taken: string; ids: string[] };
  if (!Array.isArray(v)) return v;
  return { id: v[0], result: { status: v[1], headers: v[2], body: v[3], error: v[4], durationMs: 0, operations: 0, cold: false, logs: [] } };
}

/** One list element for an invocation. */
export function encodeInvocation(replyTo: string, deadline: number, job: InvocationJob): string {
  return `${replyTo}\t${deadline}\t${targetJson(job.target)}\t${jobRestJson(job)}`;
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
  const rest = raw.slice(c + 1);
  const job = keepRestJson(JSON.parse(rest) as InvocationJob, rest);
  job.target = target;
  return { replyTo: raw.slice(0, a), deadline: Number(raw.slice(a + 1, b)), job };
}

export interface Pending {
  resolve: (r: InvocationResult) => void;
  /** performance.now() at which the orchestrator answers it anyway */
  deadline: number;
  /** the executor that took it, once it said so (or the lane's, once sent on one) */
  executor: string | null;
  /** performance.now() since `executor` is known: its heartbeat counts from a second later */
  since: number;
  /** sent on a lane (its fate does not depend on the Redis connection) */
  onLane: boolean;
  /** connection epoch at invoke: another one at the deadline means Redis went away meanwhile */
  epoch: number;
  /** the invocation, to send again when a stopping executor hands it back unrun */
  job: InvocationJob;
  /** Date.now() deadline carried on the wire */
  wireDeadline: number;
  /** times it was sent again unrun: handed back by a stopping executor, or parked on a lane that closed */
  handedBack: number;
}

/** an invocation sent again unrun more often than this is answered 503 EXECUTOR_STOPPING (nothing ran) */
const MAX_HAND_BACKS = 3;

/** The answer for an invocation an executor process that stops hands back unrun (its orchestrator sends it again). */
export function handedBack(): InvocationResult {
  return errorResult(503, 'The executor process stopped before it started this invocation; nothing was run, try again', { code: 'EXECUTOR_STOPPING' satisfies ErrorCode });
}

const isHandedBack = (r: InvocationResult) => r.status === 503 && r.body.includes('"code":"EXECUTOR_STOPPING"');

/**
 * An executor's replies on the reply lists: those finished in one event-loop turn go out as one list element per
 * reply list (lines joined by '\n'), in one LPUSH; the list's expiry (it vanishes whenever its orchestrator drains
 * it, and one whose orchestrator died must not stay) is re-armed at most every REPLY_EXPIRE_EVERY_MS, not per push.
 */
class ReplyOutbox {
  private readonly lines = new Map<string, string[]>();
  private readonly expiredAt = new Map<string, number>();
  private queued = false;
  constructor(private readonly conn: Redis, private readonly warn: (err: unknown) => void) {}

  add(list: string, line: string): void {
    let o = this.lines.get(list);
    if (!o) this.lines.set(list, (o = []));
    o.push(line);
    if (!this.queued) {
      this.queued = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.queued = false;
    const now = performance.now();
    // usually one command (one orchestrator): sent as is; several go out in one pipeline (one write)
    const cmds: [string, string, ...string[]][] = [];
    for (const [list, lines] of this.lines) {
      cmds.push(['lpush', list, lines.join('\n')]);
      const at = this.expiredAt.get(list);
      if (at === undefined || now - at > REPLY_EXPIRE_EVERY_MS) {
        if (this.expiredAt.size >= 4096) this.expiredAt.clear();
        this.expiredAt.set(list, now);
        cmds.push(['pexpire', list, String(REPLY_TTL_MS)]);
      }
    }
    this.lines.clear();
    if (cmds.length === 1) this.conn.lpush(cmds[0]![1], cmds[0]![2]).catch(this.warn);
    else if (cmds.length > 1) this.conn.pipeline(cmds).exec().catch(this.warn);
  };
}

export type ListDispatcher = Dispatcher & { onReconnect(f: () => void): void };

/** Apply reply-list elements (lines of results and `taken` notices) to the pending invocations. */
function applyReplies(items: string[], pending: Map<string, Pending>, settle: (id: string, r: InvocationResult) => void): void {
  for (const item of items) for (const raw of item.split('\n')) {
    let m: ReplyMessage;
    try {
      m = decodeReply(raw);
    } catch {
      continue;
    }
    if ('taken' in m) {
      for (const id of m.ids) {
        const p = pending.get(id);
        if (p) {
          p.executor = m.taken;
          p.since = performance.now();
        }
      }
      continue;
    }
    settle(m.id, m.result);
  }
}

/**
 * The invocations held by executors whose heartbeat key is gone (crashed, killed), of those known to hold them for over
 * a second (an executor beats when it takes work, so a younger one may not have yet): those it had parked unstarted
 * from the lists (their park key still holds its id; swapped here for TAKEN_BACK, so no claim of that executor can
 * start them, ListClaims) go to another executor with `resend` (which answers 503 EXECUTOR_STOPPING, nothing ran,
 * to one sent again too often), the rest answer 502.
 */
async function failVanished(conn: Redis, prefix: string, pending: Map<string, Pending>, answer: (id: string, r: InvocationResult) => void, resend: (p: Pending) => boolean, log: Logger): Promise<number> {
  const settled = performance.now() - 1000;
  // with the executor each held them by (an invocation sent again meanwhile is no longer this one's)
  const known = [...pending.values()].filter((p) => p.executor && p.since < settled).map((p) => ({ p, executor: p.executor! }));
  if (known.length === 0) return 0;
  const ids = [...new Set(known.map((k) => k.executor))];
  const vals = await conn.mget(...ids.map((e) => execKey(prefix, e)));
  const dead = new Set(ids.filter((_, i) => vals[i] === null));
  if (dead.size === 0) return 0;
  const lost = known.filter((k) => dead.has(k.executor));
  const fromLists = lost.filter((k) => !k.p.onLane);
  const unstarted = new Set<Pending>();
  if (fromLists.length) {
    const res = await conn.pipeline(fromLists.map((k) => ['set', parkKey(prefix, k.p.job.id), TAKEN_BACK, 'PX', String(PARK_TTL_MS), 'GET'])).exec();
    res?.forEach(([err, old], i) => {
      if (!err && typeof old === 'string' && old !== TAKEN_BACK) unstarted.add(fromLists[i]!.p);
    });
  }
  let sent = 0;
  for (const { p, executor } of lost) {
    const id = p.job.id;
    if (pending.get(id) !== p || p.executor !== executor) continue; // answered or sent again meanwhile
    if (!unstarted.has(p)) answer(id, errorResult(502, 'The executor running this invocation stopped answering (it crashed or was killed)'));
    else if (resend(p)) sent++;
  }
  log.warn({ executors: [...dead], failed: lost.length - unstarted.size, sentAgain: sent }, 'executor vanished: the invocations it had started answer 502, those it held unstarted go to another executor');
  return sent;
}

/**
 * The orchestrator's invocations of one event-loop turn, pushed to the shared list in one LPUSH (`onFail` gets the
 * ids of those a failed push lost, to answer them: nothing was run).
 */
class InvocationOutbox {
  private items: string[] = [];
  private ids: string[] = [];
  private queued = false;
  constructor(
    private readonly conn: Redis,
    private readonly list: string,
    private readonly onFail: (err: unknown, ids: string[]) => void,
  ) {}

  /** queue one list element; `id` when an answer is pending on it */
  add(raw: string, id: string | null): void {
    this.items.push(raw);
    if (id) this.ids.push(id);
    if (!this.queued) {
      this.queued = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.queued = false;
    const items = this.items;
    const ids = this.ids;
    this.items = [];
    this.ids = [];
    if (items.length === 0) return;
    this.conn.lpush(this.list, ...items).catch((err: unknown) => this.onFail(err, ids));
  };
}

/**
 * An interval that runs only while there is something to do: `arm` starts it, and it stops itself the first time
 * `step` returns false (so an idle process is not woken), or for good at `stop`.
 */
class BusyInterval {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  constructor(
    private readonly ms: number,
    private readonly step: () => boolean,
  ) {}

  arm(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      if (!this.step() && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    }, this.ms);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * One timer while anything is pending (no timer per invocation): every TICK_MS it answers the invocations past their
 * deadline (`onDeadline`), and every second it runs `everySecond` (the heartbeat check of the executors holding some).
 */
function deadlineTicker(pending: Map<string, Pending>, onDeadline: (id: string) => void, everySecond: () => void): BusyInterval {
  let ticks = 0;
  return new BusyInterval(TICK_MS, () => {
    const now = performance.now();
    for (const [id, p] of pending) if (p.deadline <= now) onDeadline(id);
    if (++ticks % (1000 / TICK_MS) === 0) everySecond();
    return pending.size > 0;
  });
}

/** Placeholder reply list of an invocation sent on a lane (its reply comes back on the lane). */
const ON_LANE = '=';


/**
 * The invocations an orchestrator has pending, by id, counted per app: one app holds at most three quarters of
 * `max`, so its flood never answers every other app NO_CAPACITY here (it gets APP_BUSY itself).
 */
export class PendingInvocations {
  /** by id (the deadline ticker, the heartbeat check and the lanes read it) */
  readonly byId = new Map<string, Pending>();
  private readonly perApp = new Map<number, number>();
  private readonly appCap: number;
  constructor(private readonly max: number) {
    this.appCap = appPartOf(max);
  }

  get size(): number {
    return this.byId.size;
  }

  /** why a new invocation of `job`'s app cannot be pending now, or null (then add it) */
  refusal(job: InvocationJob): AppError | null {
    if (this.byId.size >= this.max) return new AppError('NO_CAPACITY', 'No executor capacity: the queue is full, try again later');
    const held = this.perApp.get(job.target.appId) ?? 0;
    if (held >= this.appCap) return new AppError('APP_BUSY', `App ${job.target.app} has ${held} invocations pending at this orchestrator (three quarters of what it holds); try again later`, { app: job.target.app });
    return null;
  }

  add(p: Pending): void {
    const app = p.job.target.appId;
    this.perApp.set(app, (this.perApp.get(app) ?? 0) + 1);
    this.byId.set(p.job.id, p);
  }

  /** answer a pending invocation (once: false when it was not pending) */
  answer(id: string, r: InvocationResult): boolean {
    const p = this.byId.get(id);
    if (!p) return false;
    this.byId.delete(id);
    const app = p.job.target.appId;
    const n = this.perApp.get(app)!;
    if (n <= 1) this.perApp.delete(app);
    else this.perApp.set(app, n - 1);
    p.resolve(r);
    return true;
  }
}

/**
 * The orchestrator's Redis connection as its invocations see it: an epoch that moves on each loss (an invocation
 * pushed in another epoch may have been lost with the connection), a warning on loss and on return, and the
 * listeners told when it is back (the schedules are re-created then).
 */
function watchConnection(conn: Redis, log: Logger, closed: () => boolean): { epoch(): number; onReconnect(f: () => void): void } {
  let epoch = 0;
  let lost = false;
  const listeners: (() => void)[] = [];
  conn.on('close', () => {
    epoch++;
    if (!closed() && !lost) log.warn('redis connection lost; invocations answer 503 QUEUE_UNAVAILABLE until it is back');
    lost = true;
  });
  conn.on('ready', () => {
    if (!lost) return;
    lost = false;
    log.warn('redis connection restored');
    for (const f of listeners) f();
  });
  return { epoch: () => epoch, onReconnect: (f) => listeners.push(f) };
}

/**
 * The orchestrator side. With `lanes`, invocations go on direct lanes to the executors that dialed this
 * orchestrator (lanes.ts), waiting here for a lane's credit in one FIFO per app, served round-robin; they use the
 * shared list only while no executor holds a lane to this orchestrator (none reached it yet, or its address cannot
 * be reached). An invocation a stopping executor hands back unrun (503 EXECUTOR_STOPPING) is sent again.
 */
export async function createListDispatcher(opts: ListTransportOptions & { maxInFlight?: number; graceMs?: number; lanes?: LaneListen | null }): Promise<ListDispatcher> {
  const prefix = opts.prefix ?? 'picloud';
  const list = httpKey(prefix);
  // no auto-pipelining: invocations are already batched per turn (one LPUSH), and ioredis' auto-pipeline costs a
  // Pipeline object per turn on top (profiled)
  const conn = redisConnection(opts.redisUrl);
  await within(new Promise<void>((res) => (conn.status === 'ready' ? res() : conn.once('ready', () => res()))), 10_000, undefined);
  const replyTo = `${prefix}:reply:${randomUUID()}`;
  const table = new PendingInvocations(opts.maxInFlight ?? 4096);
  const pending = table.byId;
  const grace = opts.graceMs ?? GRACE_MS;
  let closed = false;
  let completed = 0;
  let rejected = 0;
  const connection = watchConnection(conn, opts.log, () => closed);
  const answer = (id: string, r: InvocationResult) => void table.answer(id, r);
  /** send an invocation that never ran to another executor, with its whole time again; false: not again */
  const again = (p: Pending): boolean => {
    if (p.handedBack >= MAX_HAND_BACKS || closed) return false;
    const wait = p.job.target.limits.timeoutMs + grace;
    p.handedBack++;
    p.executor = null;
    p.onLane = false;
    p.deadline = performance.now() + wait + 50;
    p.wireDeadline = Date.now() + wait;
    p.epoch = connection.epoch();
    send(p);
    return true;
  };
  /** `again`, or, once it was sent again too often, its answer 503 EXECUTOR_STOPPING (nothing ran): true when sent */
  const resend = (p: Pending): boolean => {
    if (again(p)) return true;
    answer(p.job.id, handedBack());
    return false;
  };
  // an executor's result (on a reply list or a lane): the one place a completion is counted
  const settle = (id: string, r: InvocationResult) => {
    const p = pending.get(id);
    // a stopping executor handed it back unrun: send it again, to another executor
    if (p && isHandedBack(r) && again(p)) return;
    if (p) completed++;
    answer(id, r);
  };

  const reader = startBlockingReader({
    redisUrl: opts.redisUrl,
    key: replyTo,
    count: 512,
    log: opts.log,
    onItems: (items) => applyReplies(items, pending, settle),
  });

  const onDeadline = (id: string) => {
    const p = pending.get(id);
    if (!p) return;
    if (!p.onLane && (conn.status !== 'ready' || p.epoch !== connection.epoch())) answer(id, queueUnavailable('the connection to Redis was lost while this invocation was pending; it may or may not have run'));
    else if (p.executor) answer(id, errorResult(502, 'The executor did not answer: it crashed or was stopped while running this invocation'));
    else answer(id, errorResult(503, 'No executor capacity: no executor took the invocation in time', { code: 'NO_CAPACITY' }));
  };

  const warnHb = rateLimitedWarn(opts.log, 'executor heartbeat check failed');
  let sentAgainFromLists = 0;
  const ticker = deadlineTicker(pending, onDeadline, () => {
    if (conn.status === 'ready') failVanished(conn, prefix, pending, answer, resend, opts.log).then((n) => void (sentAgainFromLists += n), warnHb);
  });

  const outbox = new InvocationOutbox(conn, list, (err, ids) => {
    opts.log.error({ err }, 'enqueue failed');
    for (const id of ids) answer(id, queueUnavailable('the invocation could not be queued; nothing was run'));
  });
  const push = (raw: string, id: string | null) => outbox.add(raw, id);
  // on a lane while one is open, else on the shared list (declared below: lanes)
  const send = (p: Pending, laneOpen = lanes !== null && lanes.open()) => {
    const { job } = p;
    if (laneOpen) lanes!.send(job.id, encodeInvocation(ON_LANE, p.wireDeadline, job), job.target.appId);
    else push(encodeInvocation(replyTo, p.wireDeadline, job), job.id);
  };

  // direct lanes: while one is open, invocations go there (lane-routing.ts), the lists being its fallback
  const lanes: LaneRouting | null = opts.lanes
    ? await startLaneRouting({
      listen: opts.lanes, redis: conn, prefix, log: opts.log, pending, answer, settle,
      sendAgain(id) {
        const p = pending.get(id);
        return p !== undefined && resend(p);
      },
      decode(line) {
        try {
          const m = decodeReply(line);
          return 'taken' in m ? null : m;
        } catch {
          return null;
        }
      },
      toLists: (id, raw) => push(replyTo + raw.slice(ON_LANE.length), id),
    })
    : null;

  return {
    mode: 'redis',
    invoke(job) {
      if (closed) return Promise.reject(new AppError('NO_CAPACITY', 'The orchestrator is shutting down'));
      // with an executor's lane open, Redis being away does not stop the HTTP path
      const laneOpen = lanes !== null && lanes.open();
      const refusal = !laneOpen && conn.status !== 'ready'
        ? new AppError('QUEUE_UNAVAILABLE', 'The invocation queue is unavailable: Redis cannot be reached; nothing was run, try again later')
        : table.refusal(job);
      if (refusal) {
        rejected++;
        return Promise.reject(refusal);
      }
      return new Promise<InvocationResult>((resolve) => {
        const wait = job.target.limits.timeoutMs + grace;
        const p: Pending = { resolve, deadline: performance.now() + wait + 50, executor: null, since: 0, onLane: false, epoch: connection.epoch(), job, wireDeadline: Date.now() + wait, handedBack: 0 };
        table.add(p);
        ticker.arm();
        send(p, laneOpen);
      });
    },
    submit(job) {
      if (conn.status !== 'ready') {
        opts.log.warn({ kind: job.kind }, 'not enqueued: Redis cannot be reached');
        return;
      }
      push(encodeInvocation('', Date.now() + job.target.limits.timeoutMs + grace, job), null);
    },
    onReconnect: connection.onReconnect,
    // readiness: an executor's lane open, or Redis answering (with a lane open the HTTP path does not need Redis, and
    // a load balancer that took every orchestrator out during a Redis outage would undo that)
    ping: () => (lanes?.open() ? Promise.resolve(true) : within(conn.ping().then((r) => r === 'PONG'), 1000, false)),
    stats: () => {
      const l = lanes?.stats();
      return { mode: 'redis', inFlight: pending.size, completed, rejected, ...l, sentAgain: (l?.sentAgain ?? 0) + sentAgainFromLists };
    },
    async close() {
      closed = true;
      ticker.stop();
      await lanes?.close();
      outbox.flush();
      for (const [id] of pending) answer(id, errorResult(503, 'The orchestrator is shutting down'));
      reader.close();
      // a graceful QUIT waits in ioredis' offline queue while Redis is down: only when it is up
      if (conn.status === 'ready') await within(conn.quit().then(() => undefined), 2000, undefined);
      conn.disconnect();
    },
  };
}

/**
 * An executor's heartbeat key (`<prefix>:exec:<id>`, HEARTBEAT_TTL_MS), set at start and kept fresh while the
 * process holds work: the interval runs only then, so an idle executor is not woken every second.
 */
class Heartbeat {
  private at = -Infinity;
  private readonly interval: BusyInterval;
  constructor(
    private readonly conn: Redis,
    private readonly key: string,
    private readonly holdsWork: () => boolean,
  ) {
    this.interval = new BusyInterval(BEAT_EVERY_MS, () => {
      if (!this.holdsWork()) return false;
      this.beat();
      return true;
    });
    this.beat(); // present from the start (tests and operators can see it)
  }

  private beat(): void {
    this.at = performance.now();
    void this.conn.set(this.key, '1', 'PX', HEARTBEAT_TTL_MS).catch(() => {});
  }

  /** work was taken: beat every BEAT_EVERY_MS until none is held */
  arm(): void {
    this.interval.arm();
  }

  /** the key must be fresh while work is held (the interval keeps it so from here) */
  fresh(): void {
    if (this.holdsWork() && performance.now() - this.at > BEAT_EVERY_MS) this.beat();
  }

  stop(): void {
    this.interval.stop();
  }
}

/**
 * Invocations running here whose orchestrator has not been told yet (see TAKEN_AFTER_MS): once one has run that
 * long, `send` tells its reply list, with the others of that list due by then, in one `taken` notice.
 */
class TakenAnnouncer {
  private readonly unannounced = new Map<string, { replyTo: string; at: number }>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  constructor(private readonly send: (list: string, ids: string[]) => void) {}

  add(jobId: string, replyTo: string): void {
    this.unannounced.set(jobId, { replyTo, at: performance.now() });
  }

  /** answered: nothing to announce */
  forget(jobId: string): void {
    this.unannounced.delete(jobId);
  }

  /** announce what is due in TAKEN_AFTER_MS, if anything waits */
  arm(): void {
    if (this.timer || this.stopped || this.unannounced.size === 0) return;
    this.timer = setTimeout(this.announce, TAKEN_AFTER_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly announce = (): void => {
    this.timer = null;
    const now = performance.now();
    const byList = new Map<string, string[]>();
    for (const [jobId, u] of this.unannounced) {
      if (now - u.at < TAKEN_AFTER_MS) break; // insertion order = taking order
      this.unannounced.delete(jobId);
      let ids = byList.get(u.replyTo);
      if (!ids) byList.set(u.replyTo, (ids = []));
      ids.push(jobId);
    }
    for (const [list, ids] of byList) this.send(list, ids);
    this.arm();
  };
}

/**
 * Claims on the lists (0.4.7; over a lane the same is done with `P`/`C` messages, lanes.ts): an invocation taken from
 * the lists that waits in its app's queue here (parked by the pool after PARK_AFTER_MS) gets a park key in Redis
 * holding this executor's id, and is started only once this executor takes that key back (`claim`: GETDEL) and finds
 * it not swapped for TAKEN_BACK. The orchestrator of an executor whose heartbeat lapsed swaps the park keys of what that
 * executor held (failVanished, `SET … GET`): where it found the executor's id, the invocation had not started and goes
 * to another executor; where the claim had taken the key, it may have run and answers 502. One atomic command on each
 * side decides, so nothing runs twice and no Lua is needed. A key that is gone (Redis restarted empty, or past its
 * TTL) lets the claim start it: Redis losing its data must not drop work an executor holds. Parks of a sweep go out
 * in one pipeline; an invocation claimed before its park was sent was never visible to anyone and starts at once. A
 * refused claim's "not run" answer is not sent: its orchestrator has sent the invocation elsewhere under the same id.
 * Mixed versions: an orchestrator of 0.4.6 never swaps park keys (the claims always win: its 502s as before), and
 * one of 0.4.7 finds none from an executor of 0.4.6 (502 as before).
 */
export class ListClaims implements StartGate {
  private parks: string[] = [];
  private queued = false;
  /** parked and not claimed: their key is set (or about to be) */
  private readonly parked = new Set<string>();
  /** claims asked or granted, by invocation id, until it ends (a task posted again is claimed again: `true`) */
  private readonly asked = new Map<string, Promise<boolean>>();
  /** invocations whose claim was refused: their answer is not sent */
  private readonly refused = new Set<string>();
  constructor(private readonly conn: Redis, private readonly prefix: string, private readonly executor: string) {}

  park(id: string): void {
    this.parked.add(id);
    this.parks.push(id);
    if (!this.queued) {
      this.queued = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.queued = false;
    const ids = this.parks;
    this.parks = [];
    if (ids.length === 0) return;
    this.conn.pipeline(ids.map((id) => ['set', parkKey(this.prefix, id), this.executor, 'PX', String(PARK_TTL_MS)])).exec().catch(() => {});
  };

  /** true when its park had not been sent yet (taken back from the batch: nobody saw it) */
  private unsent(id: string): boolean {
    const i = this.parks.indexOf(id);
    if (i >= 0) this.parks.splice(i, 1);
    return i >= 0;
  }

  claim(id: string): Promise<boolean> {
    let c = this.asked.get(id);
    if (c) return c;
    this.parked.delete(id);
    c = this.unsent(id)
      ? Promise.resolve(true)
      : within(this.conn.getdel(parkKey(this.prefix, id)), CLAIM_WAIT_MS, TAKEN_BACK).catch(() => TAKEN_BACK).then((v) => {
        // its own id (or nothing: Redis lost the key) starts it; TAKEN_BACK or another executor's park does not
        const ok = v === null || v === this.executor;
        if (!ok) this.refused.add(id);
        return ok;
      });
    this.asked.set(id, c);
    return c;
  }

  /**
   * The invocation ended here: whether its answer goes out (false: its claim was refused). One parked and never
   * claimed (handed back by a stopping executor, or out of time in its app's queue) has its key deleted first, on
   * the connection its answer takes after: a stale key would let its orchestrator count it unstarted if the
   * executor it is sent to next died while running it.
   */
  ended(id: string): boolean {
    this.asked.delete(id);
    if (this.parked.delete(id) && !this.unsent(id)) this.conn.del(parkKey(this.prefix, id)).catch(() => {});
    return !this.refused.delete(id);
  }
}

/** The answer for an invocation whose run failed here: the pool's refusal (503 with its code), or 502. */
function failedRun(err: unknown): InvocationResult {
  return err instanceof AppError && (err.code === 'NO_CAPACITY' || err.code === 'APP_BUSY')
    ? errorResult(503, err.message, { code: err.code })
    : errorResult(502, 'The executor failed to run the invocation');
}

/**
 * The lanes' window (`set`) following the invocations held aside, as the list reader's room does, in steps of a
 * quarter of the capacity: under a steady flood the count held aside moves by one with nearly every invocation, and
 * a `W` on every lane each time cost the orchestrator more than the room it gave.
 */
function laneWindow(capacity: number, maxHeld: number, heldAside: (() => number) | undefined, set: (w: number) => void): () => void {
  let window = capacity;
  const step = Math.max(1, Math.floor(capacity / 4));
  return () => {
    const aside = heldAside?.() ?? 0;
    const w = Math.max(1, Math.min(capacity + aside - (aside % step), maxHeld));
    if (w !== window) set((window = w));
  };
}

export interface ListWorkerOptions extends ListTransportOptions {
  run: JobRunner;
  /** invocations running or waiting for a thread here at once (those held aside not counted) */
  capacity: number;
  /** invocations held at once, those held aside included (default 64 × capacity) */
  maxHeld?: number;
  /**
   * called when the worker stops taking work (close), before it waits for what it holds: answer those not started
   * with handedBack() so that their orchestrators send them to another executor
   */
  onDrain?: () => void;
  /**
   * how many of those held are aside now (default none): waiting on I/O (they hold no thread) or in their app's
   * queue while it holds its whole share (they wait for their own app, not for room: other apps' work may come in)
   */
  heldAside?: () => number;
  id?: string;
  /**
   * dial the orchestrators' direct lanes (lanes.ts), each granted `capacity` invocations at once (default false);
   * `without`: dial none, only tell them so (they then send this executor work over the lists)
   */
  lanes?: boolean | 'without';
}

export interface ListWorker {
  id: string;
  stats(): { taken: number; late: number; direct: number; lanes: number };
  /** an invocation was set aside (waiting on I/O): there may be room for more */
  room(): void;
  /** Redis answers (readiness) */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The executor side: takes invocations from the shared list while it has room (`capacity` active ones: an
 * invocation held aside, waiting on http::fetch or kv:: or for its app's share, does not count, up to `maxHeld` in
 * all), runs them with `run` and replies on each invocation's reply list.
 */
export async function startListWorker(opts: ListWorkerOptions): Promise<ListWorker> {
  const prefix = opts.prefix ?? 'picloud';
  const id = opts.id ?? randomUUID().slice(0, 12);
  const hbKey = execKey(prefix, id);
  const replies = redisConnection(opts.redisUrl);
  const warnReply = rateLimitedWarn(opts.log, 'reply failed');
  // a reply waiting in ioredis' offline queue while Redis is gone is delivered when it is back, or never: say so
  // once per connection loss, not with a timer per reply
  replies.on('close', () => {
    if (!closed && inFlight > 0) warnReply(new Error('connection to Redis lost: replies may not be delivered'));
  });
  let inFlight = 0;
  let taken = 0;
  let late = 0;
  let direct = 0;
  let closed = false;
  let roomWaiter: (() => void) | null = null;
  const idle: (() => void)[] = [];

  const outbox = new ReplyOutbox(replies, warnReply);
  const flushReplies = outbox.flush;
  const reply = (list: string | LaneReply, m: ReplyMessage) => {
    if (typeof list !== 'string') list.send(encodeReply(m));
    else if (list) outbox.add(list, encodeReply(m));
  };

  const heartbeat = new Heartbeat(replies, hbKey, () => inFlight > 0);
  const announcer = new TakenAnnouncer((list, ids) => reply(list, { taken: id, ids }));

  const maxHeld = opts.maxHeld ?? 64 * opts.capacity;
  const roomLeft = () => Math.min(opts.capacity - (inFlight - (opts.heldAside?.() ?? 0)), maxHeld - inFlight);
  const syncWindow = laneWindow(opts.capacity, maxHeld, opts.heldAside, (w) => lanes?.window(w));
  const wake = () => {
    syncWindow();
    if (roomWaiter && roomLeft() > 0) {
      const w = roomWaiter;
      roomWaiter = null;
      w();
    }
  };
  const done = () => {
    inFlight--;
    wake();
    if (inFlight === 0) for (const f of idle.splice(0)) f();
  };

  const claims = new ListClaims(replies, prefix, id);
  const runOne = (replyTo: string | LaneReply, job: InvocationJob, gate?: StartGate) => {
    inFlight++;
    heartbeat.arm();
    // a claim refused through Redis sends no answer (its orchestrator sent the invocation elsewhere)
    const answer = (result: InvocationResult) => {
      if (gate !== claims || claims.ended(job.id)) reply(replyTo, { id: job.id, result });
    };
    opts.run(job, gate).then(answer, (err: unknown) => answer(failedRun(err))).finally(() => {
      announcer.forget(job.id);
      done();
    });
  };

  /** Decode an invocation and run it, or answer 503 if it came too late to finish before its deadline; false = not run. */
  const take = (raw: string, replyTo: string | LaneReply | null): boolean => {
    let inv;
    try {
      inv = decodeInvocation(raw);
    } catch (err) {
      opts.log.error({ err }, 'undecodable invocation dropped');
      return false;
    }
    const to = replyTo ?? inv.replyTo;
    if (closed && inv.job.kind === 'http' && to) {
      // stopping: one that reached it after it said so goes back to its orchestrator, unrun, like those it holds
      reply(to, { id: inv.job.id, result: handedBack() });
      return false;
    }
    if (Date.now() + inv.job.target.limits.timeoutMs > inv.deadline) {
      // its orchestrator answers it before this run could end: do not run it
      late++;
      reply(to, { id: inv.job.id, result: errorResult(503, 'No executor capacity: no executor took the invocation in time', { code: 'NO_CAPACITY' }) });
      return false;
    }
    taken++;
    if (typeof to === 'string' && to) announcer.add(inv.job.id, to);
    // an HTTP invocation from the lists is claimed through Redis (ListClaims), one from a lane on the lane
    runOne(to, inv.job, typeof to !== 'string' ? (to.gate ?? undefined) : to ? claims : undefined);
    return true;
  };
  const onItems = (items: string[]) => {
    for (const raw of items) take(raw, null);
    announcer.arm();
    heartbeat.fresh();
  };
  const lanes: LaneClients | null = opts.lanes
    ? startLaneClients({
      redis: replies, prefix, executor: id, window: opts.capacity, log: opts.log, dial: opts.lanes === true,
      onLine(lane, line) {
        if (take(line, lane)) direct++;
        // what it took may wait aside (its app holds its share here): the list reader may have room again too
        wake();
        heartbeat.fresh();
      },
    })
    : null;

  const reader = startBlockingReader({
    redisUrl: opts.redisUrl,
    key: httpKey(prefix),
    count: () => Math.max(0, roomLeft()),
    waitForRoom: () => new Promise<void>((res) => {
      if (roomLeft() > 0 || closed) res();
      else roomWaiter = res;
    }),
    log: opts.log,
    onItems,
  });

  return {
    id,
    stats: () => ({ taken, late, direct, lanes: lanes?.lanes() ?? 0 }),
    room: wake,
    ping: () => within(replies.ping().then((r) => r === 'PONG'), 1000, false),
    async close() {
      closed = true;
      if (roomWaiter) roomWaiter();
      reader.close();
      lanes?.drain();
      // after `D` on each lane: an orchestrator sends what it gets back to another lane
      opts.onDrain?.();
      heartbeat.stop();
      announcer.stop();
      if (inFlight > 0) await within(new Promise<void>((res) => idle.push(res)), 5000, undefined);
      flushReplies();
      lanes?.close();
      if (replies.status === 'ready') await within(replies.del(hbKey).then(() => replies.quit()).then(() => undefined), 2000, undefined);
      replies.disconnect();
    },
  };
}

function queueUnavailable(detail: string): InvocationResult {
  return errorResult(503, `The invocation queue is unavailable: ${detail}`, { code: 'QUEUE_UNAVAILABLE' });
}

