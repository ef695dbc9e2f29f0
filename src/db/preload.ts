/**
 * The preload handshake of a release switch (deploy/preload.ts ↔ executor/preload.ts), over LISTEN/NOTIFY:
 * - every process with executor threads keeps one connection LISTENing on 'picloud_preload' whose
 *   application_name is PRELOAD_NODE_NAME, so `pg_stat_activity` counts the nodes (a dead node's session ends with
 *   its connection);
 * - the deploy NOTIFYs 'picloud_preload' with {"id", "hashes": [script hash, …]} (at most PRELOAD_CHUNK hashes per
 *   notification: a payload is limited to 8000 bytes);
 * - each node loads and compiles those programs in every executor thread, then NOTIFYs 'picloud_preloaded' with
 *   {"id", "node"}.
 */
import type { Pool, PoolClient } from './pool.ts';

export const PRELOAD_CHANNEL = 'picloud_preload';
export const PRELOADED_CHANNEL = 'picloud_preloaded';
export const PRELOAD_NODE_NAME = 'picloud-executors';
/** hashes per notification: 100 × 67 bytes stays well under PostgreSQL's 8000-byte payload limit */
export const PRELOAD_CHUNK = 100;

export interface PreloadRequest {
  id: string;
  hashes: string[];
}

/** Nodes with executor threads connected to this database now. */
export async function countPreloadNodes(q: Pool | PoolClient): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
    [PRELOAD_NODE_NAME],
  );
  return rows[0]!.n;
}

/** Mark a LISTEN connection as a node's (after its LISTEN, so a counted node always hears the request). */
export async function registerPreloadNode(c: PoolClient): Promise<void> {
  await c.query(`LISTEN ${PRELOAD_CHANNEL}`);
  await c.query(`SELECT set_config('application_name', $1, false)`, [PRELOAD_NODE_NAME]);
}

export async function notifyPreload(q: Pool | PoolClient, req: PreloadRequest): Promise<void> {
  await q.query('SELECT pg_notify($1, $2)', [PRELOAD_CHANNEL, JSON.stringify(req)]);
}

export async function notifyPreloaded(q: Pool | PoolClient, id: string, node: string): Promise<void> {
  await q.query('SELECT pg_notify($1, $2)', [PRELOADED_CHANNEL, JSON.stringify({ id, node })]);
}

/**
 * The scripts of every live release (every app's live branches), those of the most recently switched branches
 * first, at most `limit`: what a node that starts compiles before it serves (executor/pool.ts).
 */
export async function liveScriptHashes(q: Pool | PoolClient, limit: number): Promise<string[]> {
  const { rows } = await q.query<{ hash: string }>(
    `SELECT h.value AS hash FROM branch_pointers b JOIN releases r ON r.id = b.release_id, jsonb_each_text(r.scripts) AS h
      GROUP BY h.value ORDER BY max(b.updated_at) DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.hash);
}
