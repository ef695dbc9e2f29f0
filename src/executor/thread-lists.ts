/**
 * Executor-thread entry of an executor process (Redis mode): the thread itself takes HTTP invocations from the
 * Redis list and pushes their replies (redis-lists.ts startListWorker, on the thread's own connections), so an
 * invocation crosses no thread boundary in the executor process. Through the parent thread it cost a postMessage
 * each way and a wake-up of both threads per batch: profiled at c50 (2 executor processes), the executor's main
 * thread spent ~4× the CPU of its worker threads, a quarter of it in postMessage. The parent still serves the
 * thread's host calls (kv::, program loads), writes its invocation log and sends release preloads.
 *
 * Each thread is an executor of its own for the orchestrators (its own id, heartbeat and `taken` notices): a
 * thread that dies stops beating, and the orchestrator answers its invocations 502 as for a dead process.
 */
import { workerData } from 'node:worker_threads';
import type { Logger } from '../common/log.ts';
import { startListWorker } from '../queue/redis-lists.ts';
import type { InvocationJob } from '../queue/jobs.ts';
import { LIST_APP_BUCKETS, type ThreadData } from './ipc.ts';
import { ownHooks, postLine, postNow, runHere } from './thread.ts';

/**
 * The list worker's logger: warnings to stderr as pino-like JSON lines (pino itself is not loaded in threads; their
 * stderr is the process's).
 */
function threadLogger(): Logger {
  const write = (level: number) => (obj: unknown, msg?: string) => {
    const o = typeof obj === 'string' ? { msg: obj } : { ...(obj as Record<string, unknown>), msg };
    if ('err' in o && o.err instanceof Error) o.err = { message: o.err.message };
    process.stderr.write(`${JSON.stringify({ level, time: Date.now(), component: 'executor-thread', ...o })}\n`);
  };
  const log = { warn: write(40), error: write(50), info: () => {}, debug: () => {}, child: () => log };
  return log as unknown as Logger;
}

const cfg = (workerData as ThreadData).lists!;
const held = new Int32Array(cfg.held);
const B = LIST_APP_BUCKETS;
const mine = cfg.row * B;
/** the last row: threads holding each bucket (taken with compare-and-swap, so two threads never both take the last place) */
const holders = held.length - B;
// a dead predecessor's holdings
for (let b = 0; b < B; b++) {
  if (Atomics.load(held, mine + b) > 0) Atomics.sub(held, holders + b, 1);
  Atomics.store(held, mine + b, 0);
}

/**
 * What this thread takes (the pool's rules, pool.ts, for work it takes itself):
 * - no head-of-line blocking: a slow invocation (its script's recent runs here took over SLOW_MS, or it has not run
 *   here yet) is kept only by an idle thread, which then takes nothing more until it is done; of a batch a thread
 *   keeps the quick ones before that and hands the rest back to the head of the list (another thread takes them);
 * - fair share: an app holds the threads on which it has active invocations; one it does not hold yet is taken only
 *   while the app holds fewer than its share of the process's threads (`held`, shared by them); otherwise it is handed
 *   back, and a thread that could keep nothing of a batch waits BACKOFF_MS before taking again (no busy loop);
 * - an invocation waiting on I/O holds nothing (neither its app's share nor the thread).
 */
const SLOW_MS = 5;
const BACKOFF_MS = 20;

/** script key → its last run here (ms), and whether it waited on I/O */
const runs = new Map<string, { ms: number; waits: boolean }>();
const scriptKey = (job: InvocationJob) => `${job.target.scriptHash}:${job.target.fn ?? ''}`;

interface Held {
  job: InvocationJob;
  slow: boolean;
  waiting: boolean;
  /** it waited on I/O at least once */
  waited: boolean;
  /** admit took its bucket's place (activate must not count it again) */
  admitted: boolean;
}
/** invocations held here, by id */
const jobs = new Map<string, Held>();
let active = 0;
let slowActive = 0;
let backoff = false;
let keptOfBatch = 0;
let backedOff = false;

