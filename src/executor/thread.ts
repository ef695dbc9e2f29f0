/**
 * Executor worker-thread entry. Jobs arrive in string batches (ipc.ts ToThread); each runs on the Runner, and an
 * invocation that calls an asynchronous host function (kv::, http::fetch) suspends while the others go on: one
 * thread interleaves many waiting invocations. kv:: runs on the thread's own PostgreSQL connections (thread-kv.ts);
 * program loads and queue::send are asked of the parent thread with 'H' lines and answered with HostReply
 * messages; http::fetch runs here (one Fetcher, so one connection pool, per thread). Everything this thread says
 * goes out as lines of one string per turn (ipc.ts FromThread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { InvocationJob, InvocationResult, InvocationTarget } from '../queue/jobs.ts';
import type { FromThread, HostReply, HostRequest, ThreadData, ToThread } from './ipc.ts';
import { Fetcher } from './fetch.ts';
import { ThreadKv } from './thread-kv.ts';
import { Runner, type HostBridge } from './run.ts';
import type { QueuedJob } from '../db/job-sends.ts';
import { invocationRow } from './record.ts';
import { invocationRowCopy } from '../db/invocation-row.ts';
import { LogAllowance } from '../db/log-allowance.ts';

const data = workerData as ThreadData;
const port = parentPort!;

// ---- outgoing lines, one message per turn ----
let out: string[] = [];
let flushQueued = false;
/** invocations whose waiting state changed since the last flush → their state now */
const waitChanged = new Map<string, boolean>();
/** invocations the parent was told are suspended */
const reported = new Set<string>();
/**
 * Invocations the parent already counts as suspended from their start (pool.ts assign: their script waited last
 * time; the job line starts with `~`) → whether they waited without the parent being told yet. Their `S` only
 * confirms the guess, so it goes with the next message the thread sends anyway (at the latest just before the
 * result) instead of in a message of its own: each message wakes the parent thread.
 */
const presumed = new Map<string, boolean>();

/** the invocation log's allowance, applied before a row is built; rows it refused per app since the last flush */
const allowance = new LogAllowance(data.logRowsPerSecond);
const skipped = new Map<number, number>();

function post(line: string): void {
  out.push(line);
  scheduleFlush();
}

/**
 * Flush once per event-loop turn (setImmediate: after this poll phase), so everything that happened in the turn
 * shares one message: the results of the jobs started from one batch, and the results and host calls of every
 * invocation resumed by the I/O read in this poll phase (fetch responses, host replies), which a microtask flushed
 * one message per socket read (each message wakes the parent thread).
 */
function scheduleFlush(): void {
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushQueued = false;
  for (const [id, waiting] of waitChanged) {
    if (waiting && !reported.has(id)) {
      out.push(`S${id}`);
      reported.add(id);
      if (presumed.has(id)) presumed.set(id, false);
    } else if (!waiting && reported.has(id)) {
      out.push(`R${id}`);
      reported.delete(id);
    }
  }
  waitChanged.clear();
  if (skipped.size) {
    for (const [appId, n] of skipped) out.push(`U${appId}\t${n}`);
    skipped.clear();
  }
  if (out.length === 0) return;
  const msg = out.join('\n');
  out = [];
  port.postMessage(msg as FromThread);
}

// ---- host calls to the parent ----
let seq = 0;
const calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

type Dist<T> = T extends unknown ? Omit<T, 'seq'> : never;

function hostCall(req: Dist<HostRequest>): Promise<unknown> {
  const s = ++seq;
  post(`H${JSON.stringify({ ...req, seq: s })}`);
  return new Promise((resolve, reject) => calls.set(s, { resolve, reject }));
}

/**
 * queue::send: the parent answers twice, with the job's id at once (seq) and when the commit holding its row is done
 * (−seq); the second is the `durable` the invocation's output gate waits for (run.ts).
 */
function queueSend(req: Omit<Extract<HostRequest, { op: 'queue' }>, 'seq' | 'op'>): Promise<QueuedJob> {
  const answer = hostCall({ op: 'queue', ...req });
  const s = seq; // the call's own
  const durable = new Promise<void>((resolve, reject) => calls.set(-s, { resolve, reject }));
  durable.catch(() => {}); // the gate hears of a failure; nothing else waits on it
  return answer.then((id) => ({ id: id as string, durable }), (e: unknown) => {
    calls.delete(-s); // no id, no commit to wait for
    throw e;
  });
}

