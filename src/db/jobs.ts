/**
 * SQL of the durable job store (migrations 0010 `jobs`, 0012 `picloud_claim_jobs`). One row per queue::send; a try
 * claims rows with FOR UPDATE SKIP LOCKED under a per-queue advisory lock (so `concurrency` holds platform-wide,
 * whoever claims), in one round trip that also records the runner's finished tries; NOTIFY 'picloud_jobs' wakes the
 * runners (payload `<run_at ms>:<app_id>:<queue>:<branch>`, run_at 0 for a sent job due at once, or `0` for "look at
 * every queue"). See
 * orchestrator/job-runner.ts.
 */
import type { Pool, PoolClient } from './pool.ts';

type Q = Pool | PoolClient;

export type JobState = 'pending' | 'running' | 'done' | 'failed';

export interface JobRow {
  id: string;
  appId: number;
  branch: string;
  queue: string;
  payload: string;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  backoffMs: number;
  runAt: Date;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const cols = (t = '') => `${t}id::text AS id, ${t}app_id AS "appId", ${t}branch, ${t}queue, ${t}payload, ${t}state, ${t}attempts,
  ${t}max_attempts AS "maxAttempts", ${t}backoff_ms AS "backoffMs", ${t}run_at AS "runAt", ${t}last_error AS "lastError",
  ${t}created_at AS "createdAt", ${t}updated_at AS "updatedAt"`;
const COLS = cols();

export interface NewJob {
  appId: number;
  branch: string;
  queue: string;
  /** the value's JSON text */
  payload: string;
  delayMs: number;
  maxAttempts: number;
  backoffMs: number;
}

/** A claim of one queue made in the same transaction as a send (picloud_send_jobs; the arguments of claimJobs). */
export interface SendClaimArgs {
  appId: number;
  branch: string;
  queue: string;
  /** 0 only records `done` */
  concurrency: number;
  leaseMs: number;
  done: string[];
}

/** A job with its id, taken from jobs_id_seq before the insert (JobSends.reserveId). */
export type IdentifiedJob = NewJob & { id: string };

/**
 * Insert jobs in one statement (one synchronous commit; picloud_send_jobs, migrations 0013–0016) and NOTIFY the
 * runners once per queue and due time; with `claim`, also claim that queue in the same transaction. Returns the
 * claimed rows and the wake-ups a runner in this process needs: one per queue and due time, less the jobs of the
 * claimed queue that were due at the claim (it saw them).
 */
export async function insertJobs(db: Q, jobs: IdentifiedJob[], claim?: SendClaimArgs | null): Promise<{ claimed: JobRow[]; wakes: NonNullable<JobWake>[] }> {
  const { rows } = await db.query<JobRow & { dueAt: string }>({
    name: 'picloud_send_jobs_ids',
    text: `SELECT ${COLS}, ceil(extract(epoch FROM run_at) * 1000)::bigint::text AS "dueAt" FROM picloud_send_jobs($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::bigint[], $9, $10, $11, $12, $13, $14::bigint[])`,
    values: [jobs.map((j) => j.id), jobs.map((j) => j.appId), jobs.map((j) => j.branch), jobs.map((j) => j.queue), jobs.map((j) => j.payload),
      jobs.map((j) => j.maxAttempts), jobs.map((j) => j.backoffMs), jobs.map((j) => j.delayMs),
      claim?.appId ?? null, claim?.branch ?? null, claim?.queue ?? null, claim?.concurrency ?? 0, claim?.leaseMs ?? 0, claim?.done ?? []],
  });
  // the inserted rows come first (state pending), then the claimed ones (state running)
  const delayOf = new Map(jobs.map((j) => [j.id, j.delayMs]));
  const wakes = new Map<string, NonNullable<JobWake>>();
  for (let i = 0; i < jobs.length; i++) {
    const r = rows[i]!;
    const delayMs = delayOf.get(r.id) ?? 0;
    if (claim && delayMs === 0 && r.appId === claim.appId && r.branch === claim.branch && r.queue === claim.queue) continue;
    const at = delayMs === 0 ? 0 : Number(r.dueAt); // due now: claim at once (as its NOTIFY says)
    const k = `${at}:${r.appId}:${r.queue}:${r.branch}`;
    if (!wakes.has(k)) wakes.set(k, { at, appId: r.appId, queue: r.queue, branch: r.branch });
  }
  return { claimed: rows.slice(jobs.length), wakes: [...wakes.values()] };
}

/** `n` job ids from jobs_id_seq, ascending (JobSends hands them out ahead of the inserts). */
export async function reserveJobIds(db: Q, n: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>({ name: 'picloud_reserve_job_ids', text: `SELECT nextval('jobs_id_seq')::text AS id FROM generate_series(1, $1)`, values: [n] });
  return rows.map((r) => r.id);
}

/** Queues with pending jobs: when the earliest is due (unix ms). */
export async function pendingQueues(db: Q): Promise<{ appId: number; branch: string; queue: string; dueAt: number }[]> {
  const { rows } = await db.query<{ appId: number; branch: string; queue: string; dueAt: string }>(
    `SELECT app_id AS "appId", branch, queue, ceil(extract(epoch FROM min(run_at)) * 1000)::bigint::text AS "dueAt"
       FROM jobs WHERE state = 'pending' GROUP BY app_id, branch, queue`,
  );
  return rows.map((r) => ({ ...r, dueAt: Number(r.dueAt) }));
}

/** A wake-up of the runners (NOTIFY 'picloud_jobs'): one queue's job due at `at`, or every queue (null). */
export type JobWake = { at: number; appId: number; queue: string; branch: string } | null;

export function parseJobWake(payload: string): JobWake {
  const m = /^(\d+):(\d+):([^:]+):(.*)$/s.exec(payload);
  return m ? { at: Number(m[1]), appId: Number(m[2]), queue: m[3]!, branch: m[4]! } : null;
}

/**
 * One round trip (picloud_claim_jobs, migration 0012): mark `done` (tries this runner finished) done, then claim up
 * to `concurrency − running` due jobs of one queue: state running, attempts + 1, a lease of `leaseMs` (a runner
 * that dies leaves the job to be taken again when the lease ends). `concurrency` 0 only records `done`.
 */
export async function claimJobs(db: Q, q: { appId: number; branch: string; queue: string; concurrency: number; leaseMs: number; done?: string[] }): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${COLS} FROM picloud_claim_jobs($1, $2, $3, $4, $5, $6::bigint[])`,
    [q.appId, q.branch, q.queue, q.concurrency, q.leaseMs, q.done ?? []],
  );
  return rows;
}

/**
 * A try failed: pending again after backoff_ms × 2^(attempts−1), or a dead letter once attempts are used up
 * (`final` makes it one at once). Returns the new state and when a pending job may run again (unix ms).
 */
export async function failJob(db: Q, id: string, error: string, final = false): Promise<{ state: JobState; runAt: number } | null> {
  const { rows } = await db.query<{ state: JobState; runAt: string }>(
    `UPDATE jobs SET last_error = $2, lease_until = NULL, updated_at = now(),
            state = CASE WHEN $3 OR attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
            run_at = CASE WHEN $3 OR attempts >= max_attempts THEN run_at
                          ELSE now() + backoff_ms * power(2, greatest(attempts - 1, 0)) * interval '1 millisecond' END
      WHERE id = $1 AND state = 'running'
      RETURNING state, ceil(extract(epoch FROM run_at) * 1000)::bigint::text AS "runAt"`,
    [id, error.slice(0, 4000), final],
  );
  return rows[0] ? { state: rows[0].state, runAt: Number(rows[0].runAt) } : null;
}

/** A try that never started (no executor could be reached): pending again after `delayMs`, its attempt not counted. */
export async function releaseJob(db: Q, id: string, delayMs: number): Promise<void> {
  await db.query(
    `UPDATE jobs SET state = 'pending', attempts = greatest(attempts - 1, 0), lease_until = NULL, updated_at = now(),
            run_at = now() + $2 * interval '1 millisecond'
      WHERE id = $1 AND state = 'running'`,
    [id, delayMs],
  );
}

/**
 * Running jobs whose lease ended (their runner died), or every running job when `all` (the embedded mode at
 * start: it is the only runner): a try that died, so pending again (at once) or a dead letter. Returns how many.
 */
export async function reclaimJobs(db: Q, all: boolean): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET lease_until = NULL, updated_at = now(),
            last_error = 'the platform or executor running this job stopped before it finished',
            state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, run_at = now()
      WHERE state = 'running' AND ($1 OR lease_until <= now())`,
    [all],
  );
  if (rowCount) await db.query(`SELECT pg_notify('picloud_jobs', '0')`);
  return rowCount ?? 0;
}

