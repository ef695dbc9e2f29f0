/**
 * An app's background jobs over the API (`picloud jobs`, `jobs:retry`; architecture.md §2), per branch:
 *   GET  /api/v1/apps/:app/jobs?branch=&queue=&state=&limit=   {app, branch, queues: [{queue, pending, running,
 *        done, failed, last_error}], jobs: [{id, queue, state, attempts, max_attempts, value, error, run_at, …}]}
 *   POST /api/v1/apps/:app/jobs/retry?branch=   body {id} or {all_failed: true} (optional queue)   {retried: [ids]}
 * A retried dead letter is pending again with a fresh set of attempts. Registered inside the API plugin, so its
 * token check (read tokens: GET only) applies.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../common/errors.ts';
import type { AppRow } from '../db/dashboard.ts';
import { jobCounts, listJobs, retryJobs, type JobRow, type JobState } from '../db/jobs.ts';
import type { Pool } from '../db/pool.ts';

export interface JobRoutesOptions {
  pool: Pool;
  requireApp(name: string): Promise<AppRow>;
  branchOf(app: AppRow, q: { branch?: string }): string;
}

const STATES: JobState[] = ['pending', 'running', 'done', 'failed'];

/** A job as the API shows it. */
export function jobJson(j: JobRow) {
  let value: unknown = null;
  try {
    value = JSON.parse(j.payload);
  } catch {
    value = j.payload;
  }
  return {
    id: j.id, queue: j.queue, state: j.state, attempts: j.attempts, max_attempts: j.maxAttempts, value, error: j.lastError,
    run_at: j.runAt, created_at: j.createdAt, updated_at: j.updatedAt,
  };
}

export async function jobRoutes(api: FastifyInstance, opts: JobRoutesOptions): Promise<void> {
  const { pool, requireApp, branchOf } = opts;

  api.get<{ Params: { app: string }; Querystring: { branch?: string; queue?: string; state?: string; limit?: string } }>('/apps/:app/jobs', async (req) => {
    const app = await requireApp(req.params.app);
    const branch = branchOf(app, req.query);
    const { queue, state } = req.query;
    if (state !== undefined && !STATES.includes(state as JobState)) throw new AppError('BAD_REQUEST', `state must be one of ${STATES.join(', ')}`);
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AppError('BAD_REQUEST', 'limit must be an integer from 1 to 1000');
    const [counts, jobs] = await Promise.all([
      jobCounts(pool, app.id, branch),
      listJobs(pool, { appId: app.id, branch, queue: queue || undefined, state: state as JobState | undefined, limit }),
    ]);
    return {
      app: app.name, branch,
      queues: counts.map((c) => ({ queue: c.queue, pending: c.pending, running: c.running, done: c.done, failed: c.failed, last_error: c.lastError })),
      jobs: jobs.map(jobJson),
    };
  });

  api.post<{ Params: { app: string }; Querystring: { branch?: string }; Body: { id?: unknown; all_failed?: unknown; queue?: unknown } | undefined }>(
    '/apps/:app/jobs/retry',
    async (req) => {
      const app = await requireApp(req.params.app);
      const branch = branchOf(app, req.query);
      const b = req.body ?? {};
      const queue = typeof b.queue === 'string' && b.queue ? b.queue : undefined;
      if (b.all_failed === true) return { retried: await retryJobs(pool, { appId: app.id, branch, queue }) };
      const id = typeof b.id === 'string' || typeof b.id === 'number' ? String(b.id) : '';
      if (!/^\d{1,18}$/.test(id)) throw new AppError('BAD_REQUEST', 'give {"id": "<job id>"} or {"all_failed": true}');
      const retried = await retryJobs(pool, { appId: app.id, branch, id, queue });
      if (retried.length === 0) throw new AppError('JOB_NOT_FOUND', `no dead letter ${id} on ${app.name} (${branch})`, { id });
      return { retried };
    },
  );
}
