/**
 * Invocation-log rows of schedule events that are not runs: a tick skipped because the previous run of the same
 * schedule was still running (`overlap = false`), and a schedule that failed FAILING_AFTER times in a row. Written by
 * both schedule drivers (manager/schedules.ts timers, the BullMQ tick worker in queue/bullmq.ts).
 */
import type { InvocationRow } from '../db/invocation-row.ts';
import type { InvocationResult, InvocationTarget } from './jobs.ts';

/** consecutive failed runs after which a schedule is reported as failing (log row + warning) */
export const FAILING_AFTER = 3;
/** error text of a skipped tick's log row (the dashboard and `picloud logs` show it) */
export const SKIPPED_ERROR = 'skipped: the previous run of this schedule was still running (overlap = false)';
/** a skipped tick's status in the invocation log */
export const SKIPPED_STATUS = 409;

/** The invocation-log row of a schedule event that is not a run (a skipped tick, a failing streak). */
export function scheduleNoticeRow(target: InvocationTarget, cron: string, status: number, error: string): InvocationRow {
  return {
    appId: target.appId, app: target.app, branch: target.branch, releaseId: target.releaseId, trigger: 'schedule', route: cron,
    method: '', path: target.scriptPath, status, durationMs: 0, operations: 0, cold: false, logs: [], error, at: Date.now(),
  };
}

/** The row that says a schedule has failed FAILING_AFTER times in a row (written once per streak). */
export function failingRow(target: InvocationTarget, cron: string, last: InvocationResult): InvocationRow {
  return scheduleNoticeRow(target, cron, 500, `schedule failing: ${FAILING_AFTER} failed runs in a row (last: ${last.status} ${last.error ?? ''})`.trim());
}