/** Extend the leases of tries still running (a runner that renews them: executor processes, job-runner.ts). */
export async function renewLeases(db: Q, ids: string[], leaseMs: number): Promise<void> {
  await db.query(
    `UPDATE jobs SET lease_until = now() + $2 * interval '1 millisecond' WHERE id = ANY($1::bigint[]) AND state = 'running'`,
    [ids, leaseMs],
  );
}

/** When the earliest running lease ends (unix ms), or null. */
export async function nextLeaseEnd(db: Q): Promise<number | null> {
  const { rows } = await db.query<{ t: string | null }>(`SELECT ceil(extract(epoch FROM min(lease_until)) * 1000)::bigint::text AS t FROM jobs WHERE state = 'running'`);
  return rows[0]?.t ? Number(rows[0].t) : null;
}

/** Pending jobs of queues a release no longer declares become dead letters ("queue no longer declared"). */
export async function failUndeclared(db: Q, appId: number, branch: string, declared: string[]): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET state = 'failed', last_error = 'queue no longer declared', lease_until = NULL, updated_at = now()
      WHERE app_id = $1 AND branch = $2 AND state = 'pending' AND NOT (queue = ANY($3::text[]))`,
    [appId, branch, declared],
  );
  return rowCount ?? 0;
}

/** Jobs of branches that have no live release any more (removed previews): deleted with the preview. */
export async function deleteOrphanJobs(db: Q): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM branch_pointers p WHERE p.app_id = j.app_id AND p.branch = j.branch)`,
  );
  return rowCount ?? 0;
}

