/**
 * Read models for the control plane (API, dashboard, metrics) and the app lifecycle the API owns
 * (create an empty app, destroy an app with every row hanging off it).
 * Tables read: apps, releases, routes, schedules, branch_pointers, invocations, api_tokens.
 * Destroying an app NOTIFYs 'picloud_releases' with "release": null for each branch that was live, inside the
 * deleting transaction, so route tables drop it.
 */
import type { Pool } from './pool.ts';
import { withTransaction } from './pool.ts';
import { TOKENS_CHANNEL } from './tokens.ts';

export interface AppRow {
  id: number;
  name: string;
  productionBranch: string;
  createdAt: string;
}

export interface AppSummary extends AppRow {
  /** live branches (production and previews) */
  branches: number;
  /** latest production release version, or null before the first deploy */
  productionVersion: number | null;
  lastDeployAt: string | null;
}

export interface BranchInfo {
  branch: string;
  production: boolean;
  release: { id: number; version: number; commit: string; description: string; createdAt: string };
  updatedAt: string;
}

export interface ReleaseRow {
  id: number;
  branch: string;
  version: number;
  commit: string;
  pusher: string;
  description: string;
  scripts: Record<string, string>;
  config: { env?: Record<string, string>; limits?: Record<string, number> } & Record<string, unknown>;
  createdAt: string;
  live: boolean;
}

export interface RouteRow {
  idx: number;
  methods: string[];
  path: string;
  script: string;
  function: string | null;
}

export interface ScheduleRow {
  idx: number;
  cron: string;
  script: string;
  function: string | null;
}

/** An invocation-log row as the API and dashboard read it (db/invocation-row.ts has the row as it is written). */
export interface InvocationView {
  id: number;
  app: string;
  branch: string;
  releaseId: number | null;
  version: number | null;
  trigger: string;
  route: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  operations: number;
  cold: boolean;
  logs: { level: string; msg: string; t?: number }[];
  error: string | null;
  createdAt: string;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export async function findApp(pool: Pool, name: string): Promise<AppRow | null> {
  const { rows } = await pool.query<{ id: number; name: string; production_branch: string; created_at: Date }>(
    'SELECT id, name, production_branch, created_at FROM apps WHERE name = $1',
    [name],
  );
  const r = rows[0];
  return r ? { id: r.id, name: r.name, productionBranch: r.production_branch, createdAt: r.created_at.toISOString() } : null;
}

/** Every app with its live branch count and latest production release. */
export async function listApps(pool: Pool): Promise<AppSummary[]> {
  const { rows } = await pool.query<{
    id: number;
    name: string;
    production_branch: string;
    created_at: Date;
    branches: number;
    production_version: number | null;
    last_deploy_at: Date | null;
  }>(
    `SELECT a.id, a.name, a.production_branch, a.created_at,
            (SELECT count(*)::int FROM branch_pointers bp WHERE bp.app_id = a.id) AS branches,
            (SELECT r.version FROM branch_pointers bp JOIN releases r ON r.id = bp.release_id
              WHERE bp.app_id = a.id AND bp.branch = a.production_branch) AS production_version,
            (SELECT max(r.created_at) FROM releases r WHERE r.app_id = a.id) AS last_deploy_at
       FROM apps a ORDER BY a.name`,
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    productionBranch: r.production_branch,
    createdAt: r.created_at.toISOString(),
    branches: r.branches,
    productionVersion: r.production_version,
    lastDeployAt: iso(r.last_deploy_at),
  }));
}

/** Insert an empty app (no release yet). Returns null when the name is taken. */
export async function createApp(pool: Pool, name: string): Promise<AppRow | null> {
  const { rows } = await pool.query<{ id: number; name: string; production_branch: string; created_at: Date }>(
    `INSERT INTO apps (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
     RETURNING id, name, production_branch, created_at`,
    [name],
  );
  const r = rows[0];
  return r ? { id: r.id, name: r.name, productionBranch: r.production_branch, createdAt: r.created_at.toISOString() } : null;
}

