/**
 * The dashboard's app page (`GET /ui/apps/:app?branch=&status=&before=`): the branch tabs, the live release and
 * its URLs, branches and previews, the request rate, releases with rollback buttons, routes, schedules with their
 * last runs, queues (dashboard-jobs.ts), config keys (never values) and the recent invocations with logs and errors,
 * paged by `before` and filtered by `status` (error or 5xx). One query per card, run together; one function per card.
 */
import type { Config } from '../common/config.ts';
import { listConfigVars, type ConfigVar } from '../db/config-vars.ts';
import {
  getRelease,
  invocationRate,
  listInvocations,
  listReleases,
  listRoutes,
  listSchedules,
  liveReleaseId,
  type AppRow,
  type InvocationView,
  type ReleaseRow,
  type RouteRow,
  type ScheduleRow,
} from '../db/dashboard.ts';
import type { Pool } from '../db/pool.ts';
import { appDetail } from './api-apps.ts';
import { jobsCard, runsHtml, scheduleRuns, type ScheduleRun } from './dashboard-jobs.ts';
import type { SignedIn } from './dashboard-session.ts';
import { invocationRow, rateBlock } from './dashboard-view.ts';
import { ago, html, type Html } from './html.ts';
import type { PublicOrigin } from './urls.ts';

/** invocations per page on the app page */
const PAGE = 30;
const enc = encodeURIComponent;

type Detail = Awaited<ReturnType<typeof appDetail>>;

export interface AppPageQuery {
  branch: string;
  /** '' (all), 'error' or '5xx' */
  statusFilter: '' | 'error' | '5xx';
  /** the id below which older invocations are shown */
  before?: number;
}

/** The app page's body for (app, branch) as `cur` may see it (rollback and retry forms for admin tokens only). */
export async function appPage(config: Config, pool: Pool, app: AppRow, cur: SignedIn, q: AppPageQuery, origin?: PublicOrigin): Promise<Html> {
  const { branch, statusFilter, before } = q;
  const detail = await appDetail(config, pool, app, origin);
  const liveId = await liveReleaseId(pool, app.id, branch);
  const [releases, live, routes, schedules, vars, invocations, rate, runs] = await Promise.all([
    listReleases(pool, app.id, branch, 30),
    liveId === null ? null : getRelease(pool, liveId),
    liveId === null ? [] : listRoutes(pool, liveId),
    liveId === null ? [] : listSchedules(pool, liveId),
    listConfigVars(pool, app.id, branch),
    listInvocations(pool, app.id, { branch, limit: PAGE, status: statusFilter || undefined, before }),
    invocationRate(pool, app.id),
    scheduleRuns(pool, app.id, branch),
  ]);
  const canWrite = cur.principal.role === 'admin';
  const tabs = detail.branches.map(
    (b) => html`<a class="${b.branch === branch ? 'on' : ''}" href="/ui/apps/${enc(app.name)}?branch=${enc(b.branch)}">${b.branch}${b.production ? ' (production)' : ''}</a>`,
  );
  return html`
      <h1 id="app-page" data-app="${app.name}" data-branch="${branch}" data-live="${statusFilter || before ? '' : '1'}">${app.name}</h1>
      <div class="tabs">${tabs.length ? tabs : html`<span class="muted">Not deployed yet: <code>git push ${detail.gitUrl} main</code></span>`}</div>
      ${branchCard(detail, branch, releases.length > 0)}
      ${branchesCard(detail, app)}
      <div class="card"><h2>Requests <span id="live-state" class="pill s3">static</span></h2>${rateBlock(rate)}</div>
      ${releasesCard(releases, app, branch, canWrite ? cur.session.csrf : null)}
      <div class="grid">
        ${routesCard(routes)}
        ${schedulesCard(schedules, runs)}
      </div>
      ${await jobsCard(pool, { appId: app.id, app: app.name, branch, csrf: cur.session.csrf, canWrite })}
      ${configCard(app, (live?.config.env ?? {}) as Record<string, string>, vars)}
      ${invocationsCard(invocations, app, q)}`;
}

/** The shown branch: production or preview, its live release and URLs. */
function branchCard(detail: Detail, branch: string, hasReleases: boolean): Html {
  const current = detail.branches.find((b) => b.branch === branch);
  if (current) {
    return html`<div class="card" id="branch"><h2>${current.production ? 'Production' : 'Preview'} · ${branch}
          <span class="pill ${current.production ? 'live' : 'prev'}">v${current.release.version}</span></h2>
          <p><a href="${current.urls.host}">${current.urls.host}</a> <span class="muted">·</span> <a href="${current.urls.path}">${current.urls.path}</a></p>
          <p class="muted">Commit <span class="mono">${current.release.commit.slice(0, 7)}</span> · ${current.release.description} · ${ago(current.release.createdAt)}</p></div>`;
  }
  return hasReleases ? html`<div class="card"><p class="muted">${branch} has no live release (preview removed).</p></div>` : html``;
}

/** Every live branch with its release and URL, when there is more than one. */
function branchesCard(detail: Detail, app: AppRow): Html {
  if (detail.branches.length <= 1) return html``;
  return html`<div class="card"><h2>Branches and previews</h2><table id="branches"><thead><tr><th>Branch</th><th>Release</th><th>Deployed</th><th>URL</th></tr></thead><tbody>${detail.branches.map(
    (b) => html`<tr><td><a href="/ui/apps/${enc(app.name)}?branch=${enc(b.branch)}">${b.branch}</a>${b.production ? html` <span class="pill live">production</span>` : ''}</td>
                <td>v${b.release.version} <span class="muted mono">${b.release.commit.slice(0, 7)}</span></td><td class="muted">${ago(b.release.createdAt)}</td>
                <td><a href="${b.urls.host}">${b.urls.host}</a></td></tr>`,
  )}</tbody></table></div>`;
}