/** Finished jobs older than `maxAgeMs` are deleted (dead letters stay until replayed or their app is destroyed). */
export async function pruneDoneJobs(db: Q, maxAgeMs: number): Promise<void> {
  await db.query(`DELETE FROM jobs WHERE state = 'done' AND updated_at < now() - $1 * interval '1 millisecond'`, [maxAgeMs]);
}

/** Jobs of an app's branch, newest first. */
export async function listJobs(db: Q, f: { appId: number; branch: string; queue?: string; state?: JobState; limit: number }): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${COLS} FROM jobs WHERE app_id = $1 AND branch = $2 AND ($3::text IS NULL OR queue = $3) AND ($4::text IS NULL OR state = $4)
      ORDER BY id DESC LIMIT $5`,
    [f.appId, f.branch, f.queue ?? null, f.state ?? null, f.limit],
  );
  return rows;
}

/** Per queue of an app's branch: how many jobs are in each state, and the latest dead letter's error. */
export async function jobCounts(db: Q, appId: number, branch: string): Promise<{ queue: string; pending: number; running: number; done: number; failed: number; lastError: string | null }[]> {
  const { rows } = await db.query(
    `SELECT queue, count(*) FILTER (WHERE state = 'pending')::int AS pending, count(*) FILTER (WHERE state = 'running')::int AS running,
            count(*) FILTER (WHERE state = 'done')::int AS done, count(*) FILTER (WHERE state = 'failed')::int AS failed,
            (array_agg(last_error ORDER BY id DESC) FILTER (WHERE state = 'failed'))[1] AS "lastError"
       FROM jobs WHERE app_id = $1 AND branch = $2 GROUP BY queue ORDER BY queue`,
    [appId, branch],
  );
  return rows as { queue: string; pending: number; running: number; done: number; failed: number; lastError: string | null }[];
}

/** Replay dead letters (one by id, or all of the branch): pending again with a fresh set of attempts. Returns their ids. */
export async function retryJobs(db: Q, f: { appId: number; branch: string; id?: string; queue?: string }): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH r AS (
       UPDATE jobs SET state = 'pending', attempts = 0, run_at = now(), lease_until = NULL, updated_at = now()
        WHERE app_id = $1 AND branch = $2 AND state = 'failed' AND ($3::bigint IS NULL OR id = $3) AND ($4::text IS NULL OR queue = $4)
        RETURNING id)
     SELECT id::text AS id, pg_notify('picloud_jobs', '0') FROM r`,
    [f.appId, f.branch, f.id ?? null, f.queue ?? null],
  );
  return rows.map((r) => r.id);
}
