/**
 * Releases and the live pointers: `releases`, `routes`, `schedules`, `branch_pointers`, and the NOTIFY on channel
 * 'picloud_releases' with payload {"app", "branch", "release": id | null}. Every write here runs inside the
 * caller's transaction (src/deploy/release.ts), so a switch is all-or-nothing and the NOTIFY is delivered on commit.
 */
import type { Pool, PoolClient } from './pool.ts';

type Q = Pool | PoolClient;

export interface RouteRow {
  methods: string[];
  path: string;
  scriptPath: string;
  scriptHash: string;
  fn: string | null;
}

export interface ScheduleRow {
  cron: string;
  scriptPath: string;
  scriptHash: string;
  fn: string | null;
  /** default false: skip a tick while the previous run is still running */
  overlap?: boolean;
}

export interface ReleaseRow {
  id: number;
  appId: number;
  branch: string;
  version: number;
  commitSha: string;
  pusher: string;
  scripts: Record<string, string>;
  config: Record<string, unknown>;
  manifest: Record<string, unknown>;
  description: string;
  createdAt: Date;
}

const cols = (t = ''): string =>
  `${t}id, ${t}app_id AS "appId", ${t}branch, ${t}version, ${t}commit_sha AS "commitSha", ${t}pusher, ${t}scripts, ${t}config, ${t}manifest, ${t}description, ${t}created_at AS "createdAt"`;
const COLS = cols();

export interface NewRelease {
  appId: number;
  branch: string;
  commitSha: string;
  pusher: string;
  scripts: Record<string, string>;
  config: Record<string, unknown>;
  manifest: Record<string, unknown>;
  description: string;
}

/** Insert a release with the next version of (app, branch). Call under lockAppForRelease. */
export async function insertRelease(c: PoolClient, r: NewRelease): Promise<ReleaseRow> {
  const { rows } = await c.query<ReleaseRow>(
    `INSERT INTO releases (app_id, branch, version, commit_sha, pusher, scripts, config, manifest, description)
     SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5, $6, $7, $8 FROM releases WHERE app_id = $1 AND branch = $2
     RETURNING ${COLS}`,
    [r.appId, r.branch, r.commitSha, r.pusher, JSON.stringify(r.scripts), JSON.stringify(r.config), JSON.stringify(r.manifest), r.description],
  );
  return rows[0]!;
}

export async function insertRoutes(c: PoolClient, releaseId: number, routes: RouteRow[]): Promise<void> {
  if (routes.length === 0) return;
  await c.query(
    `INSERT INTO routes (release_id, idx, methods, path, script_path, script_hash, function)
     SELECT $1, t.idx - 1, string_to_array(t.methods, ','), t.path, t.script_path, t.script_hash, t.fn
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
            AS t(methods, path, script_path, script_hash, fn, idx)`,
    [releaseId, routes.map((r) => r.methods.join(',')), routes.map((r) => r.path), routes.map((r) => r.scriptPath), routes.map((r) => r.scriptHash), routes.map((r) => r.fn)],
  );
}

export async function insertSchedules(c: PoolClient, releaseId: number, schedules: ScheduleRow[]): Promise<void> {
  if (schedules.length === 0) return;
  await c.query(
    `INSERT INTO schedules (release_id, idx, cron, script_path, script_hash, function, overlap)
     SELECT $1, t.idx - 1, t.cron, t.script_path, t.script_hash, t.fn, t.overlap
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[]) WITH ORDINALITY AS t(cron, script_path, script_hash, fn, overlap, idx)`,
    [releaseId, schedules.map((s) => s.cron), schedules.map((s) => s.scriptPath), schedules.map((s) => s.scriptHash), schedules.map((s) => s.fn), schedules.map((s) => s.overlap === true)],
  );
}

export async function getRoutes(q: Q, releaseId: number): Promise<RouteRow[]> {
  const { rows } = await q.query<RouteRow>(
    `SELECT methods, path, script_path AS "scriptPath", script_hash AS "scriptHash", function AS fn FROM routes WHERE release_id = $1 ORDER BY idx`,
    [releaseId],
  );
  return rows;
}

