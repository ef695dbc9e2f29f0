/**
 * The executor pool (parent side): N worker threads running the interpreter, a bounded wait queue (full →
 * AppError NO_CAPACITY → 503), host calls served asynchronously (program ASTs from the scripts table,
 * queue::send; kv:: only for threads given no database URL: the others serve it themselves, thread-kv.ts), a
 * watchdog that replaces a thread stuck in a script past its deadline (→ 504) and replaces a thread that died
 * (→ 502), and the invocation log. The same pool serves the embedded mode (in the `picloud up` process) and each
 * executor process.
 *
 * A thread holds many invocations at once: those waiting on kv:: or http::fetch are suspended there (the thread
 * reports them, ipc.ts 'S'/'R' lines) and count neither against its pipeline nor its app's share; results come
 * back in completion order. The thread ends every invocation at its own deadline, waiting ones included, so a
 * thread that holds invocations and says nothing for longer than their largest timeout_ms (+ grace) is stuck in
 * synchronous code.
 *
 * Fair share (issue 8): an app holds a thread while it has an active (not suspended) task on it, running or
 * pipelined behind; it may hold at most `appShare` threads (default threads − 1, lowered per app by `[limits]
 * concurrency`), so one app never takes every thread. A task that cannot get a thread waits in its app's own
 * bounded queue (full → APP_BUSY 503; waited past the app's timeout_ms → APP_BUSY 503); free threads serve the
 * app queues round-robin, apps that hold no thread first. A task is pipelined only behind tasks of its own app,
 * never behind another app's (possibly long) task, and only while its script runs short and no other app waits
 * holding no thread (else two busy apps could keep every thread and a third would wait until they stop). A task the
 * thread reports suspended (waiting on I/O, FromThread 'suspended'/'resumed') holds no share.
 */
import { Worker } from 'node:worker_threads';
import { AppError } from '../common/errors.ts';
import { FETCH_LIMITS } from '../common/config.ts';
import { VERSION } from '../common/version.ts';
import type { Logger } from '../common/log.ts';
import type { Pool } from '../db/pool.ts';
import { KvStore } from '../db/kv-store.ts';
import { JobSends, type QueuedJob } from '../db/job-sends.ts';
import { loadPrograms } from './programs.ts';
import { Preloader } from './preload.ts';
import { InvocationLog } from '../db/invocations.ts';
import { liveScriptHashes } from '../db/preload.ts';
import { LOG_ROWS_PER_SECOND } from '../db/log-allowance.ts';
import type { StartGate } from '../queue/dispatch.ts';
import { errorResult, jobRestJson, targetJson, type InvocationJob, type InvocationResult, type InvocationTarget } from '../queue/jobs.ts';
import { PROGRAM_CACHE_SIZE, type FromThread, type HostReply, type HostRequest, type ThreadData, type ToThread } from './ipc.ts';
import { threadEntry, type ThreadEntry } from './bundle.ts';
import { invocationRow } from './record.ts';
import { THREAD_KV_MAX_THREADS } from './thread-kv.ts';


export interface ExecutorPoolOptions {
  pool: Pool;
  log: Logger;
  threads: number;
  /** jobs allowed to wait for a free thread before new ones are refused with 503 */
  maxQueue?: number;
  /** extra time past timeout_ms before a non-responding thread is terminated */
  graceMs?: number;
  /** record invocations (default true) */
  record?: boolean;
  /** invocation-log rows written per app and second (default LOG_ROWS_PER_SECOND; lower in tests) */
  logRowsPerSecond?: number;
  /** per-thread V8 heap cap */
  maxHeapMb?: number;
  /** jobs queued on a busy thread before they wait in the pool's queue (default 8) */
  pipeline?: number;
  /** threads one app may hold at once (default threads − 1, at least 1); `[limits] concurrency` may lower it */
  appShare?: number;
  /** tasks of one app allowed to wait for a thread before its new ones are refused with APP_BUSY (default 256) */
  appQueue?: number;
  /** take part in release preloads (executor/preload.ts; default true) */
  preload?: boolean;
  /** called when a task starts waiting on I/O (it no longer takes room: an executor process may take more work) */
  onSetAside?: () => void;
  /** queue::send's inserts (shared with a job runner in the same process, which it wakes); default: its own */
  jobSends?: JobSends;
}

/** The answer of a parked task whose claim was refused: nobody waits for it (its orchestrator answered it already). */
const unclaimed = (): InvocationResult => errorResult(503, 'Not run: its orchestrator no longer waits for it on this executor', { code: 'NO_CAPACITY' });

interface Task {
  job: InvocationJob;
  resolve: (r: InvocationResult) => void;
  reject: (e: Error) => void;
  enqueuedAt: number;
  /** waiting on I/O in its thread: holds no running share */
  suspended: boolean;
  /** posted to the thread (it may have started): never given to another thread */
  sent: boolean;
  /** counted as suspended from the start because its script waited last time (see assign), not yet confirmed */
  presumed?: boolean;
  /** how its orchestrator learns that it waits here unstarted (an invocation from a lane or the Redis lists) */
  gate?: StartGate;
  /** parked with its orchestrator (it waited PARK_AFTER_MS in its app's queue): claimed before it is posted */
  parked?: boolean;
}