/** Delete an app, its invocation log and (by cascade) its releases, routes, schedules, pointers, config and KV. */
export async function destroyApp(pool: Pool, name: string): Promise<{ branches: string[] } | null> {
  return withTransaction(pool, async (c) => {
    // Same lock as a release switch (db/apps.ts lockAppForRelease), so a destroy never races a push.
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`picloud-release:${name}`]);
    const { rows: apps } = await c.query<{ id: number }>('SELECT id FROM apps WHERE name = $1 FOR UPDATE', [name]);
    const app = apps[0];
    if (!app) return null;
    const { rows: live } = await c.query<{ branch: string }>('SELECT branch FROM branch_pointers WHERE app_id = $1', [app.id]);
    await c.query('DELETE FROM branch_pointers WHERE app_id = $1', [app.id]);
    await c.query('DELETE FROM invocations WHERE app_id = $1', [app.id]); // no foreign key (migration 0004)
    await c.query('DELETE FROM apps WHERE id = $1', [app.id]);
    for (const { branch } of live) {
      await c.query(`SELECT pg_notify('picloud_releases', $1)`, [JSON.stringify({ app: name, branch, release: null })]);
    }
    return { branches: live.map((l) => l.branch) };
  });
}

/** Live branches of an app (production first, then previews by name). */
export async function listBranches(pool: Pool, app: AppRow): Promise<BranchInfo[]> {
  const { rows } = await pool.query<{
    branch: string;
    updated_at: Date;
    id: number;
    version: number;
    commit_sha: string;
    description: string;
    created_at: Date;
  }>(
    `SELECT bp.branch, bp.updated_at, r.id, r.version, r.commit_sha, r.description, r.created_at
       FROM branch_pointers bp JOIN releases r ON r.id = bp.release_id
      WHERE bp.app_id = $1
      ORDER BY (bp.branch = $2) DESC, bp.branch`,
    [app.id, app.productionBranch],
  );
  return rows.map((r) => ({
    branch: r.branch,
    production: r.branch === app.productionBranch,
    release: { id: r.id, version: r.version, commit: r.commit_sha, description: r.description, createdAt: r.created_at.toISOString() },
    updatedAt: r.updated_at.toISOString(),
  }));
}

type ReleaseDbRow = {
  id: number;
  branch: string;
  version: number;
  commit_sha: string;
  pusher: string;
  description: string;
  scripts: Record<string, string>;
  config: ReleaseRow['config'];
  created_at: Date;
  live: boolean;
};
const toRelease = (r: ReleaseDbRow): ReleaseRow => ({
  id: r.id,
  branch: r.branch,
  version: r.version,
  commit: r.commit_sha,
  pusher: r.pusher,
  description: r.description,
  scripts: r.scripts,
  config: r.config,
  createdAt: r.created_at.toISOString(),
  live: r.live,
});

/** Releases of one branch, newest first. */
export async function listReleases(pool: Pool, appId: number, branch: string, limit = 50): Promise<ReleaseRow[]> {
  const { rows } = await pool.query<ReleaseDbRow>(
    `SELECT r.id, r.branch, r.version, r.commit_sha, r.pusher, r.description, r.scripts, r.config, r.created_at,
            (bp.release_id IS NOT NULL) AS live
       FROM releases r LEFT JOIN branch_pointers bp ON bp.app_id = r.app_id AND bp.branch = r.branch AND bp.release_id = r.id
      WHERE r.app_id = $1 AND r.branch = $2
      ORDER BY r.version DESC LIMIT $3`,
    [appId, branch, limit],
  );
  return rows.map(toRelease);
}

