/**
 * `pending_ref_updates` (migration 0005): what a push switched that git has not confirmed yet. Written in the
 * release transaction, deleted once the refs were checked after git-receive-pack (src/deploy/ref-guard.ts), or
 * by the start-up reconciliation when the server died in between (src/deploy/reconcile.ts).
 */
import type { Pool, PoolClient } from './pool.ts';

type Q = Pool | PoolClient;

export interface PendingRefUpdate {
  appId: number;
  app: string;
  branch: string;
  /** the pushed commit; null when the push deletes the branch */
  commitSha: string | null;
  /** the release the push made live (null: the preview was removed) */
  releaseId: number | null;
  previousReleaseId: number | null;
}

/** Record the switches of a push (inside its release transaction). A leftover row of the same branch is replaced. */
export async function insertPendingRefUpdates(c: PoolClient, rows: Omit<PendingRefUpdate, 'app'>[]): Promise<void> {
  if (rows.length === 0) return;
  await c.query(
    `INSERT INTO pending_ref_updates (app_id, branch, commit_sha, release_id, previous_release_id)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
     ON CONFLICT (app_id, branch) DO UPDATE SET commit_sha = EXCLUDED.commit_sha, release_id = EXCLUDED.release_id,
       previous_release_id = EXCLUDED.previous_release_id, created_at = now()`,
    [rows.map((r) => r.appId), rows.map((r) => r.branch), rows.map((r) => r.commitSha), rows.map((r) => r.releaseId), rows.map((r) => r.previousReleaseId)],
  );
}

/** The pending switches of one app (by name), or of every app. */
export async function listPendingRefUpdates(q: Q, app?: string): Promise<PendingRefUpdate[]> {
  const { rows } = await q.query<PendingRefUpdate>(
    `SELECT p.app_id AS "appId", a.name AS app, p.branch, p.commit_sha AS "commitSha", p.release_id AS "releaseId",
            p.previous_release_id AS "previousReleaseId"
       FROM pending_ref_updates p JOIN apps a ON a.id = p.app_id
      WHERE $1::text IS NULL OR a.name = $1 ORDER BY a.name, p.branch`,
    [app ?? null],
  );
  return rows;
}

export async function deletePendingRefUpdate(q: Q, appId: number, branch: string): Promise<void> {
  await q.query('DELETE FROM pending_ref_updates WHERE app_id = $1 AND branch = $2', [appId, branch]);
}