/** Per-app accounting: the threads it holds and the tasks waiting for one. */
interface AppState {
  id: number;
  /** threads on which this app has at least one active (not suspended) task */
  held: number;
  waiting: Task[];
}

interface Slot {
  id: number;
  worker: Worker;
  ready: boolean;
  /** in flight on this thread, in posting order (they finish in any order) */
  tasks: Task[];
  /** tasks of `tasks` the thread reports waiting on I/O (or presumed to) */
  suspended: number;
  /** tasks presumed suspended and not yet confirmed by the thread */
  presumed: number;
  /** the thread's one watchdog timer (see onWatchdog) */
  timer: NodeJS.Timeout | null;
  /** when the thread last said anything, or when it got work while holding none */
  heardAt: number;
  dead: boolean;
  /** tasks assigned but not yet posted: sent as one message at the end of this turn, or when the thread speaks */
  outbox: Task[];
  sendScheduled: boolean;
  /** messages posted since the thread last said anything */
  unheard: number;
  /** host replies to send at the end of this microtask burst */
  replies: HostReply[];
  /** active (not suspended) tasks on this thread per app id */
  active: Map<number, number>;
  /** preload requests posted to this thread and not yet confirmed */
  preloads: Set<number>;
}

/** Tasks on a thread that are not waiting on I/O (running, or pipelined behind the running one). */
const active = (s: Slot): number => s.tasks.length - s.suspended;

/** `<ref>\t<target JSON>` per frozen target object: ref is unique in this process (1, 2, …) */
const targetRefs = new WeakMap<InvocationTarget, string>();
let lastTargetRef = 0;

/**
 * A job as one line of a ToThread batch (ipc.ts): `<ref>\t<target JSON>\t<job JSON without target>`. A frozen
 * target (the route table's) has its own ref and its JSON cached (jobs.ts targetJson), so the thread finds its
 * decoded target by the short ref instead of hashing the JSON text; any other target has ref 0.
 */
export function jobLine(job: InvocationJob): string {
  const target = job.target;
  let ref = targetRefs.get(target);
  if (ref === undefined) {
    if (!Object.isFrozen(target)) return `0\t${targetJson(target)}\t${jobRestJson(job)}`;
    ref = `${++lastTargetRef}\t${targetJson(target)}`;
    targetRefs.set(target, ref);
  }
  return `${ref}\t${jobRestJson(job)}`;
}

const MAX_AST_CACHE = 512;
/** messages posted to a thread since it last spoke (2 measured slightly better than 1 once threads ran jobs faster) */
const MAX_POSTED = 2;
/**
 * An invocation with a StartGate (from a lane or the Redis lists) that has waited this long in its app's queue is
 * parked with its orchestrator (checked by the 100 ms sweep, so parked after 100–200 ms): one that starts sooner costs
 * no message and no claim's round trip (a trivial route at c50 waits a few ms), and a kill -9 fails it with 502 as it
 * fails what runs.
 */
const PARK_AFTER_MS = 100;

/** invocations held by one thread at once, suspended ones included (bounds a thread's memory) */
const MAX_PER_THREAD = 512;
/** tasks presumed suspended (not yet confirmed) per thread: bounds a wrong guess */
const MAX_PRESUMED = 64;

/**
 * Scripts (hash + function) whose last invocation waited on I/O. A job of such a script is counted as suspended as
 * soon as it is assigned, so a burst of waiting invocations goes to the threads at once instead of `pipeline` per
 * round trip (each start confirmed by the thread's 'S'); a guess the thread does not confirm ends with the task.
 */
const waitsOnIo = new Map<string, boolean>();
/** per target object (the route table's are shared by every job of a route): no string built and hashed per job */
const scriptKeys = new WeakMap<InvocationTarget, string>();
const scriptKey = (job: InvocationJob): string => {
  const t = job.target;
  let k = scriptKeys.get(t);
  if (k === undefined) scriptKeys.set(t, (k = `${t.scriptHash}:${t.fn ?? ''}`));
  return k;
};

/**
 * How long scripts that never wait on I/O ran lately (ms, a moving average per script key), for tryRun's estimate of
 * a job's wait for a local thread.
 */
const runMs = new Map<string, number>();
/**
 * tryRun keeps a job that must wait for a local thread when its expected wait is under this: a node's own threads
 * drain a backlog of quick jobs sooner than a round trip through Redis to another executor serves them (the spill
 * costs several times a local run in CPU); a backlog of slow jobs spills.
 */
const LOCAL_WAIT_MS = 5;
/** a task's cost to its thread beyond the script's own run time (messages, ctx, result), for that estimate */
const TASK_OVERHEAD_MS = 0.05;
/**
 * A task is pipelined behind its app's running one only while its script ran shorter than this lately: pipelining
 * saves the thread's wake-up (tens of µs), nothing against a long run, and behind a long run a task waits for the
 * thread while another may free up first.
 */
const PIPELINE_MAX_RUN_MS = 10;

