/**
 * The job runner (architecture.md §6, `[[queues]]`): takes due jobs from the PostgreSQL job store (db/jobs.ts)
 * and runs each try as a `queue` invocation through the dispatcher, on the release that is live when the try
 * starts (the route table's entry, not the sender's). A handler that throws, times out (504) or whose executor
 * dies (502) fails the try: pending again after its backoff, a dead letter when its attempts are used up.
 *
 * Hot path, per queue (docs/architecture.md "Background jobs"): a send's NOTIFY names its queue, and wakes a claim
 * of that queue only; a claim is one round trip (picloud_claim_jobs) that also records the tries this runner
 * finished since the last one, so a queue under load costs one query per finished job, and none while all of its
 * `concurrency` slots are busy here. Claims of one queue are serialised in this process (a wake during one runs
 * one more after it). A send from this process's own executor threads (embedded mode, a node's threads) claims its
 * queue in the send's transaction (reserve, db/job-sends.ts), so its job starts right after the commit; other
 * sends of this process are handed over directly (jobsSent), and the copy of their NOTIFY is skipped.
 *
 * Wake-ups, no busy polling: LISTEN 'picloud_jobs' (every send NOTIFYs), one timer for the next due time (a
 * delayed job, a backoff, the end of a running job's lease), and a safety poll once a minute (a NOTIFY lost with
 * a LISTEN reconnect; lease ends of other runners). Idle, the runner holds exactly that: one LISTEN connection,
 * the 60 s interval, and a timer only while a job is delayed, backing off or leased. Claims take FOR UPDATE SKIP
 * LOCKED under a per-queue advisory lock, so `concurrency` holds platform-wide and several runners (cluster mode)
 * can share the table.
 *
 * Hand-written rather than graphile-worker / pg-boss: pg-boss polls (0.5–2 s, against the idle goal);
 * graphile-worker would add a second migration system and schema for what is ~250 lines here, and its jobs could
 * not be listed per (app, branch, queue) or replayed through our API without reaching into its tables.
 */
import type { Logger } from '../common/log.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import {
  claimJobs, deleteOrphanJobs, failJob, failUndeclared, nextLeaseEnd, parseJobWake, pendingQueues, pruneDoneJobs, reclaimJobs, releaseJob, renewLeases, type JobRow, type JobWake, type SendClaimArgs,
} from '../db/jobs.ts';
import type { JobSends, SendClaim } from '../db/job-sends.ts';
import type { Dispatcher } from '../queue/dispatch.ts';
import type { InvocationResult } from '../queue/jobs.ts';
import { targetOf, type BranchEntry, type RouteTable } from './route-table.ts';

export interface JobRunnerOptions {
  pool: Pool;
  routes: RouteTable;
  dispatcher: Dispatcher;
  log: Logger;
  /** the only runner (embedded mode): at start, every job left running was orphaned by a crash of this platform */
  exclusive: boolean;
  /** safety poll period (default 60 s) */
  pollMs?: number;
  /** added to a job's timeout_ms for its lease (default 30 s) */
  leaseGraceMs?: number;
  /**
   * Take back jobs whose lease ended (their runner died) this often while this runner runs tries, and for
   * LEASE_WATCH_MS after it last saw the queues active (a send, a claim: tries may be running elsewhere); none:
   * only the safety poll does. Executor processes, whose tries nobody else watches, set it; idle, it costs nothing.
   */
  busyCheckMs?: number;
  /**
   * A fixed lease for every try, renewed each busyCheckMs while the try runs here, so a runner that dies frees its
   * jobs within leaseMs + busyCheckMs of another runner's check whatever their timeout_ms (default: timeout_ms +
   * leaseGraceMs, never renewed). Needs busyCheckMs well under it.
   */
  leaseMs?: number;
  /**
   * queue::send's inserts in this process (db/job-sends.ts): a send of a due job claims its queue in the send's
   * transaction (reserve), each commit tells this runner of the rest (jobsSent), and the NOTIFYs those commits send
   * for other nodes, which come back here too, are skipped (by the PostgreSQL backend pid that sent them).
   */
  sends?: JobSends;
}

const DONE_MAX_AGE_MS = 24 * 3600_000;
/** how long after the last queue activity it saw a runner with busyCheckMs keeps looking for ended leases */
const LEASE_WATCH_MS = 60_000;
/** a try the dispatcher refused (nothing ran) is tried again after this, without counting the attempt */
const NOT_RUN_RETRY_MS = 1000;

/** This runner's view of one queue (app, branch, name). */
interface QueueState {
  appId: number;
  branch: string;
  queue: string;
  claiming: boolean;
  again: boolean;
  /** tries started here and not finished */
  running: number;
  /** ids of tries that succeeded here, recorded by the next claim */
  done: string[];
}