/** One release by id. */
export async function getRelease(pool: Pool, releaseId: number): Promise<ReleaseRow | null> {
  const { rows } = await pool.query<ReleaseDbRow>(
    `SELECT r.id, r.branch, r.version, r.commit_sha, r.pusher, r.description, r.scripts, r.config, r.created_at,
            (bp.release_id IS NOT NULL) AS live
       FROM releases r LEFT JOIN branch_pointers bp ON bp.app_id = r.app_id AND bp.branch = r.branch AND bp.release_id = r.id
      WHERE r.id = $1`,
    [releaseId],
  );
  return rows[0] ? toRelease(rows[0]) : null;
}

/** The live release id of (app, branch), or null. */
export async function liveReleaseId(pool: Pool, appId: number, branch: string): Promise<number | null> {
  const { rows } = await pool.query<{ release_id: number }>(
    'SELECT release_id FROM branch_pointers WHERE app_id = $1 AND branch = $2',
    [appId, branch],
  );
  return rows[0]?.release_id ?? null;
}

export async function listRoutes(pool: Pool, releaseId: number): Promise<RouteRow[]> {
  const { rows } = await pool.query<{ idx: number; methods: string[]; path: string; script_path: string; function: string | null }>(
    'SELECT idx, methods, path, script_path, function FROM routes WHERE release_id = $1 ORDER BY idx',
    [releaseId],
  );
  return rows.map((r) => ({ idx: r.idx, methods: r.methods, path: r.path, script: r.script_path, function: r.function }));
}

export async function listSchedules(pool: Pool, releaseId: number): Promise<ScheduleRow[]> {
  const { rows } = await pool.query<{ idx: number; cron: string; script_path: string; function: string | null }>(
    'SELECT idx, cron, script_path, function FROM schedules WHERE release_id = $1 ORDER BY idx',
    [releaseId],
  );
  return rows.map((r) => ({ idx: r.idx, cron: r.cron, script: r.script_path, function: r.function }));
}

export interface InvocationFilter {
  branch?: string;
  /** exact status (404), a class ('5xx'), or 'error' (>= 400) */
  status?: string;
  /** only ids below this (paging backwards) */
  before?: number;
  /** only ids above this (catching up after a reconnect) */
  after?: number;
  limit?: number;
}

type InvocationDbRow = {
  id: number;
  app: string;
  branch: string;
  release_id: number | null;
  version: number | null;
  trigger: string;
  route: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  operations: number;
  cold: boolean;
  logs: InvocationView['logs'];
  error: string | null;
  created_at: Date;
};
const toInvocation = (r: InvocationDbRow): InvocationView => ({
  id: r.id,
  app: r.app,
  branch: r.branch,
  releaseId: r.release_id,
  version: r.version,
  trigger: r.trigger,
  route: r.route,
  method: r.method,
  path: r.path,
  status: r.status,
  durationMs: r.duration_ms,
  operations: r.operations,
  cold: r.cold,
  logs: Array.isArray(r.logs) ? r.logs : [],
  error: r.error,
  createdAt: r.created_at.toISOString(),
});

const INVOCATION_COLUMNS = `i.id, a.name AS app, i.branch, i.release_id, r.version, i.trigger, i.route, i.method, i.path,
  i.status, i.duration_ms, i.operations, i.cold, i.logs, i.error, i.created_at`;

