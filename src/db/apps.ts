/** Apps (table `apps`). An app row is created by its first valid push, inside the release transaction. */
import type { Pool, PoolClient } from './pool.ts';

export interface App {
  id: number;
  name: string;
  productionBranch: string;
}

type Q = Pool | PoolClient;
const COLS = 'id, name, production_branch AS "productionBranch"';

export async function getApp(q: Q, name: string): Promise<App | null> {
  const { rows } = await q.query<App>(`SELECT ${COLS} FROM apps WHERE name = $1`, [name]);
  return rows[0] ?? null;
}

/** The app, created with `productionBranch` if it does not exist yet. */
export async function ensureApp(q: Q, name: string, productionBranch: string): Promise<App & { created: boolean }> {
  const ins = await q.query<App>(
    `INSERT INTO apps (name, production_branch) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING ${COLS}`,
    [name, productionBranch],
  );
  if (ins.rows[0]) return { ...ins.rows[0], created: true };
  const app = await getApp(q, name);
  if (!app) throw new Error(`app ${name} vanished`);
  return { ...app, created: false };
}

export async function setProductionBranch(q: Q, appId: number, branch: string): Promise<void> {
  await q.query('UPDATE apps SET production_branch = $2, updated_at = now() WHERE id = $1', [appId, branch]);
}

/** Serialise release switches of one app across processes (held until the transaction ends). */
export async function lockAppForRelease(c: PoolClient, name: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`picloud-release:${name}`]);
}