type Decl = BranchEntry['queues'][number];

/** A claim's arguments (claimJobs), with the route-table entry and queue declaration its tries run on. */
interface ClaimArgs extends SendClaimArgs {
  e: BranchEntry | undefined;
  decl: Decl | undefined;
}

export class JobRunner {
  private listener: PoolClient | null = null;
  private closed = false;
  private waking: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private poll: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private busyCheck: NodeJS.Timeout | null = null;
  private activeAt = 0;
  /** calls of active(): a lease check ends the watch only if none came while it ran */
  private activity = 0;
  /** ids of the tries running here (their leases are renewed with leaseMs) */
  private readonly runningIds = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly queues = new Map<string, QueueState>();
  private byId: Map<string, BranchEntry> | null = null;
  private counters = { started: 0, succeeded: 0, failed: 0, claims: 0 };

  constructor(private readonly o: JobRunnerOptions) {
    if (o.sends) {
      o.sends.onSent = (wakes) => this.jobsSent(wakes);
      o.sends.claim = (appId, branch, queue) => this.reserve(appId, branch, queue);
    }
    // a release switch: the queues it declares or removes; a full reload: every queue
    o.routes.onChange((changes, full) => {
      if (full) this.wake();
      else for (const c of changes) this.onBranchChange(c.app, c.branch, c.entry);
    });
  }

  async start(): Promise<void> {
    const { pool, log } = this.o;
    const reclaimed = await reclaimJobs(pool, this.o.exclusive);
    if (reclaimed) log.warn({ reclaimed }, 'jobs left running by a stopped runner are tried again');
    await deleteOrphanJobs(pool);
    await this.listen();
    this.poll = setInterval(() => {
      this.polling ??= this.safetyPoll().finally(() => { this.polling = null; });
    }, this.o.pollMs ?? 60_000);
    this.poll.unref();
    await this.armLeaseTimer();
    this.wake();
  }

  /**
   * Where the single statements of the poll and of a claim round's look-up go: the LISTEN connection, which stays
   * open, rather than the pool, which closes idle connections after 30 s, so an idle minute starts no PostgreSQL
   * backend (it started three, measured: ~5 ms of PostgreSQL CPU each). The pool while LISTEN is down; claims
   * (transactions) always take a pool connection.
   */
  private get db(): Pool | PoolClient {
    return this.listener ?? this.o.pool;
  }

  /** The once-a-minute poll (its statements one after another on `db`). */
  private async safetyPoll(): Promise<void> {
    await reclaimJobs(this.db, false).then(() => this.armLeaseTimer()).catch(() => {});
    await pruneDoneJobs(this.db, DONE_MAX_AGE_MS).catch(() => {});
    if (!this.listener) await this.listen().catch(() => {});
    // finished tries a failed claim could not record yet
    for (const q of this.queues.values()) if (q.done.length) this.wakeQueue(q.appId, q.branch, q.queue);
    this.wake();
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const c = await this.o.pool.connect();
    c.on('notification', (m) => {
      if (m.channel !== 'picloud_jobs') return;
      const w = parseJobWake(m.payload ?? '');
      if (w === null) this.wake();
      else if (!this.o.sends?.sentBy(m.processId)) this.onWake(w);
    });
    c.on('error', (err) => {
      if (this.closed) return;
      this.o.log.warn({ err }, 'jobs LISTEN connection lost; the next poll reconnects');
      if (this.listener === c) this.listener = null;
      c.release(err);
    });
    await c.query('LISTEN picloud_jobs');
    this.listener = c;
  }

  /** Jobs were committed by sends in this process (db/job-sends.ts): the same as their NOTIFY, without its round trip. */
  jobsSent(wakes: readonly NonNullable<JobWake>[]): void {
    for (const w of wakes) this.onWake(w);
  }

  /** One queue's job is due at `w.at`: claim now, once due (+1 for timer rounding), or arm the timer. */
  private onWake(w: NonNullable<JobWake>): void {
    this.active();
    const now = Date.now();
    if (w.at > now + 5) this.armTimer(w.at);
    else if (w.at > now) setTimeout(() => this.wakeQueue(w.appId, w.branch, w.queue), w.at - now + 1); // claim once it is due, not before
    else this.wakeQueue(w.appId, w.branch, w.queue);
  }

  /** A release switched: pending jobs of queues it no longer declares become dead letters; removed previews lose theirs. */
  onBranchChange(app: string, branch: string, entry: BranchEntry | null): void {
    this.byId = null;
    const p = entry
      ? failUndeclared(this.o.pool, entry.appId, branch, entry.queues.map((q) => q.name)).then((n) => {
        if (n) this.o.log.warn({ app, branch, jobs: n }, 'pending jobs of a queue no longer declared are now dead letters');
      })
      : deleteOrphanJobs(this.o.pool).then(() => {});
    void p.catch((err) => this.o.log.error({ err }, 'job cleanup after a release switch failed')).finally(() => this.wake());
  }

