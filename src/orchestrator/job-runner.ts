/**
 * The job runner (architecture.md §6, `[[queues]]`): takes due jobs from the PostgreSQL job store (db/jobs.ts)
 * and runs each try as a `queue` invocation through the dispatcher, on the release that is live when the try
 * starts (the route table's entry, not the sender's). A handler that throws, times out (504) or whose executor
 * dies (502) fails the try: pending again after its backoff, a dead letter when its attempts are used up.
 *
 * Wake-ups, no busy polling: LISTEN 'picloud_jobs' (every send NOTIFYs), one timer for the next due time (a
 * delayed job, a backoff, the end of a running job's lease), and a safety poll once a minute (a NOTIFY lost with
 * a LISTEN reconnect; lease ends of other runners). Claims take FOR UPDATE SKIP LOCKED under a per-queue
 * advisory lock, so `concurrency` holds platform-wide and several runners (cluster mode) can share the table.
 *
 * Hand-written rather than graphile-worker / pg-boss: pg-boss polls (0.5–2 s, against the idle goal);
 * graphile-worker would add a second migration system and schema for what is ~200 lines here, and its jobs could
 * not be listed per (app, branch, queue) or replayed through our API without reaching into its tables.
 */
import type { Logger } from '../common/log.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import {
  claimJobs, completeJob, deleteOrphanJobs, failJob, failUndeclared, nextLeaseEnd, pendingQueues, pruneDoneJobs, reclaimJobs, type JobRow,
} from '../db/jobs.ts';
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
}

const DONE_MAX_AGE_MS = 24 * 3600_000;

export class JobRunner {
  private listener: PoolClient | null = null;
  private closed = false;
  private waking: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private poll: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private counters = { started: 0, succeeded: 0, failed: 0 };

  constructor(private readonly o: JobRunnerOptions) {}

  async start(): Promise<void> {
    const { pool, log } = this.o;
    const reclaimed = await reclaimJobs(pool, this.o.exclusive);
    if (reclaimed) log.warn({ reclaimed }, 'jobs left running by a stopped runner are tried again');
    await deleteOrphanJobs(pool);
    await this.listen();
    this.poll = setInterval(() => void this.safetyPoll(), this.o.pollMs ?? 60_000);
    this.poll.unref();
    await this.armLeaseTimer();
    this.wake();
  }

  /**
   * The once-a-minute poll, one query after another: while idle the pool has closed its connections, and queries
   * sent at once would start as many PostgreSQL backends each minute (three, measured) where one does.
   */
  private async safetyPoll(): Promise<void> {
    const { pool } = this.o;
    await reclaimJobs(pool, false).then(() => this.armLeaseTimer()).catch(() => {});
    await pruneDoneJobs(pool, DONE_MAX_AGE_MS).catch(() => {});
    if (!this.listener) await this.listen().catch(() => {});
    this.wake();
  }

  private async listen(): Promise<void> {
    if (this.closed) return;
    const c = await this.o.pool.connect();
    c.on('notification', (m) => {
      if (m.channel !== 'picloud_jobs') return;
      const at = Number(m.payload);
      if (Number.isFinite(at) && at > Date.now() + 5) this.armTimer(at);
      else this.wake();
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

  /** A release switched: pending jobs of queues it no longer declares become dead letters; removed previews lose theirs. */
  onBranchChange(app: string, branch: string, entry: BranchEntry | null): void {
    const p = entry
      ? failUndeclared(this.o.pool, entry.appId, branch, entry.queues.map((q) => q.name)).then((n) => {
        if (n) this.o.log.warn({ app, branch, jobs: n }, 'pending jobs of a queue no longer declared are now dead letters');
      })
      : deleteOrphanJobs(this.o.pool).then(() => {});
    void p.catch((err) => this.o.log.error({ err }, 'job cleanup after a release switch failed')).finally(() => this.wake());
  }

  private armTimer(at: number): void {
    if (this.closed || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.wake();
    }, Math.max(0, Math.min(at - Date.now(), 2 ** 31 - 1)));
  }

  /** Claim and start every due job the queues have room for (serialised; a wake during one runs once more after it). */
  wake(): void {
    if (this.closed) return;
    if (this.waking) {
      this.again = true;
      return;
    }
    this.waking = this.claimRound()
      .catch((err) => this.o.log.error({ err }, 'job claim failed'))
      .finally(() => {
        this.waking = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private entryById(): Map<string, BranchEntry> {
    const m = new Map<string, BranchEntry>();
    for (const e of this.o.routes.entries()) m.set(`${e.appId}\u0000${e.branch}`, e);
    return m;
  }

  private async claimRound(): Promise<void> {
    const { pool } = this.o;
    const now = Date.now();
    const entries = this.entryById();
    for (const q of await pendingQueues(pool)) {
      if (this.closed) return;
      const e = entries.get(`${q.appId}\u0000${q.branch}`);
      const decl = e?.queues.find((x) => x.name === q.queue);
      // not (yet) declared in this process's table: the release switch that declares or removes it wakes us again
      if (!e || !decl) continue;
      if (q.dueAt > now) {
        this.armTimer(q.dueAt);
        continue;
      }
      const jobs = await claimJobs(pool, {
        appId: q.appId, branch: q.branch, queue: q.queue, concurrency: decl.concurrency, leaseMs: e.limits.timeoutMs + (this.o.leaseGraceMs ?? 30_000),
      });
      for (const j of jobs) this.track(this.runTry(e, decl, j));
    }
  }

  /** A timer for the earliest running lease's end (a runner elsewhere may have died): at start and on each poll. */
  private async armLeaseTimer(): Promise<void> {
    const lease = await nextLeaseEnd(this.o.pool);
    if (lease !== null) this.armTimer(Math.max(lease, Date.now()) + 100);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      this.wake(); // a slot is free
    });
  }

  private async runTry(e: BranchEntry, decl: BranchEntry['queues'][number], j: JobRow): Promise<void> {
    this.counters.started++;
    let r: InvocationResult;
    try {
      r = await this.o.dispatcher.invoke({
        kind: 'queue', id: `job-${j.id}-${j.attempts}`, target: targetOf(e, decl), queue: j.queue, jobId: j.id, attempt: j.attempts, body: j.payload,
      });
    } catch (err) {
      r = { status: 503, headers: {}, body: '', durationMs: 0, operations: 0, cold: false, logs: [], error: (err as Error).message };
    }
    try {
      if (r.status < 500) {
        this.counters.succeeded++;
        await completeJob(this.o.pool, j.id);
      } else {
        this.counters.failed++;
        const state = await failJob(this.o.pool, j.id, `${r.status}: ${r.error ?? 'failed'}`);
        if (state === 'pending') {
          const { rows } = await this.o.pool.query<{ t: string }>(`SELECT (extract(epoch FROM run_at) * 1000)::bigint::text AS t FROM jobs WHERE id = $1`, [j.id]);
          if (rows[0]) this.armTimer(Number(rows[0].t));
        }
      }
    } catch (err) {
      // the lease ends and the job is taken again: at least once
      this.o.log.error({ err, job: j.id }, 'recording a job result failed');
    }
  }

  stats() {
    return { running: this.inFlight.size, ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
    await this.waking?.catch(() => {});
    // tries in flight finish (the dispatcher answers each by its deadline), so their results are recorded
    await Promise.all([...this.inFlight]);
    const c = this.listener;
    this.listener = null;
    if (c) {
      await c.query('UNLISTEN *').catch(() => {});
      c.release();
    }
  }
}
