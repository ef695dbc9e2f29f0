/**
 * The dashboard's view of background work (architecture.md §7): each queue's depth, running and failed jobs (with
 * the latest dead letter's error) and a retry button, and each schedule's last runs (ok, failed, skipped) with a
 * "failing" mark after FAILING_AFTER failures in a row. Rendered into the app page by dashboard.ts.
 */
import { jobCounts } from '../db/jobs.ts';
import type { Pool } from '../db/pool.ts';
import { FAILING_AFTER, SKIPPED_STATUS } from '../queue/schedule-rows.ts';
import { ago, html, type Html } from './html.ts';

export interface ScheduleRun {
  status: number;
  error: string | null;
  at: string;
}

/** The last `n` log rows of each schedule (by cron expression) of an app's branch, newest first. */
export async function scheduleRuns(pool: Pool, appId: number, branch: string, n = 5): Promise<Map<string, ScheduleRun[]>> {
  const { rows } = await pool.query<{ route: string; status: number; error: string | null; at: string }>(
    `SELECT route, status, error, at FROM (
       SELECT route, status, error, created_at AS at, row_number() OVER (PARTITION BY route ORDER BY id DESC) AS k
         FROM invocations WHERE app_id = $1 AND branch = $2 AND trigger = 'schedule' AND created_at > now() - interval '7 days') x
      WHERE k <= $3 ORDER BY route, at DESC`,
    [appId, branch, n],
  );
  const out = new Map<string, ScheduleRun[]>();
  for (const r of rows) {
    let l = out.get(r.route);
    if (!l) out.set(r.route, (l = []));
    l.push({ status: r.status, error: r.error, at: new Date(r.at).toISOString() });
  }
  return out;
}

/** A schedule is failing when its last FAILING_AFTER runs (skips aside) all failed. */
export function isFailing(runs: ScheduleRun[]): boolean {
  const real = runs.filter((r) => r.status !== SKIPPED_STATUS);
  return real.length >= FAILING_AFTER && real.slice(0, FAILING_AFTER).every((r) => r.status >= 500);
}

/** The last runs of a schedule as small pills, plus the failing mark. */
export function runsHtml(runs: ScheduleRun[] | undefined): Html {
  if (!runs?.length) return html`<span class="muted">no runs yet</span>`;
  const pill = (r: ScheduleRun) => {
    const [cls, label] = r.status === SKIPPED_STATUS ? ['s4', 'skipped'] : r.status >= 500 ? ['s5', 'failed'] : ['s2', 'ok'];
    return html`<span class="pill ${cls}" title="${ago(r.at)}${r.error ? `: ${r.error}` : ''}">${label}</span> `;
  };
  return html`${isFailing(runs) ? html`<span class="pill s5 failing">failing</span> ` : ''}${runs.map(pill)}`;
}

/** The "Background jobs" card: per queue depth, running, failed (latest error) and a retry button. */
export async function jobsCard(pool: Pool, o: { appId: number; app: string; branch: string; csrf: string; canWrite: boolean }): Promise<Html> {
  const counts = await jobCounts(pool, o.appId, o.branch);
  if (!counts.length) return html`<div class="card"><h2>Background jobs</h2><p class="muted">No jobs.</p></div>`;
  const rows = counts.map((c) => html`<tr data-queue="${c.queue}"><td class="mono">${c.queue}</td><td>${c.pending}</td><td>${c.running}</td><td>${c.done}</td>
    <td>${c.failed ? html`<span class="pill s5">${c.failed}</span>` : '0'}</td><td class="mono">${c.lastError ?? ''}</td>
    <td>${c.failed && o.canWrite
      ? html`<form method="post" action="/ui/apps/${encodeURIComponent(o.app)}/jobs/retry"><input type="hidden" name="_csrf" value="${o.csrf}">
        <input type="hidden" name="branch" value="${o.branch}"><input type="hidden" name="queue" value="${c.queue}">
        <button class="act" type="submit" aria-label="Retry the failed jobs of ${c.queue}">Retry failed</button></form>`
      : ''}</td></tr>`);
  return html`<div class="card"><h2>Background jobs</h2><table id="jobs"><thead><tr><th>Queue</th><th>Pending</th><th>Running</th><th>Done</th><th>Failed</th><th>Last error</th><th></th></tr></thead>
    <tbody>${rows}</tbody></table></div>`;
}