/** Recent invocations of an app, newest first (or oldest first with `after`, for catching up). */
export async function listInvocations(pool: Pool, appId: number, f: InvocationFilter = {}): Promise<InvocationView[]> {
  const where = ['i.app_id = $1'];
  const args: unknown[] = [appId];
  if (f.branch !== undefined) {
    args.push(f.branch);
    where.push(`i.branch = $${args.length}`);
  }
  if (f.status !== undefined) {
    const s = f.status.toLowerCase();
    if (s === 'error') where.push('i.status >= 400');
    else if (/^[1-5]xx$/.test(s)) {
      args.push(Number(s[0]) * 100);
      where.push(`i.status >= $${args.length} AND i.status < $${args.length} + 100`);
    } else if (/^\d{3}$/.test(s)) {
      args.push(Number(s));
      where.push(`i.status = $${args.length}`);
    }
  }
  if (f.before !== undefined) {
    args.push(f.before);
    where.push(`i.id < $${args.length}`);
  }
  if (f.after !== undefined) {
    args.push(f.after);
    where.push(`i.id > $${args.length}`);
  }
  args.push(Math.min(Math.max(f.limit ?? 50, 1), 500));
  const order = f.after !== undefined ? 'ASC' : 'DESC';
  const { rows } = await pool.query<InvocationDbRow>(
    `SELECT ${INVOCATION_COLUMNS}
       FROM invocations i JOIN apps a ON a.id = i.app_id LEFT JOIN releases r ON r.id = i.release_id
      WHERE ${where.join(' AND ')}
      ORDER BY i.id ${order} LIMIT $${args.length}`,
    args,
  );
  return rows.map(toInvocation);
}

export async function getInvocation(pool: Pool, id: number): Promise<InvocationView | null> {
  const { rows } = await pool.query<InvocationDbRow>(
    `SELECT ${INVOCATION_COLUMNS}
       FROM invocations i JOIN apps a ON a.id = i.app_id LEFT JOIN releases r ON r.id = i.release_id
      WHERE i.id = $1`,
    [id],
  );
  return rows[0] ? toInvocation(rows[0]) : null;
}

/** Invocations with first <= id <= last of the given apps, oldest first (the rows one NOTIFY announced). */
export async function listInvocationRange(
  pool: Pool,
  first: number,
  last: number,
  appIds: number[],
): Promise<{ appId: number; row: InvocationView }[]> {
  const { rows } = await pool.query<InvocationDbRow & { range_app_id: number }>(
    `SELECT i.app_id AS range_app_id, ${INVOCATION_COLUMNS}
       FROM invocations i JOIN apps a ON a.id = i.app_id LEFT JOIN releases r ON r.id = i.release_id
      WHERE i.id BETWEEN $1 AND $2 AND i.app_id = ANY($3::bigint[])
      ORDER BY i.id`,
    [first, last, appIds],
  );
  return rows.map((r) => ({ appId: r.range_app_id, row: toInvocation(r) }));
}

export interface RateStats {
  /** invocations per minute for the last `minutes` minutes, oldest first (the last bucket is the current minute) */
  perMinute: number[];
  lastMinute: number;
  last5Minutes: number;
  errors5Minutes: number;
  avgDurationMs5Minutes: number | null;
}

/** Request rate of an app from the invocations table. */
export async function invocationRate(pool: Pool, appId: number, minutes = 15): Promise<RateStats> {
  const { rows } = await pool.query<{ ago: number; n: number; errors: number; dur: number }>(
    `SELECT floor(extract(epoch FROM (now() - created_at)) / 60)::int AS ago,
            count(*)::int AS n, count(*) FILTER (WHERE status >= 500)::int AS errors, sum(duration_ms)::float8 AS dur
       FROM invocations
      WHERE app_id = $1 AND created_at > now() - make_interval(mins => $2)
      GROUP BY 1`,
    [appId, minutes],
  );
  const perMinute = Array.from({ length: minutes }, () => 0);
  let n5 = 0;
  let e5 = 0;
  let d5 = 0;
  for (const r of rows) {
    if (r.ago >= 0 && r.ago < minutes) perMinute[minutes - 1 - r.ago] = r.n;
    if (r.ago < 5) {
      n5 += r.n;
      e5 += r.errors;
      d5 += r.dur;
    }
  }
  return {
    perMinute,
    lastMinute: perMinute[minutes - 1] ?? 0,
    last5Minutes: n5,
    errors5Minutes: e5,
    avgDurationMs5Minutes: n5 ? Math.round((d5 / n5) * 100) / 100 : null,
  };
}