/** Count `h` as active here (or not): this thread holds its app's bucket while it has an active invocation of it. */
function activate(h: Held, on: boolean): void {
  const b = h.job.target.appId % B;
  active += on ? 1 : -1;
  if (h.slow) slowActive += on ? 1 : -1;
  if (on) {
    if (Atomics.add(held, mine + b, 1) === 0 && !h.admitted) Atomics.add(held, holders + b, 1);
    h.admitted = false;
  } else if (Atomics.sub(held, mine + b, 1) === 1) Atomics.sub(held, holders + b, 1);
}

/** Take a place among the threads holding `job`'s app (false: its share is full). */
function takePlace(job: InvocationJob): boolean {
  const b = job.target.appId % B;
  if (Atomics.load(held, mine + b) > 0) return true;
  const share = shareOf(job);
  for (;;) {
    const n = Atomics.load(held, holders + b);
    if (n >= share) return false;
    if (Atomics.compareExchange(held, holders + b, n, n + 1) === n) return true;
  }
}

function shareOf(job: InvocationJob): number {
  const own = job.target.limits.concurrency;
  return typeof own === 'number' && own >= 1 ? Math.min(cfg.appShare, own) : cfg.appShare;
}

function admit(job: InvocationJob): boolean {
  if (slowActive > 0) return false;
  const r = runs.get(scriptKey(job));
  const slow = r === undefined || (!r.waits && r.ms > SLOW_MS);
  // a slow one only into an idle thread: quick ones taken with it would wait for it (their replies too)
  if (slow && active > 0) return false;
  const b = job.target.appId % B;
  const placed = Atomics.load(held, mine + b) === 0;
  if (!takePlace(job)) {
    backedOff = true;
    return false;
  }
  const h: Held = { job, slow, waiting: false, waited: false, admitted: placed };
  jobs.set(job.id, h);
  activate(h, true);
  keptOfBatch++;
  return true;
}

function room(): number {
  // a batch just taken: if nothing of it could be kept for its apps' shares, wait a little before taking again
  if (backedOff && keptOfBatch === 0 && !backoff) {
    backoff = true;
    setTimeout(() => {
      backoff = false;
      worker.room();
    }, BACKOFF_MS).unref();
  }
  backedOff = false;
  keptOfBatch = 0;
  if (slowActive > 0 || backoff) return 0;
  return cfg.capacity - active;
}

function finished(job: InvocationJob, ms: number): void {
  const h = jobs.get(job.id);
  if (!h) return;
  jobs.delete(job.id);
  if (!h.waiting) activate(h, false);
  const k = scriptKey(job);
  const prev = runs.get(k);
  if (!prev && runs.size >= 4096) runs.clear();
  // quick to fall, slow to rise: a run stretched by a busy machine (preempted) does not make a quick script slow
  runs.set(k, { ms: prev && Number.isFinite(ms) && ms > prev.ms ? prev.ms * 0.9 + ms * 0.1 : ms, waits: h.waited });
}

const worker = await startListWorker({
  redisUrl: cfg.redisUrl,
  prefix: cfg.prefix,
  log: threadLogger(),
  capacity: cfg.capacity,
  maxHeld: cfg.maxHeld,
  room,
  admit,
  // a running script blocks this thread's event loop (its timers too): the process's main thread says what it has
  // taken and keeps the heartbeat; a slow one is announced before it runs
  notices: {
    taken: (replyTo, ids) => postNow(`T${replyTo}\t${ids.join(',')}`),
    done: (id) => postLine(`D${id}`),
    now: (job) => jobs.get(job.id)?.slow === true,
  },
  run: (job) => runHere(job).then((r) => {
    finished(job, r.durationMs);
    return r;
  }, (err: unknown) => {
    finished(job, Infinity);
    throw err;
  }),
});

ownHooks({
  onWait(id, w) {
    const h = jobs.get(id);
    if (!h || h.waiting === w) return;
    h.waiting = w;
    activate(h, !w);
    if (w) {
      h.waited = true;
      worker.room();
    }
  },
  close: () => worker.close(),
});
