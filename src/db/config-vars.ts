/**
 * Config overrides (`picloud config:set`): rows of config_vars per (app, branch). The effective env of an
 * invocation is release.config.env overlaid with these rows. A change NOTIFYs 'picloud_releases' for the
 * (app, branch) inside the same transaction, so route tables reload the env for new invocations
 * (payload {"app", "branch", "release": <live release id>}; no NOTIFY when the branch has no live release).
 */
import type { Pool, PoolClient } from './pool.ts';
import { withTransaction } from './pool.ts';

export interface ConfigVar {
  key: string;
  value: string;
  updatedAt: string;
}

/** Keys allowed for config vars: shell-style identifiers. */
export const CONFIG_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Values are strings; bounded so a row stays small. */
export const CONFIG_VALUE_MAX = 32 * 1024;

const SELECT_VARS = `SELECT key, value, updated_at FROM config_vars WHERE app_id = $1 AND branch = $2 ORDER BY key`;

/** The overrides of one (app, branch), sorted by key. */
export async function listConfigVars(pool: Pool, appId: number, branch: string): Promise<ConfigVar[]> {
  const { rows } = await pool.query<{ key: string; value: string; updated_at: Date }>(SELECT_VARS, [appId, branch]);
  return rows.map((r) => ({ key: r.key, value: r.value, updatedAt: r.updated_at.toISOString() }));
}

async function notifyBranch(c: PoolClient, appId: number, appName: string, branch: string): Promise<void> {
  const { rows } = await c.query<{ release_id: number }>(
    'SELECT release_id FROM branch_pointers WHERE app_id = $1 AND branch = $2',
    [appId, branch],
  );
  if (!rows[0]) return;
  await c.query(`SELECT pg_notify('picloud_releases', $1)`, [
    JSON.stringify({ app: appName, branch, release: rows[0].release_id }),
  ]);
}

/** Upsert several overrides in one transaction and notify route tables. */
export async function setConfigVars(
  pool: Pool,
  app: { id: number; name: string },
  branch: string,
  vars: Record<string, string>,
): Promise<void> {
  await withTransaction(pool, async (c) => {
    for (const [key, value] of Object.entries(vars)) {
      await c.query(
        `INSERT INTO config_vars (app_id, branch, key, value) VALUES ($1, $2, $3, $4)
         ON CONFLICT (app_id, branch, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [app.id, branch, key, value],
      );
    }
    await notifyBranch(c, app.id, app.name, branch);
  });
}

/** Delete overrides by key; returns the keys that existed. */
export async function unsetConfigVars(
  pool: Pool,
  app: { id: number; name: string },
  branch: string,
  keys: string[],
): Promise<string[]> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ key: string }>(
      'DELETE FROM config_vars WHERE app_id = $1 AND branch = $2 AND key = ANY($3::text[]) RETURNING key',
      [app.id, branch, keys],
    );
    if (rows.length) await notifyBranch(c, app.id, app.name, branch);
    return rows.map((r) => r.key).sort();
  });
}