export interface PlatformTotals {
  apps: number;
  releases: number;
  liveBranches: number;
  invocations: { app: string; status: number; n: number }[];
}

/** Totals for /metrics (invocations grouped by app and status over the retained rows). */
export async function platformTotals(pool: Pool): Promise<PlatformTotals> {
  const [a, r, b, i] = await Promise.all([
    pool.query<{ n: number }>('SELECT count(*)::int AS n FROM apps'),
    pool.query<{ n: number }>('SELECT count(*)::int AS n FROM releases'),
    pool.query<{ n: number }>('SELECT count(*)::int AS n FROM branch_pointers'),
    pool.query<{ app: string; status: number; n: number }>(
      `SELECT a.name AS app, i.status, count(*)::int AS n FROM invocations i JOIN apps a ON a.id = i.app_id
        GROUP BY a.name, i.status ORDER BY a.name, i.status`,
    ),
  ]);
  return { apps: a.rows[0]!.n, releases: r.rows[0]!.n, liveBranches: b.rows[0]!.n, invocations: i.rows };
}

/** Whether an app with a live release for a branch whose slug is `slug` exists (TLS ask endpoint). */
export async function liveBranchesOf(pool: Pool, appName: string): Promise<{ productionBranch: string; branches: string[] } | null> {
  const { rows } = await pool.query<{ production_branch: string; branch: string | null }>(
    `SELECT a.production_branch, bp.branch FROM apps a LEFT JOIN branch_pointers bp ON bp.app_id = a.id WHERE a.name = $1`,
    [appName],
  );
  if (!rows[0]) return null;
  return { productionBranch: rows[0].production_branch, branches: rows.flatMap((r) => (r.branch === null ? [] : [r.branch])) };
}

/** A release of (app, branch) by its version number. */
export async function findReleaseByVersion(pool: Pool, appId: number, branch: string, version: number): Promise<ReleaseRow | null> {
  const { rows } = await pool.query<{ id: number }>(
    'SELECT id FROM releases WHERE app_id = $1 AND branch = $2 AND version = $3',
    [appId, branch, version],
  );
  return rows[0] ? getRelease(pool, rows[0].id) : null;
}

/** Every API token (name and role; the hashes stay in the DB). */
export async function listTokens(pool: Pool): Promise<{ id: number; name: string; role: string; createdAt: string; lastUsedAt: string | null }[]> {
  const { rows } = await pool.query<{ id: number; name: string; role: string; created_at: Date; last_used_at: Date | null }>(
    'SELECT id, name, role, created_at, last_used_at FROM api_tokens ORDER BY id',
  );
  return rows.map((r) => ({ id: r.id, name: r.name, role: r.role, createdAt: r.created_at.toISOString(), lastUsedAt: iso(r.last_used_at) }));
}

/**
 * Delete an API token by id and NOTIFY TOKENS_CHANNEL with its id. Refuses (returns 'last-admin') to delete the only admin token, so the platform
 * cannot be locked out. Returns the deleted row's name, or null when there was no such token.
 */
export async function deleteToken(pool: Pool, id: number): Promise<{ name: string } | 'last-admin' | null> {
  return withTransaction(pool, async (c) => {
    await c.query('LOCK TABLE api_tokens IN SHARE ROW EXCLUSIVE MODE');
    const { rows } = await c.query<{ name: string; role: string }>('SELECT name, role FROM api_tokens WHERE id = $1', [id]);
    const row = rows[0];
    if (!row) return null;
    if (row.role === 'admin') {
      const { rows: n } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM api_tokens WHERE role = 'admin'`);
      if (n[0]!.n <= 1) return 'last-admin';
    }
    await c.query('DELETE FROM api_tokens WHERE id = $1', [id]);
    // every process that caches verified tokens forgets this one (manager/auth.ts), delivered on commit
    await c.query(`SELECT pg_notify('${TOKENS_CHANNEL}', $1)`, [String(id)]);
    return { name: row.name };
  });
}