export class ExecutorPool {
  private slots: Slot[] = [];
  /** apps with tasks waiting (served round-robin) and the accounting of apps holding threads */
  private apps = new Map<number, AppState>();
  private queued = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  private nextId = 0;
  private closed = false;
  private readonly astCache = new Map<string, string>();
  readonly invocationLog: InvocationLog | null;
  private counters = { completed: 0, rejected: 0, appBusy: 0, restarts: 0, crashed: 0, timedOut: 0 };
  private readyWaiters: (() => void)[] = [];
  private entry: ThreadEntry | null = null;
  private startFailures = 0;
  private readonly fetchPerThread: number;
  /** given to the threads so they serve kv:: themselves (thread-kv.ts); undefined: kv:: via host calls */
  private readonly threadKvUrl: string | undefined;
  private preloader: Preloader | null = null;
  private preloadSeq = 0;
  /** preload request id → called when a thread confirms it (or dies) */
  private readonly preloadWaiters = new Map<number, (slot: Slot) => void>();
  private readonly kv: KvStore;
  private readonly jobSends: JobSends;

  constructor(private readonly opts: ExecutorPoolOptions) {
    this.kv = new KvStore({ pool: opts.pool, log: opts.log });
    this.jobSends = opts.jobSends ?? new JobSends({ pool: opts.pool });
    this.invocationLog =
      opts.record === false
        ? null
        : new InvocationLog(opts.pool, {
            rowsPerSecond: opts.logRowsPerSecond,
            onError: (err) => opts.log.error({ err }, 'invocation log flush failed'),
            onUnlogged: (appId, n) =>
              opts.log.warn({ appId, unlogged: n }, `app ${appId} invokes faster than its invocation log keeps (${opts.logRowsPerSecond ?? LOG_ROWS_PER_SECOND} rows/s per process): rows past that are counted, not written (${n} since the last warning)`),
          });
    this.fetchPerThread = Math.max(1, Math.floor(FETCH_LIMITS.maxConcurrent / Math.max(1, opts.threads)));
    this.threadKvUrl = opts.threads <= THREAD_KV_MAX_THREADS ? opts.pool.options.connectionString : undefined;
  }