  /** Wake at `at` (unix ms, rounded up from the database's time, so a claim then finds the job due; +1 for timer rounding). */
  private armTimer(at: number): void {
    if (this.closed || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.wake();
    }, Math.max(0, Math.min(at - Date.now() + 1, 2 ** 31 - 1)));
  }

  /**
   * Look at every queue with pending jobs (start, the safety poll, a timer, a route-table reload): claim for each
   * due one, arm the timer for the earliest that is not due yet. Serialised; a wake during one runs once more after it.
   */
  wake(): void {
    if (this.closed) return;
    this.byId = null;
    if (this.waking) {
      this.again = true;
      return;
    }
    this.waking = this.wakeAll()
      .catch((err) => this.o.log.error({ err }, 'job claim failed'))
      .finally(() => {
        this.waking = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async wakeAll(): Promise<void> {
    const now = Date.now();
    for (const q of await pendingQueues(this.db)) {
      if (q.dueAt > now) this.armTimer(q.dueAt);
      else this.wakeQueue(q.appId, q.branch, q.queue);
    }
  }

  private entry(appId: number, branch: string): BranchEntry | undefined {
    if (!this.byId) {
      this.byId = new Map();
      for (const e of this.o.routes.entries()) this.byId.set(`${e.appId}\u0000${e.branch}`, e);
    }
    return this.byId.get(`${appId}\u0000${branch}`);
  }

  private state(appId: number, branch: string, queue: string): QueueState {
    const k = `${appId}\u0000${branch}\u0000${queue}`;
    let s = this.queues.get(k);
    if (!s) this.queues.set(k, (s = { appId, branch, queue, claiming: false, again: false, running: 0, done: [] }));
    return s;
  }

  /** Claim what one queue has room for (and record its finished tries); serialised per queue. */
  private wakeQueue(appId: number, branch: string, queue: string): void {
    if (this.closed) return;
    const s = this.state(appId, branch, queue);
    if (s.claiming) {
      s.again = true;
      return;
    }
    s.claiming = true;
    const p = this.claim(s)
      .catch((err) => this.o.log.error({ err, queue }, 'job claim failed'))
      .finally(() => {
        s.claiming = false;
        if (s.again) {
          s.again = false;
          this.wakeQueue(appId, branch, queue);
        }
      });
    this.track(p);
  }

  /** What a claim of `s` asks now (its finished tries are taken out of `s.done`), or null: no room, nothing to record. */
  private claimArgs(s: QueueState): ClaimArgs | null {
    const e = this.entry(s.appId, s.branch);
    // not (yet) declared in this process's table: the release switch that declares or removes it wakes us again
    const decl = e?.queues.find((x) => x.name === s.queue);
    const room = this.closed || !decl ? 0 : decl.concurrency - s.running;
    if (room <= 0 && s.done.length === 0) return null;
    return {
      appId: s.appId, branch: s.branch, queue: s.queue, e, decl, concurrency: room > 0 ? decl!.concurrency : 0,
      leaseMs: this.o.leaseMs ?? (e?.limits.timeoutMs ?? 0) + (this.o.leaseGraceMs ?? 30_000), done: s.done.splice(0),
    };
  }

  /** A claim's rows: each runs as a try. */
  private claimed(s: QueueState, a: ClaimArgs, jobs: JobRow[]): void {
    this.counters.claims++;
    // a claim with room: jobs are about (run here, or by the runner that took them)
    if (a.concurrency > 0) this.active();
    for (const j of jobs) {
      s.running++;
      this.runningIds.add(j.id);
      this.track(this.runTry(s, a.e!, a.decl!, j));
    }
  }

  private async claim(s: QueueState): Promise<void> {
    const a = this.claimArgs(s);
    if (!a) return;
    try {
      this.claimed(s, a, await claimJobs(this.o.pool, a));
    } catch (err) {
      s.done.push(...a.done); // recorded by the next claim (or their leases end and they run again: at least once)
      throw err;
    }
  }

  /**
   * A send in this process of a due job to this queue (db/job-sends.ts): claim the queue in the send's transaction
   * instead of after its commit, when no claim of it is in flight here and there is room (or finished tries to
   * record). Serialised with wakeQueue like any claim of the queue.
   */
  reserve(appId: number, branch: string, queue: string): SendClaim | null {
    if (this.closed) return null;
    const s = this.state(appId, branch, queue);
    if (s.claiming) return null;
    const a = this.claimArgs(s);
    if (!a) return null;
    s.claiming = true;
    const end = () => {
      s.claiming = false;
      if (s.again) {
        s.again = false;
        this.wakeQueue(appId, branch, queue);
      }
    };
    return {
      ...a,
      settle: (jobs) => {
        try {
          this.claimed(s, a, jobs);
        } finally {
          end();
        }
      },
      fail: () => {
        s.done.push(...a.done);
        end();
      },
    };
  }

  /**
   * See busyCheckMs: the queues are active (now), so tries may be running here or elsewhere. The watch ends
   * LEASE_WATCH_MS after the last activity, or sooner once nothing runs here or anywhere (no running job holds a
   * lease): a job that starts running later is claimed by a claim round, which every runner's wake-up for it makes
   * activity again. Ending early spares an idle node's runners and PostgreSQL a check every busyCheckMs for a
   * minute after each burst.
   */
  private active(): void {
    const every = this.o.busyCheckMs;
    if (!every || this.closed) return;
    this.activeAt = Date.now();
    this.activity++;
    if (this.busyCheck) return;
    const stop = () => {
      if (this.busyCheck) clearInterval(this.busyCheck);
      this.busyCheck = null;
    };
    this.busyCheck = setInterval(() => {
      if (this.runningIds.size === 0 && Date.now() - this.activeAt > LEASE_WATCH_MS) return stop();
      const seen = this.activity;
      const renew = this.o.leaseMs && this.runningIds.size ? [...this.runningIds] : null;
      this.polling ??= (renew ? renewLeases(this.db, renew, this.o.leaseMs!) : Promise.resolve())
        .then(() => reclaimJobs(this.db, false))
        .then(async (n) => {
          if (n) this.o.log.warn({ reclaimed: n }, 'jobs whose runner stopped before they finished (their lease ended) are tried again');
          if (this.runningIds.size === 0 && (await nextLeaseEnd(this.db)) === null && this.activity === seen && this.runningIds.size === 0) stop();
        })
        .catch((err: unknown) => this.o.log.warn({ err }, 'job lease check failed'))
        .finally(() => { this.polling = null; });
    }, every);
    this.busyCheck.unref();
  }

  /** A timer for the earliest running lease's end (a runner elsewhere may have died): at start and on each poll. */
  private async armLeaseTimer(): Promise<void> {
    const lease = await nextLeaseEnd(this.db);
    if (lease !== null) this.armTimer(Math.max(lease, Date.now()) + 100);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async runTry(s: QueueState, e: BranchEntry, decl: Decl, j: JobRow): Promise<void> {
    this.counters.started++;
    let r: InvocationResult | null;
    try {
      r = await this.o.dispatcher.invoke({
        kind: 'queue', id: `job-${j.id}-${j.attempts}`, target: targetOf(e, decl), queue: j.queue, jobId: j.id, attempt: j.attempts, body: j.payload,
      });
    } catch {
      r = null; // not dispatched (no capacity, Redis unreachable): nothing ran
    }
    if (r && r.status < 500) s.done.push(j.id); // before the wake below, whose claim records it
    try {
      await this.record(j, r);
    } catch (err) {
      // the lease ends and the job is taken again: at least once
      this.o.log.error({ err, job: j.id }, 'recording a job result failed');
    } finally {
      s.running--;
      this.runningIds.delete(j.id);
      this.wakeQueue(s.appId, s.branch, s.queue); // a slot is free
    }
  }

  /** A try's outcome: done (recorded by the next claim), failed (backoff or dead letter), or not run (tried again soon, attempt not counted). */
  private async record(j: JobRow, r: InvocationResult | null): Promise<void> {
    if (r === null) {
      await releaseJob(this.o.pool, j.id, NOT_RUN_RETRY_MS);
      this.armTimer(Date.now() + NOT_RUN_RETRY_MS);
    } else if (r.status < 500) this.counters.succeeded++;
    else {
      this.counters.failed++;
      const f = await failJob(this.o.pool, j.id, `${r.status}: ${r.error ?? 'failed'}`);
      if (f?.state === 'pending') this.armTimer(f.runAt);
    }
  }

  stats() {
    let running = 0;
    for (const s of this.queues.values()) running += s.running;
    return { running, ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
    if (this.busyCheck) clearInterval(this.busyCheck);
    await this.polling;
    await this.waking?.catch(() => {});
    // claims and tries in flight finish (the dispatcher answers each by its deadline), so their results are recorded
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    for (const s of this.queues.values()) {
      if (s.done.length) await claimJobs(this.o.pool, { appId: s.appId, branch: s.branch, queue: s.queue, concurrency: 0, leaseMs: 0, done: s.done.splice(0) }).catch(() => {});
    }
    const c = this.listener;
    this.listener = null;
    if (c) {
      await c.query('UNLISTEN *').catch(() => {});
      c.release();
    }
  }
}