function onReplies(replies: HostReply[]): void {
  for (const r of replies) {
    const c = calls.get(r.seq);
    if (!c) continue;
    calls.delete(r.seq);
    if (r.ok) c.resolve(r.value);
    else c.reject(new Error(r.error));
  }
}

/** kv:: on this thread's own connections when the pool gave a database URL (thread-kv.ts), else via the parent */
const threadKv = data.databaseUrl ? new ThreadKv(data.databaseUrl, (msg, err) => post(`W${JSON.stringify({ msg, err })}`)) : null;

const bridge: HostBridge = {
  kv: threadKv
    ? (ns, op, key, json) => threadKv.kv(ns, op, key, json)
    : (ns, op, key, json) => hostCall({ op: 'kv', kv: op, appId: ns.appId, branch: ns.branch, key, json }),
  loadAst: (hash) => hostCall({ op: 'ast', hash }) as Promise<string>,
  queueSend: (ns, q) => queueSend({ appId: ns.appId, branch: ns.branch, ...q }),
};

const fetcher = new Fetcher({ userAgent: data.userAgent, maxConcurrent: data.fetchConcurrency });

const runner = new Runner({
  bridge,
  fetcher,
  onWait(id, waiting) {
    waitChanged.set(id, waiting);
    // presumed and not reported: nothing the parent must hear now (it counts the invocation suspended already)
    if (presumed.has(id) && !reported.has(id)) {
      if (waiting) presumed.set(id, true);
      return;
    }
    scheduleFlush();
  },
});

// ---- jobs ----
/** Decoded targets by their ref (pool.ts jobLine), or by their JSON text for ref 0. */
const targets = new Map<string, InvocationTarget>();
const MAX_TARGETS = 256;

function decodeJob(line: string): InvocationJob {
  const lazy = line.charCodeAt(0) === 126; // '~': presumed suspended (pool.ts assign)
  if (lazy) line = line.slice(1);
  const t1 = line.indexOf('\t');
  const t2 = line.indexOf('\t', t1 + 1);
  const ref = line.slice(0, t1);
  const key = ref === '0' ? line.slice(t1 + 1, t2) : ref;
  let target = targets.get(key);
  if (target === undefined) {
    target = JSON.parse(line.slice(t1 + 1, t2)) as InvocationTarget;
    if (targets.size >= MAX_TARGETS) targets.delete(targets.keys().next().value!);
    targets.set(key, target);
  }
  const job = JSON.parse(line.slice(t2 + 1)) as InvocationJob;
  job.target = target;
  if (lazy) presumed.set(job.id, false);
  return job;
}

/**
 * How long the last start of each (decoded, cached) target ran before it first waited or ended, that is how long it
 * held the drain's turn: a result is not held back behind a slow job. Not the invocation's duration: that counts
 * its waits on kv:: or http::fetch, during which the thread runs other jobs, and made every job of a waiting
 * script end the drain's turn (one message to the parent and one event-loop turn per job).
 */
const lastMs = new WeakMap<InvocationTarget, number>();

/** jobs whose program had to be loaded before they could start (their invocation rows say cold) */
const loadedFor = new WeakSet<InvocationJob>();

function start(job: InvocationJob): void {
  const t0 = performance.now();
  void runner.run(job, loadedFor.has(job)).then((result) => {
    // a result implies "resumed": the parent stops counting the invocation as suspended; a presumed one that
    // waited unreported confirms first, so the parent goes on presuming its script waits
    waitChanged.delete(job.id);
    reported.delete(job.id);
    if (presumed.get(job.id) === true) post(`S${job.id}`);
    presumed.delete(job.id);
    post(JSON.stringify({ id: job.id, result }));
    if (data.record) record(job, result);
  });
  lastMs.set(job.target, performance.now() - t0);
}

/**
 * The invocation's log row, if its app's allowance takes it (log-allowance.ts): the parent writes at most that
 * many rows a second per app, so a row past it is counted (a `U` line per app and flush), not built and sent.
 */
function record(job: InvocationJob, result: InvocationResult): void {
  const appId = job.target.appId;
  const failed = result.status >= 500 || result.error !== null;
  if (allowance.take(appId, failed)) post(`${failed ? 'F' : 'L'}${appId}\t${invocationRowCopy(invocationRow(job, result))}`);
  else skipped.set(appId, (skipped.get(appId) ?? 0) + 1);
}