  /** Spawn the threads and wait until they are ready. */
  async start(): Promise<void> {
    this.entry = await threadEntry();
    for (let i = 0; i < this.opts.threads; i++) this.slots.push(this.spawn());
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.slots.length === 0) reject(new AppError('INTERNAL', 'executor threads failed to start'));
        else if (this.slots.every((s) => s.ready)) resolve();
        else this.readyWaiters.push(check);
      };
      check();
    });
    if (this.opts.preload !== false) {
      this.preloader = new Preloader(this.opts.pool, this.opts.log, (hashes) => this.preload(hashes));
      await this.preloader.start();
      await this.preloadLive();
    }
  }

  /**
   * A node that starts (or restarts after a crash) compiles the live releases' programs, with their kv/http
   * warm-ups, before it is ready, as a release switch would have: otherwise its first invocation of each program
   * in each thread ran cold. At most a thread's program LRU, the most recently switched first.
   */
  private async preloadLive(): Promise<void> {
    try {
      const hashes = await liveScriptHashes(this.opts.pool, PROGRAM_CACHE_SIZE);
      if (hashes.length) await this.preload(hashes);
    } catch (err) {
      this.opts.log.warn({ err }, 'could not preload the live releases; their first invocations here run cold');
    }
  }

  /**
   * Load and compile these programs in every ready thread (a release about to go live, deploy/preload.ts), so the
   * release's first invocations cost what later ones do. Resolves once every thread confirmed (or died).
   */
  async preload(hashes: string[]): Promise<void> {
    const known = new Map<string, string>();
    const missing: string[] = [];
    for (const h of hashes) {
      const ast = this.astCache.get(h);
      if (ast === undefined) missing.push(h);
      else known.set(h, ast);
    }
    if (missing.length) for (const [h, ast] of await this.loadAsts(missing, false)) known.set(h, ast);
    if (known.size === 0 || this.closed) return;
    const id = ++this.preloadSeq;
    // one line per program, as job lines are: JSON text never holds a raw newline or tab
    const msg = `P${id}\n${[...known].map(([h, ast]) => `${h}\t${ast}`).join('\n')}`;
    const slots = this.slots.filter((s) => s.ready && !s.dead);
    if (slots.length === 0) return;
    await new Promise<void>((resolve) => {
      let left = slots.length;
      this.preloadWaiters.set(id, () => {
        if (--left === 0) {
          this.preloadWaiters.delete(id);
          resolve();
        }
      });
      for (const s of slots) {
        s.preloads.add(id);
        s.worker.postMessage(msg as ToThread);
      }
    });
  }

  /** A thread confirmed preload `id`, or died before it could (then every request it held counts as done). */
  private preloaded(slot: Slot, id: number | null): void {
    const ids = id === null ? [...slot.preloads] : [id];
    for (const i of ids) if (slot.preloads.delete(i)) this.preloadWaiters.get(i)?.(slot);
  }

  private spawn(): Slot {
    const entry = this.entry!;
    const data: ThreadData = { ...entry.data, record: this.invocationLog !== null, logRowsPerSecond: this.opts.logRowsPerSecond, userAgent: `PiCloud/${VERSION}`, fetchConcurrency: this.fetchPerThread, databaseUrl: this.threadKvUrl };
    const worker = new Worker(entry.url, {
      workerData: data,
      // young generation 16 MB (was 8): half the scavenges per invocation; A/B on bench:http embedded, workers
      // 19.8 -> 17.6 us/request, RSS of the loaded bench server +18 MB
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb ?? 256, maxYoungGenerationSizeMb: 16 },
      stdout: false,
      stderr: false,
    });
    const slot: Slot = { id: this.nextId++, worker, ready: false, tasks: [], suspended: 0, presumed: 0, timer: null, heardAt: 0, dead: false, outbox: [], sendScheduled: false, unheard: 0, replies: [], active: new Map(), preloads: new Set() };
    worker.on('message', (m: FromThread) => this.onMessage(slot, m));
    worker.on('error', (err) => {
      this.opts.log.error({ err, thread: slot.id }, 'executor thread failed');
      this.onExit(slot, 'crashed');
    });
    worker.on('exit', () => this.onExit(slot, 'crashed'));
    return slot;
  }

  private onMessage(slot: Slot, m: FromThread): void {
    if (typeof m === 'string') {
      slot.heardAt = performance.now();
      slot.unheard = 0;
      for (const line of m.split('\n')) {
        switch (line.charCodeAt(0)) {
          case 76: // 'L' / 'F': a serialised log row "L<appId>\t<COPY line>" of a success / failure
          case 70: {
            const tab = line.indexOf('\t');
            this.invocationLog?.addLine(Number(line.slice(1, tab)), line.slice(tab + 1), line.charCodeAt(0) === 70);
            break;
          }
          case 85: {
            // 'U': rows the thread did not build, over the log's allowance
            const tab = line.indexOf('\t');
            this.invocationLog?.notWritten(Number(line.slice(1, tab)), Number(line.slice(tab + 1)));
            break;
          }
          case 72: // 'H': a host call
            void this.serveHost(slot, JSON.parse(line.slice(1)) as HostRequest);
            break;
          case 87: {
            // 'W': storage trouble of the thread's own kv (thread-kv.ts)
            const w = JSON.parse(line.slice(1)) as { msg: string; err: string };
            this.opts.log.warn({ err: w.err, thread: slot.id }, w.msg);
            break;
          }
          case 80: // 'P': a preload request is done
            this.preloaded(slot, Number(line.slice(1)));
            break;
          case 83: // 'S' / 'R': an invocation waits on I/O / runs again
          case 82:
            this.setSuspended(slot, line.slice(1), line.charCodeAt(0) === 83);
            break;
          default: {
            const r = JSON.parse(line) as { id: string; result: InvocationResult };
            this.finish(slot, r.id, r.result);
          }
        }
      }
      if (slot.outbox.length && !slot.sendScheduled) this.send(slot);
      this.pump();
      return;
    }
    if (m.type === 'ready') {
      slot.ready = true;
      this.startFailures = 0;
      for (const w of this.readyWaiters.splice(0)) w();
      this.pump();
    }
  }

  private async serveHost(slot: Slot, req: HostRequest): Promise<void> {
    let reply: HostReply;
    try {
      const value = await this.host(req);
      if (req.op === 'queue') {
        // queue::send: the job's id now; its commit later, as a reply of its own (seq negated), which the thread's
        // output gate waits for before anything of the invocation can be seen (run.ts)
        const q = value as QueuedJob;
        q.durable.then(
          () => this.reply(slot, { seq: -req.seq, ok: true, value: null }),
          (err: unknown) => {
            this.opts.log.warn({ err, op: req.op }, 'queue::send could not store its job');
            this.reply(slot, { seq: -req.seq, ok: false, error: err instanceof AppError ? err.message : 'storage unavailable' });
          },
        );
        reply = { seq: req.seq, ok: true, value: q.id };
      } else {
        reply = { seq: req.seq, ok: true, value };
      }
    } catch (err) {
      this.opts.log.warn({ err, op: req.op }, 'host call failed');
      const what = req.op === 'kv' ? `kv::${req.kv}` : req.op === 'queue' ? 'queue::send' : 'loading the script';
      reply = { seq: req.seq, ok: false, error: err instanceof AppError ? err.message : `${what} failed: storage unavailable` };
    }
    this.reply(slot, reply);
  }

  /** Replies that complete in the same burst (one read from PostgreSQL answers several queries) share a message. */
  private reply(slot: Slot, reply: HostReply): void {
    if (slot.dead) return;
    if (slot.replies.push(reply) === 1) {
      queueMicrotask(() => {
        const rs = slot.replies;
        slot.replies = [];
        if (!slot.dead) slot.worker.postMessage(rs);
      });
    }
  }

  private async host(req: HostRequest): Promise<unknown> {
    if (req.op === 'ast') {
      const ast = this.astCache.get(req.hash) ?? (await this.loadAsts([req.hash], true)).get(req.hash);
      if (ast === undefined) throw new AppError('INTERNAL', `compiled script ${req.hash.slice(0, 12)} is missing`);
      return ast;
    }
    if (req.op === 'queue') {
      return this.jobSends.queue({
        appId: req.appId, branch: req.branch, queue: req.queue, payload: req.json, delayMs: req.delayMs, maxAttempts: req.attempts, backoffMs: req.backoffMs,
      });
    }
    return this.kv.call({ appId: req.appId, branch: req.branch }, req.kv, req.key, req.json);
  }

  /** Load programs from the AST cache table into this pool's cache (recompiled when another engine stored them). */
  private async loadAsts(hashes: string[], strict: boolean): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [hash, p] of await loadPrograms(this.opts.pool, hashes)) {
      if (p.error) {
        // an invocation's load fails with the reason; a preload skips the program (its invocations will say why)
        if (strict) throw p.error;
        continue;
      }
      if (p.recompiledFrom) this.opts.log.info({ hash: hash.slice(0, 12), storedBy: p.recompiledFrom }, 'program stored by another engine version: compiled again from its source');
      if (this.astCache.size >= MAX_AST_CACHE) this.astCache.delete(this.astCache.keys().next().value!);
      this.astCache.set(hash, p.json);
      out.set(hash, p.json);
    }
    return out;
  }

  /**
   * Run a job; resolves with its result, rejects with NO_CAPACITY when the pool's wait queue is full and with
   * APP_BUSY when the job's app has its whole share busy and its own queue is full (or it waited past timeout_ms).
   * An idle thread gets the job at once. When every thread the app may use is busy, up to `pipeline` jobs are
   * queued on the least-loaded thread running only this app's jobs, so it goes from one job to the next without
   * sleeping and being woken again (the wake-up, not the CPU, bounded throughput); beyond that, jobs wait in their
   * app's queue.
   */
  run(job: InvocationJob, gate?: StartGate): Promise<InvocationResult> {
    if (this.closed) return Promise.reject(new AppError('NO_CAPACITY', 'The executor pool is shutting down'));
    const app = this.appState(job.target.appId);
    const slot = app.waiting.length === 0 ? this.pickSlot(app, job) : null;
    if ((!slot || active(slot) > 0) && this.waiting() >= (this.opts.maxQueue ?? 256 * this.opts.threads)) {
      this.counters.rejected++;
      this.dropIdle(app);
      return Promise.reject(new AppError('NO_CAPACITY', 'No executor capacity: the queue is full, try again later'));
    }
    if (!slot && app.waiting.length >= (this.opts.appQueue ?? 256)) {
      this.counters.appBusy++;
      return Promise.reject(appBusy(job, 'its queue is full'));
    }
    return new Promise<InvocationResult>((resolve, reject) => {
      const task: Task = { job, resolve, reject, enqueuedAt: performance.now(), suspended: false, sent: false };
      if (slot) this.assign(slot, task);
      else {
        // parked by the sweep if it waits long (PARK_AFTER_MS): its orchestrator may then send it elsewhere, should
        // this process die before it is claimed
        if (gate) task.gate = gate;
        this.enqueue(app, task);
      }
    });
  }

  /**
   * Run a job if a thread can take it now (idle, or pipelining behind this app's own jobs within its share) or its
   * expected wait for one is short (LOCAL_WAIT_MS); null otherwise: the caller sends it elsewhere (a node spills over
   * to Redis).
   */
  tryRun(job: InvocationJob): Promise<InvocationResult> | null {
    if (this.closed) return null;
    const app = this.appState(job.target.appId);
    const slot = app.waiting.length === 0 ? this.pickSlot(app, job) : null;
    if (slot) return new Promise<InvocationResult>((resolve, reject) => this.assign(slot, { job, resolve, reject, enqueuedAt: performance.now(), suspended: false, sent: false }));
    const wait = this.localWaitMs(app, job);
    if (wait !== null && wait < LOCAL_WAIT_MS && app.waiting.length < (this.opts.appQueue ?? 256) && this.waiting() < (this.opts.maxQueue ?? 256 * this.opts.threads)) {
      return new Promise<InvocationResult>((resolve, reject) => this.enqueue(app, { job, resolve, reject, enqueuedAt: performance.now(), suspended: false, sent: false }));
    }
    this.dropIdle(app);
    return null;
  }

  /**
   * The expected wait (ms) of a job of `app` for a local thread: the app's tasks ahead of it (active on its threads
   * and queued) times its script's recent run time, over the threads it may hold; null while that run time is not
   * known (the script has not run here yet, or it waits on I/O).
   */
  private localWaitMs(app: AppState, job: InvocationJob): number | null {
    const d = runMs.get(scriptKey(job));
    if (d === undefined) return null;
    let ahead = app.waiting.length;
    for (const s of this.slots) ahead += s.active.get(app.id) ?? 0;
    return (ahead * (d + TASK_OVERHEAD_MS)) / Math.max(1, Math.min(this.shareOf(job), this.slots.length));
  }

  /** Threads the app of `job` may hold. */
  private shareOf(job: InvocationJob): number {
    const pool = Math.max(1, this.opts.appShare ?? this.opts.threads - 1);
    const own = job.target.limits.concurrency;
    return typeof own === 'number' && own >= 1 ? Math.min(pool, own) : pool;
  }

  private appState(id: number): AppState {
    let a = this.apps.get(id);
    if (!a) this.apps.set(id, (a = { id, held: 0, waiting: [] }));
    return a;
  }

  /** Forget an app that holds nothing and waits for nothing (the map holds only apps in use). */
  private dropIdle(app: AppState): void {
    if (app.held === 0 && app.waiting.length === 0) this.apps.delete(app.id);
  }

  private enqueue(app: AppState, task: Task): void {
    app.waiting.push(task);
    this.queued++;
    if (!this.sweepTimer) this.sweepTimer = setInterval(() => this.sweep(), 100);
  }

  /** Jobs not yet running: in the app queues or pipelined behind a running one (suspended ones do not count). */
  private waiting(): number {
    let n = this.queued;
    for (const s of this.slots) if (active(s) > 1) n += active(s) - 1;
    return n;
  }

  /**
   * The thread for a job of `app`: a ready thread with room in its pipeline that is idle or runs only this app's
   * tasks (a thread not held by the app only while the app holds fewer than its share), the least loaded first,
   * then one the app already holds. Null when the job has to wait. Tasks suspended on a thread do not count: a
   * thread waiting on I/O for any number of invocations is idle.
   */
  private pickSlot(app: AppState, job: InvocationJob): Slot | null {
    const mayTakeNew = app.held < this.shareOf(job);
    const pipeline = this.opts.pipeline ?? 8;
    let mayPipeline: boolean | null = null;
    let best: Slot | null = null;
    let bestScore = Infinity;
    for (const s of this.slots) {
      const busy = active(s);
      if (!s.ready || s.dead || busy >= pipeline || s.tasks.length >= MAX_PER_THREAD) continue;
      const own = s.active.get(app.id) ?? 0;
      if (own === 0 ? !mayTakeNew || busy > 0 : busy > own) continue;
      if (own > 0 && !(mayPipeline ??= this.mayPipeline(app, job))) continue;
      const score = busy * 2 + (own > 0 ? 0 : 1);
      if (score < bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * Whether a job may queue on a thread behind its app's running task: not when its script runs long (it would wait
   * there while another thread may free up first), nor while another app waits holding no thread at all (the
   * pipeline would keep every thread busy with the apps that hold one, and that app would wait until they all stop).
   */
  private mayPipeline(app: AppState, job: InvocationJob): boolean {
    if ((runMs.get(scriptKey(job)) ?? 0) >= PIPELINE_MAX_RUN_MS) return false;
    for (const a of this.apps.values()) if (a !== app && a.held === 0 && a.waiting.length > 0) return false;
    return true;
  }

  /** Count a task as active on its thread (or not): the app holds the thread while it has one there. */
  private activate(slot: Slot, task: Task, on: boolean): void {
    const id = task.job.target.appId;
    const n = slot.active.get(id) ?? 0;
    const app = this.appState(id);
    if (on) {
      slot.active.set(id, n + 1);
      if (n === 0) app.held++;
    } else {
      if (n <= 1) {
        slot.active.delete(id);
        if (n === 1) app.held--;
      } else slot.active.set(id, n - 1);
      this.dropIdle(app);
    }
  }

  /** A thread reports a task waiting on I/O (it holds no share meanwhile) or running again. */
  setSuspended(slot: Slot, id: string, suspended: boolean): void {
    const task = slot.tasks.find((t) => t.job.id === id);
    if (!task) return;
    if (suspended) this.learn(task, true);
    if (task.presumed) {
      task.presumed = false;
      slot.presumed--;
    }
    if (task.suspended === suspended) return;
    task.suspended = suspended;
    slot.suspended += suspended ? 1 : -1;
    this.activate(slot, task, !suspended);
    if (suspended) {
      this.pump();
      this.opts.onSetAside?.();
    }
  }

  /** What keeps this pool from being ready (none = ready): no thread ready, the preload listener not connected. */
  problems(): string[] {
    const p: string[] = [];
    if (!this.slots.some((s) => s.ready && !s.dead)) p.push('no executor thread ready');
    if (this.preloader && !this.preloader.listening) p.push('release preload listener not connected');
    return p;
  }

  /** Tasks waiting on I/O in the threads (reported or presumed): they hold no thread. */
  suspendedCount(): number {
    let n = 0;
    for (const s of this.slots) n += s.suspended;
    return n;
  }

  /**
   * Tasks that take no room: those waiting on I/O, and (at most `forShareMax` of) those in the queue of an app that
   * holds its whole share (they wait for their own app's threads, not for a free one). An executor process takes
   * other work beside them, up to its bound of held tasks, so one app's flood does not fill its room and queue every
   * other app's invocations behind it at the orchestrators; the flood waits here, in its app's bounded queue (full →
   * APP_BUSY), and beyond `forShareMax` at the orchestrators, in that app's own FIFO.
   */
  heldAside(forShareMax = Infinity): number {
    let forShare = 0;
    for (const a of this.apps.values()) if (a.waiting.length && a.held >= this.shareOf(a.waiting[0]!.job)) forShare += a.waiting.length;
    return this.suspendedCount() + Math.min(forShare, forShareMax);
  }

  private learn(task: Task, waits: boolean): void {
    const k = scriptKey(task.job);
    if (waitsOnIo.get(k) === waits) return;
    if (waitsOnIo.size >= 4096) waitsOnIo.clear();
    waitsOnIo.set(k, waits);
  }

  /**
   * Answer `result` to the HTTP invocations waiting in the app queues (not started, not given to a thread): an
   * executor process that stops hands them back to their orchestrators, which send them to another executor. Queue
   * and schedule tasks stay: their runner waits for them.
   */
  handBackQueued(result: InvocationResult): void {
    for (const app of [...this.apps.values()]) {
      const keep = app.waiting.filter((t) => t.job.kind !== 'http');
      for (const t of app.waiting) if (t.job.kind === 'http') t.resolve(result);
      this.queued -= app.waiting.length - keep.length;
      app.waiting = keep;
      this.dropIdle(app);
    }
  }

  /**
   * Answer APP_BUSY to tasks that waited in their app's queue past their timeout, and park with their orchestrators
   * those that have waited PARK_AFTER_MS (those with a StartGate; they are claimed before they start).
   */
  private sweep(): void {
    const now = performance.now();
    for (const app of [...this.apps.values()]) {
      while (app.waiting.length && now - app.waiting[0]!.enqueuedAt > app.waiting[0]!.job.target.limits.timeoutMs) {
        const t = app.waiting.shift()!;
        this.queued--;
        this.counters.appBusy++;
        t.reject(appBusy(t.job, 'no thread of its share became free within its timeout_ms'));
      }
      for (const t of app.waiting) {
        if (now - t.enqueuedAt < PARK_AFTER_MS) break; // the rest came later
        if (t.gate && !t.parked) {
          t.parked = true;
          t.gate.park(t.job.id);
        }
      }
      this.dropIdle(app);
    }
    if (this.queued === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
  }

  private assign(slot: Slot, task: Task): void {
    this.reserve(slot, task);
    if (task.parked) this.claimThenPost(slot, task);
    else this.post(slot, task);
  }

  /**
   * A parked task keeps its place on the thread while its orchestrator is asked (one round trip on the lane or to Redis), then
   * is posted, or dropped unrun when the claim is refused.
   */
  private claimThenPost(slot: Slot, task: Task): void {
    void task.gate!.claim(task.job.id).then((ok) => {
      // the thread was retired meanwhile: the task went back to its app's queue (it is claimed again from there)
      if (!slot.tasks.includes(task)) return;
      if (ok && !slot.dead) {
        this.post(slot, task);
        return;
      }
      slot.tasks.splice(slot.tasks.indexOf(task), 1);
      this.release(slot, task);
      task.resolve(unclaimed());
      this.pump();
    });
  }

  /** Undo a task's accounting on its thread (finished, or dropped before it was posted). */
  private release(slot: Slot, task: Task): void {
    if (task.presumed) slot.presumed--;
    if (task.suspended) slot.suspended--;
    else this.activate(slot, task, false);
  }

  /** Count a task on its thread: from here it holds its place there. */
  private reserve(slot: Slot, task: Task): void {
    if (slot.tasks.length === 0) {
      slot.heardAt = performance.now();
      this.armWatchdog(slot, task.job.target.limits.timeoutMs);
    }
    slot.tasks.push(task);
    if (slot.presumed < MAX_PRESUMED && waitsOnIo.get(scriptKey(task.job)) === true) {
      task.suspended = true;
      task.presumed = true;
      slot.suspended++;
      slot.presumed++;
    } else this.activate(slot, task, true);
  }

  /** Queue a reserved task's job for its thread. */
  private post(slot: Slot, task: Task): void {
    // One message per thread per turn (setImmediate: after this poll phase, so the requests of all sockets read in
    // this turn share a message), and at most MAX_POSTED messages not yet answered per thread: beyond that, jobs
    // gather in the outbox and go out when the thread answers. Each message wakes the thread, which costs far more
    // than the copy (profiled: postMessage was the main thread's largest item after the HTTP writes).
    // `~`: the thread need not send this task's 'S' in a message of its own (thread.ts presumed)
    slot.outbox.push(task);
    if (!slot.sendScheduled && slot.unheard < MAX_POSTED) {
      slot.sendScheduled = true;
      setImmediate(() => this.send(slot));
    }
  }

  private send(slot: Slot): void {
    slot.sendScheduled = false;
    if (slot.dead || slot.outbox.length === 0 || slot.unheard >= MAX_POSTED) return;
    const tasks = slot.outbox;
    slot.outbox = [];
    slot.unheard++;
    let text = '';
    for (const t of tasks) {
      t.sent = true;
      text += (text ? '\n' : '') + (t.presumed ? `~${jobLine(t.job)}` : jobLine(t.job));
    }
    slot.worker.postMessage(text as ToThread);
  }

  /** Arm the thread's watchdog (if not armed) to look again in `ms` + grace. */
  private armWatchdog(slot: Slot, ms: number): void {
    if (slot.timer === null) slot.timer = setTimeout(() => this.onWatchdog(slot), ms + (this.opts.graceMs ?? 1000));
  }

  /**
   * The thread ends each invocation at its deadline itself (suspended ones too) and says so, so while it holds
   * invocations it speaks at least once per (largest timeout_ms among them). Silent longer than that + grace: it
   * is stuck in synchronous code that the operation counter does not reach.
   */
  private onWatchdog(slot: Slot): void {
    slot.timer = null;
    if (slot.dead || slot.tasks.length === 0) return;
    let max = 0;
    for (const t of slot.tasks) if (t.sent && t.job.target.limits.timeoutMs > max) max = t.job.target.limits.timeoutMs;
    const rem = slot.heardAt + max + (this.opts.graceMs ?? 1000) - performance.now();
    if (rem > 0 || max === 0) slot.timer = setTimeout(() => this.onWatchdog(slot), Math.max(rem, 50));
    else this.onStuck(slot);
  }

  /** Give free threads to waiting tasks, one app at a time round-robin, until none can start. */
  private pump(): void {
    if (this.queued === 0) return;
    let progress = true;
    while (progress && this.queued > 0) {
      progress = false;
      // round-robin, apps that hold no thread first
      const apps = [...this.apps.values()];
      for (let i = 0; i < 2 * apps.length; i++) {
        const app = apps[i % apps.length]!;
        const t = app.waiting[0];
        if (!t || (i < apps.length) !== (app.held === 0)) continue;
        const slot = this.pickSlot(app, t.job);
        if (!slot) continue;
        app.waiting.shift();
        this.queued--;
        // round-robin: the app goes to the back of the map's order
        this.apps.delete(app.id);
        this.apps.set(app.id, app);
        this.assign(slot, t);
        progress = true;
      }
    }
  }

  /** The thread finished task `id` (it recorded the invocation itself). */
  private finish(slot: Slot, id: string, result: InvocationResult): void {
    const i = slot.tasks.findIndex((t) => t.job.id === id);
    if (i < 0) return;
    const task = slot.tasks[i]!;
    slot.tasks.splice(i, 1);
    // presumed to wait, finished without: its script does not wait (any more)
    if (task.presumed) this.learn(task, false);
    this.release(slot, task);
    const k = scriptKey(task.job);
    if (waitsOnIo.get(k) !== true) {
      const prev = runMs.get(k);
      if (prev === undefined && runMs.size >= 4096) runMs.clear();
      runMs.set(k, prev === undefined ? result.durationMs : prev * 0.8 + result.durationMs * 0.2);
    }
    this.counters.completed++;
    task.resolve(result);
  }

  private record(job: InvocationJob, r: InvocationResult): void {
    this.invocationLog?.add(invocationRow(job, r));
  }

  /**
   * A thread said nothing for longer than the invocations it holds may run: terminate and replace it. Its
   * invocations past their timeout_ms answer 504 (one of them kept it busy), the others it had been sent 502.
   */
  private onStuck(slot: Slot): void {
    if (slot.dead || slot.tasks.length === 0) return;
    this.counters.timedOut++;
    const now = performance.now();
    for (const task of this.retire(slot)) {
      const over = now - task.enqueuedAt > task.job.target.limits.timeoutMs;
      const r = over
        ? errorResult(504, 'Script exceeded its time limit (timeout_ms); its executor thread was restarted', {}, now - task.enqueuedAt)
        : errorResult(502, 'The executor thread running this invocation was restarted (another script on it exceeded its time limit)', {}, now - task.enqueuedAt);
      this.record(task.job, r);
      task.resolve(r);
    }
    void slot.worker.terminate();
  }

  private onExit(slot: Slot, why: 'crashed'): void {
    if (slot.dead) return;
    if (!slot.ready) {
      // a thread that dies before it is ready would die again: do not respawn in a loop
      this.startFailures++;
      if (this.startFailures >= 3) {
        slot.dead = true;
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        this.opts.log.error('executor threads fail to start; not restarting them');
        for (const w of this.readyWaiters.splice(0)) w();
        return;
      }
    }
    const sent = this.retire(slot);
    if (sent.length) this.counters.crashed++;
    for (const task of sent) {
      const r = errorResult(502, `The executor ${why} while running this invocation`, {}, performance.now() - task.enqueuedAt);
      this.record(task.job, r);
      task.resolve(r);
    }
  }

  /**
   * Remove a slot, give the jobs it was never sent back to their apps' queues, spawn its replacement; returns the
   * tasks it had been sent (they may have run partly: never run twice).
   */
  private retire(slot: Slot): Task[] {
    slot.dead = true;
    this.preloaded(slot, null);
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const sent = slot.tasks.filter((t) => t.sent);
    const waiting = slot.tasks.filter((t) => !t.sent);
    for (const t of slot.tasks) if (!t.suspended) this.activate(slot, t, false);
    slot.tasks = [];
    slot.suspended = 0;
    slot.presumed = 0;
    slot.outbox = [];
    slot.replies = [];
    // not yet started: back to the front of their apps' queues, in order
    for (let i = waiting.length - 1; i >= 0; i--) {
      const t = waiting[i]!;
      t.suspended = false;
      t.presumed = false;
      const app = this.appState(t.job.target.appId);
      app.waiting.unshift(t);
      this.queued++;
    }
    if (this.queued && !this.sweepTimer) this.sweepTimer = setInterval(() => this.sweep(), 100);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    if (!this.closed) {
      this.counters.restarts++;
      this.slots.push(this.spawn());
    }
    this.pump();
    return sent;
  }

  stats() {
    return {
      threads: this.slots.length,
      busy: this.slots.filter((s) => active(s) > 0).length,
      suspended: this.slots.reduce((n, s) => n + s.suspended, 0),
      queued: this.queued,
      apps: this.apps.size,
      ...this.counters,
      /** invocation-log rows not written: their app was over the log's rate (log-allowance.ts), counted here or by the thread that did not build them */
      unlogged: this.invocationLog?.unlogged ?? 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.preloader?.close();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const app of this.apps.values()) for (const t of app.waiting.splice(0)) t.resolve(errorResult(503, 'The executor pool is shutting down'));
    this.apps.clear();
    this.queued = 0;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map(async (s) => {
      s.dead = true;
      this.preloaded(s, null);
      if (s.timer) clearTimeout(s.timer);
      for (const t of s.tasks) t.resolve(errorResult(503, 'The executor pool is shutting down'));
      await s.worker.terminate();
    }));
    await this.invocationLog?.close();
  }
}

/** The app's share is busy and it cannot wait (more): 503 APP_BUSY. */
function appBusy(job: InvocationJob, why: string): AppError {
  return new AppError('APP_BUSY', `App ${job.target.app} is using its whole share of the executors and ${why}; try again later`, { app: job.target.app });
}
