/**
 * queue::send's durable insert (ExecutorPool.host, in the embedded pool and every executor process), with group
 * commit: the sends that arrive while an insert is in flight go into the next one (insertJobs: one multi-row
 * statement, so one transaction and one WAL flush for the lot). `queue` answers at once with the job's id (taken
 * from jobs_id_seq ahead of time, a block at a time) and a promise of the commit that holds its row; `send` waits for
 * that commit. queue::send uses `queue`: its script goes on at once, and what the invocation does afterwards that
 * could be seen outside waits for the commit (the output gate, executor/run.ts), so a loop of sends shares commits.
 * If a batch fails (an app deleted meanwhile, a bad row), its sends are inserted one by one so only the bad one fails.
 *
 * A job runner in the same process (the embedded mode, a node's own threads) goes further: a send of a due job
 * claims its queue in the same transaction when the runner has room and is not claiming it already (`claim`,
 * JobRunner.reserve), so the job starts right after the commit, with no NOTIFY and no claim round trip in between;
 * and after each commit `onSent` tells it of the other queues and due times it got jobs for. NOTIFY still goes out
 * for other nodes; `sentBy` lets the runner skip its own copy (by the PostgreSQL backend pid that sent it).
 *
 * Hand-written, like kv-store.ts: batching "while a statement is in flight" rather than per tick.
 */
import type { Pool } from './pool.ts';
import { insertJobs, reserveJobIds, type IdentifiedJob, type JobRow, type JobWake, type NewJob, type SendClaimArgs } from './jobs.ts';

export interface JobSendsOptions {
  pool: Pool;
  /** after each commit: one wake per (queue, due time) of the jobs it inserted */
  onSent?: (wakes: NonNullable<JobWake>[]) => void;
}

/**
 * A job runner in this process letting a send claim one of its queues in the send's transaction (JobRunner.reserve):
 * exactly one of settle (after the commit, with the claimed rows) or fail is called.
 */
export interface SendClaim extends SendClaimArgs {
  settle(claimed: JobRow[]): void;
  fail(): void;
}

export type ClaimHook = (appId: number, branch: string, queue: string) => SendClaim | null;

interface PendingSend {
  job: IdentifiedJob;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A job handed to `queue`: its id now, and the commit that makes it durable (rejects if it could not be stored). */
export interface QueuedJob {
  id: string;
  durable: Promise<void>;
}

/** ids taken from jobs_id_seq at a time, and how few left start taking the next block (ahead of need) */
const ID_BLOCK = 256;
const ID_LOW = 64;

/** Sends in one statement at most (more wait for the next: bounded statements); a job's payload is ≤ 1 MiB. */
const MAX_BATCH = 500;
const MAX_BATCH_CHARS = 8 * 1024 * 1024;

export class JobSends {
  private pending: PendingSend[] = [];
  private sending = false;
  private scheduled = false;
  /** ids reserved ahead (ascending), and the reservation in flight */
  private ids: string[] = [];
  private reserving: Promise<void> | null = null;
  /** backend pids of the connections that committed sends here (the NOTIFYs they sent are this process's own) */
  private readonly backends = new Set<number>();
  onSent: JobSendsOptions['onSent'];
  /** set by a job runner in this process: a send of a due job claims its queue in the same transaction */
  claim: ClaimHook | null = null;

  constructor(private readonly o: JobSendsOptions) {
    this.onSent = o.onSent;
  }

  /** Insert a job (durable when this resolves); resolves with its id. */
  async send(job: NewJob): Promise<string> {
    const q = await this.queue(job);
    await q.durable;
    return q.id;
  }

  /**
   * Take a job for the next insert: resolves with its id as soon as it has one (at once, but for the first send of
   * each block of ids), and `durable` once the commit holding its row is done. Rejects only if no id can be taken.
   */
  queue(job: NewJob): Promise<QueuedJob> {
    const id = this.takeId();
    if (typeof id === 'string') return Promise.resolve(this.enqueue({ ...job, id }));
    return id.then((i) => this.enqueue({ ...job, id: i }));
  }

  private takeId(): string | Promise<string> {
    if (this.ids.length <= ID_LOW && !this.reserving) {
      this.reserving = reserveJobIds(this.o.pool, ID_BLOCK).then((ids) => {
        this.ids.push(...ids);
      }).finally(() => {
        this.reserving = null;
      });
      // a failed reservation is the waiting sends' error (below); the next send tries again
      this.reserving.catch(() => {});
    }
    const id = this.ids.shift();
    if (id !== undefined) return id;
    return this.reserving!.then(() => this.takeId());
  }

  private enqueue(job: IdentifiedJob): QueuedJob {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const durable = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.pending.push({ job, resolve, reject });
    // gather what arrives in this turn (a thread's message carries several host calls) before sending
    if (!this.sending && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => void this.flush());
    }
    return { id: job.id, durable };
  }

  /** Whether a NOTIFY from PostgreSQL backend `pid` was sent by a commit of this process's sends. */
  sentBy(pid: number): boolean {
    return this.backends.has(pid);
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.sending || this.pending.length === 0) return;
    const batch = this.take();
    this.sending = true;
    try {
      await this.insert(batch.map((p) => p.job));
      for (const p of batch) p.resolve();
    } catch (err) {
      if (batch.length === 1) batch[0]!.reject(err);
      else await this.oneByOne(batch);
    } finally {
      this.sending = false;
      if (this.pending.length) void this.flush();
    }
  }

  private take(): PendingSend[] {
    let n = 0;
    let i = 0;
    while (i < this.pending.length && i < MAX_BATCH) {
      n += this.pending[i]!.job.payload.length;
      if (i > 0 && n > MAX_BATCH_CHARS) break;
      i++;
    }
    return this.pending.splice(0, i);
  }

  private async insert(jobs: IdentifiedJob[]): Promise<void> {
    const due = this.claim ? jobs.find((j) => j.delayMs === 0) : undefined;
    const claim = due ? this.claim!(due.appId, due.branch, due.queue) : null;
    let r: Awaited<ReturnType<typeof insertJobs>>;
    try {
      const c = await this.o.pool.connect();
      try {
        r = await insertJobs(c, jobs, claim);
        const pid = (c as unknown as { processID?: number }).processID;
        if (typeof pid === 'number' && !this.backends.has(pid)) {
          this.backends.add(pid);
          c.once('end', () => this.backends.delete(pid)); // a later backend may get the same pid
        }
      } catch (err) {
        c.release(err instanceof Error && !('code' in err) ? err : undefined);
        throw err;
      }
      c.release();
    } catch (err) {
      claim?.fail();
      throw err;
    }
    claim?.settle(r.claimed);
    try {
      this.onSent?.(r.wakes);
    } catch {
      // a runner that failed here still finds the jobs: its own NOTIFY is skipped, but not its safety poll
    }
  }

  /** A failed batch: each send on its own, so only the bad ones fail. */
  private async oneByOne(batch: PendingSend[]): Promise<void> {
    await Promise.all(batch.map(async (p) => {
      try {
        await this.insert([p.job]);
        p.resolve();
      } catch (err) {
        p.reject(err);
      }
    }));
  }
}
