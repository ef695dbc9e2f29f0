/**
 * queue::send's durable insert (ExecutorPool.host, in the embedded pool and every executor process), with group
 * commit: the sends that arrive while an insert is in flight go into the next one (insertJobs: one multi-row
 * statement, so one transaction and one WAL flush for the lot). Each caller is answered only after the commit that
 * holds its row (durable once queue::send returns); if a batch fails (an app deleted meanwhile, a bad row), its sends
 * are inserted one by one so only the bad one fails.
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
import { insertJobs, type JobRow, type JobWake, type NewJob, type SendClaimArgs } from './jobs.ts';

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
  job: NewJob;
  resolve: (id: string) => void;
  reject: (e: unknown) => void;
}

/** Sends in one statement at most (more wait for the next: bounded statements); a job's payload is ≤ 1 MiB. */
const MAX_BATCH = 500;
const MAX_BATCH_CHARS = 8 * 1024 * 1024;

export class JobSends {
  private pending: PendingSend[] = [];
  private sending = false;
  private scheduled = false;
  /** backend pids of the connections that committed sends here (the NOTIFYs they sent are this process's own) */
  private readonly backends = new Set<number>();
  onSent: JobSendsOptions['onSent'];
  /** set by a job runner in this process: a send of a due job claims its queue in the same transaction */
  claim: ClaimHook | null = null;

  constructor(private readonly o: JobSendsOptions) {
    this.onSent = o.onSent;
  }

  /** Insert a job (durable when this resolves); resolves with its id. */
  send(job: NewJob): Promise<string> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      // gather what arrives in this turn (a thread's message carries several host calls) before sending
      if (!this.sending && !this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => void this.flush());
      }
    });
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
      const ids = await this.insert(batch.map((p) => p.job));
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(ids[i]!);
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

  private async insert(jobs: NewJob[]): Promise<string[]> {
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
    return r.ids;
  }

  /** A failed batch: each send on its own, so only the bad ones fail. */
  private async oneByOne(batch: PendingSend[]): Promise<void> {
    await Promise.all(batch.map(async (p) => {
      try {
        p.resolve((await this.insert([p.job]))[0]!);
      } catch (err) {
        p.reject(err);
      }
    }));
  }
}