export async function getSchedules(q: Q, releaseId: number): Promise<ScheduleRow[]> {
  const { rows } = await q.query<ScheduleRow>(
    `SELECT cron, script_path AS "scriptPath", script_hash AS "scriptHash", function AS fn, overlap FROM schedules WHERE release_id = $1 ORDER BY idx`,
    [releaseId],
  );
  return rows;
}

/** Point (app, branch) at a release and NOTIFY 'picloud_releases' (delivered on commit). */
export async function switchPointer(c: PoolClient, app: { id: number; name: string }, branch: string, releaseId: number): Promise<void> {
  await c.query(
    `INSERT INTO branch_pointers (app_id, branch, release_id) VALUES ($1, $2, $3)
     ON CONFLICT (app_id, branch) DO UPDATE SET release_id = EXCLUDED.release_id, updated_at = now()`,
    [app.id, branch, releaseId],
  );
  await notifyRelease(c, app.name, branch, releaseId);
}

/** Remove the live pointer of (app, branch) (a deleted preview); NOTIFY with release null. True if one existed. */
export async function removePointer(c: PoolClient, app: { id: number; name: string }, branch: string): Promise<boolean> {
  const r = await c.query('DELETE FROM branch_pointers WHERE app_id = $1 AND branch = $2', [app.id, branch]);
  await notifyRelease(c, app.name, branch, null);
  return (r.rowCount ?? 0) > 0;
}

async function notifyRelease(c: PoolClient, app: string, branch: string, release: number | null): Promise<void> {
  await c.query(`SELECT pg_notify('picloud_releases', $1)`, [JSON.stringify({ app, branch, release })]);
}

export async function getReleaseByVersion(q: Q, appId: number, branch: string, version: number): Promise<ReleaseRow | null> {
  const { rows } = await q.query<ReleaseRow>(`SELECT ${COLS} FROM releases WHERE app_id = $1 AND branch = $2 AND version = $3`, [appId, branch, version]);
  return rows[0] ?? null;
}

/** The live branches of an app (those with a pointer). */
export async function liveBranchNames(q: Q, appId: number): Promise<string[]> {
  const { rows } = await q.query<{ branch: string }>('SELECT branch FROM branch_pointers WHERE app_id = $1', [appId]);
  return rows.map((r) => r.branch);
}

/** The release id (app, branch) points at, or null. */
export async function getPointer(q: Q, appId: number, branch: string): Promise<number | null> {
  const { rows } = await q.query<{ release_id: number }>('SELECT release_id FROM branch_pointers WHERE app_id = $1 AND branch = $2', [appId, branch]);
  return rows[0]?.release_id ?? null;
}

export interface LivePointer {
  appId: number;
  app: string;
  branch: string;
  releaseId: number;
  commitSha: string;
}

/** Every live (app, branch) with its release's commit (the start-up reconciliation compares them with git). */
export async function allLivePointers(q: Q): Promise<LivePointer[]> {
  const { rows } = await q.query<LivePointer>(
    `SELECT a.id AS "appId", a.name AS app, p.branch, p.release_id AS "releaseId", r.commit_sha AS "commitSha"
       FROM branch_pointers p JOIN apps a ON a.id = p.app_id JOIN releases r ON r.id = p.release_id ORDER BY a.name, p.branch`,
  );
  return rows;
}

/** The newest release of (app, branch) that ran `commitSha`, or null. */
export async function latestReleaseOfCommit(q: Q, appId: number, branch: string, commitSha: string): Promise<number | null> {
  const { rows } = await q.query<{ id: number }>(
    'SELECT id FROM releases WHERE app_id = $1 AND branch = $2 AND commit_sha = $3 ORDER BY version DESC LIMIT 1',
    [appId, branch, commitSha],
  );
  return rows[0]?.id ?? null;
}