/** A drain that yielded goes on: first the results of its previous part go out (never held behind the next). */
function resumeDrain(): void {
  if (flushQueued) flush();
  drain();
}

/** job lines not started yet (a line decoded already, when a turn ended before it, is kept decoded) */
let queue: (string | InvocationJob)[] = [];
let qi = 0;
let draining = false;

/**
 * Start queued jobs, in order. The results of jobs that did not wait go out after the turn (scheduleFlush), so the
 * turn ends after 1 ms, and before a job that took more than 1 ms last time (or never ran here) once others ran in
 * it: a result is not held back behind a slow job, and host replies resume waiting invocations in between.
 */
function drain(): void {
  draining = true;
  const t0 = performance.now();
  let ran = 0;
  while (qi < queue.length) {
    const next = queue[qi]!;
    const job = typeof next === 'string' ? decodeJob(next) : next;
    if (ran > 0 && (performance.now() - t0 > 1 || (lastMs.get(job.target) ?? Infinity) > 1)) {
      queue[qi] = job;
      setImmediate(resumeDrain);
      return;
    }
    // a cold program: load it first, then go on in order (jobs behind it would otherwise start their clocks and
    // then all run back to back once it arrived). Once only: a program that failed to load is started anyway, and
    // its invocation fails with the reason instead of this loop asking for it again forever.
    const loading = loadedFor.has(job) ? null : runner.load(job.target);
    if (loading instanceof Promise) {
      queue[qi] = job;
      loadedFor.add(job);
      loading.then(drain, drain);
      return;
    }
    qi++;
    ran++;
    start(job);
  }
  queue = [];
  qi = 0;
  draining = false;
}

/** Calls `kv::f(…)` and `http::f(…)` in a program's JSON (quotes in its strings and its source are escaped there). */
const KV_CALL = '"ns":["kv"]';
const HTTP_CALL = '"ns":["http"]';
/** the longest a preload waits for the thread's warm-ups before confirming */
const WARM_WAIT_MS = 1000;

/**
 * A preload request (pool.ts preload): `P<id>` then one `<hash>\t<program JSON>` line per program. Each is compiled
 * into the program cache as its first invocation would compile it; when one calls kv:: or http:: (a `kv` or `http`
 * namespace in its AST), what the first such call of this thread would load is loaded too (thread-kv.ts warm: pg and
 * a connection; fetch.ts warm: undici); then `P<id>` confirms.
 */
function preload(msg: string): void {
  const lines = msg.split('\n');
  let i = 1;
  let usesKv = false;
  let usesHttp = false;
  // about 1 ms of compiling per turn: invocations arriving meanwhile run in between, not after the whole release
  const step = () => {
    const t0 = performance.now();
    while (i < lines.length && performance.now() - t0 < 1) {
      const line = lines[i++]!;
      const tab = line.indexOf('\t');
      if (!usesKv && line.includes(KV_CALL, tab)) usesKv = true;
      if (!usesHttp && line.includes(HTTP_CALL, tab)) usesHttp = true;
      try {
        runner.preload(line.slice(0, tab), line.slice(tab + 1));
      } catch {
        // a program that does not load fails its invocations the usual way
      }
    }
    if (i < lines.length) return void setImmediate(step);
    const warmups: Promise<void>[] = [];
    if (usesKv && threadKv) warmups.push(threadKv.warm());
    if (usesHttp) warmups.push(fetcher.warm());
    if (warmups.length === 0) return post(lines[0]!);
    // confirmed once warm, or after WARM_WAIT_MS (a database slow to answer must not hold the switch)
    let sent = false;
    const confirm = () => {
      clearTimeout(timer);
      if (!sent) post(lines[0]!);
      sent = true;
    };
    const timer = setTimeout(confirm, WARM_WAIT_MS);
    void Promise.all(warmups).then(confirm);
  };
  step();
}

port.on('message', (msg: ToThread | HostReply[]) => {
  if (typeof msg !== 'string') return onReplies(msg);
  if (msg.charCodeAt(0) === 80) return preload(msg);
  for (const line of msg.split('\n')) queue.push(line);
  if (!draining) drain();
});
port.postMessage({ type: 'ready' } as FromThread);