/** The branch's releases; a rollback form on each one not live when `csrf` is given (admin tokens). */
function releasesCard(releases: ReleaseRow[], app: AppRow, branch: string, csrf: string | null): Html {
  const rows = releases.map(
    (r) => html`<tr data-version="${r.version}"><td><b>v${r.version}</b></td>
        <td>${r.live ? html`<span class="pill live">live</span>` : ''}</td>
        <td class="mono">${r.commit.slice(0, 7)}</td><td>${r.description}</td><td class="muted">${r.pusher || '—'}</td>
        <td class="muted" title="${r.createdAt}">${ago(r.createdAt)}</td>
        <td>${
          !r.live && csrf !== null
            ? html`<form method="post" action="/ui/apps/${enc(app.name)}/rollback"><input type="hidden" name="_csrf" value="${csrf}">
            <input type="hidden" name="branch" value="${branch}"><input type="hidden" name="version" value="${r.version}">
            <button class="act" type="submit" aria-label="Roll back to v${r.version}">Roll back</button></form>`
            : ''
        }</td></tr>`,
  );
  return html`<div class="card"><h2>Releases</h2>${
    releases.length
      ? html`<table id="releases"><thead><tr><th>Version</th><th></th><th>Commit</th><th>Description</th><th>By</th><th>When</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
      : html`<p class="muted">No releases on ${branch}.</p>`
  }</div>`;
}

function routesCard(routes: RouteRow[]): Html {
  return html`<div class="card"><h2>Routes</h2>${
    routes.length
      ? html`<table id="routes"><thead><tr><th>Method</th><th>Path</th><th>Script</th></tr></thead><tbody>${routes.map(
          (r) => html`<tr><td class="mono">${r.methods.join(', ')}</td><td class="mono">${r.path}</td><td class="mono">${r.script}${r.function ? html` <span class="muted">→ ${r.function}()</span>` : ''}</td></tr>`,
        )}</tbody></table>`
      : html`<p class="muted">No routes.</p>`
  }</div>`;
}

function schedulesCard(schedules: ScheduleRow[], runs: Map<string, ScheduleRun[]>): Html {
  return html`<div class="card"><h2>Schedules <span class="muted">(UTC)</span></h2>${
    schedules.length
      ? html`<table id="schedules"><thead><tr><th>Cron</th><th>Script</th><th>Last runs</th></tr></thead><tbody>${schedules.map(
          (s) => html`<tr><td class="mono">${s.cron}</td><td class="mono">${s.script}${s.function ? html` <span class="muted">→ ${s.function}()</span>` : ''}</td><td>${runsHtml(runs.get(s.cron))}</td></tr>`,
        )}</tbody></table>`
      : html`<p class="muted">No schedules.</p>`
  }</div>`;
}

/** Config keys of the live release's [env] and of config:set (marked), never their values. */
function configCard(app: AppRow, env: Record<string, string>, vars: ConfigVar[]): Html {
  const configKeys = [...new Set([...Object.keys(env), ...vars.map((v) => v.key)])].sort();
  const overridden = new Set(vars.map((v) => v.key));
  return html`<div class="card"><h2>Config <span class="muted">(values hidden; manage with <code>picloud config:set -a ${app.name}</code>)</span></h2>${
    configKeys.length
      ? html`<p>${configKeys.map((k) => html`<span class="pill ${overridden.has(k) ? 'prev' : 's3'} mono" title="${overridden.has(k) ? 'config:set' : 'picloud.toml'}">${k}</span> `)}</p>`
      : html`<p class="muted">No config vars.</p>`
  }</div>`;
}

/** One page of invocations with the status filter tabs and a link to the older ones. */
function invocationsCard(invocations: InvocationView[], app: AppRow, q: AppPageQuery): Html {
  const { branch, statusFilter, before } = q;
  const filters = (
    [
      ['', 'All'],
      ['error', 'Errors (4xx, 5xx)'],
      ['5xx', '5xx'],
    ] as const
  ).map(
    ([v, label]) => html`<a class="${statusFilter === v ? 'on' : ''}" href="/ui/apps/${enc(app.name)}?branch=${enc(branch)}${v ? `&status=${v}` : ''}">${label}</a>`,
  );
  return html`<div class="card"><h2>${before ? 'Older invocations' : 'Recent invocations'}</h2>
        <div class="tabs" id="inv-filter">${filters}</div>
        <table><thead><tr><th>When</th><th>Request</th><th>Status</th><th>Duration</th><th>Release</th><th>Logs / errors</th></tr></thead>
        <tbody id="invocations">${invocations.length ? invocations.map(invocationRow) : html`<tr id="no-invocations"><td colspan="6" class="muted">No invocations${statusFilter ? ' matching this filter' : ' yet'}.</td></tr>`}</tbody></table>
        ${
          invocations.length === PAGE
            ? html`<p><a id="older" href="/ui/apps/${enc(app.name)}?branch=${enc(branch)}${statusFilter ? `&status=${statusFilter}` : ''}&before=${invocations.at(-1)!.id}">Older →</a></p>`
            : ''
        }</div>`;
}
