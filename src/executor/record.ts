/**
 * The invocation-log row of a finished invocation (built in the executor thread, or by the pool for 502/504) right
 * when it finishes: its start is now minus its duration, so the log shows each invocation's own start time, not
 * the time its batch was written.
 */
import type { InvocationRow } from '../db/invocation-row.ts';
import type { InvocationJob, InvocationResult } from '../queue/jobs.ts';

export function invocationRow(job: InvocationJob, r: InvocationResult): InvocationRow {
  const t = job.target;
  const http = job.kind === 'http';
  return {
    appId: t.appId, app: t.app, branch: t.branch, releaseId: t.releaseId, trigger: job.kind,
    route: http ? job.route : job.kind === 'queue' ? job.queue : job.cron, method: http ? job.method : '', path: http ? job.path : t.scriptPath,
    status: r.status, durationMs: r.durationMs, operations: r.operations, cold: r.cold, logs: r.logs, error: r.error,
    at: Date.now() - r.durationMs,
  };
}
