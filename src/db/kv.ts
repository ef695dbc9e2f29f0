/**
 * The scripts' key-value store (kv:: host functions): JSON values per (app_id, branch), so previews never see
 * production data. Values are stored as jsonb; `()` is never stored (kv::set(k, ()) deletes).
 */
import { AppError } from '../common/errors.ts';
import type { Pool } from './pool.ts';

/** A key is at most this many UTF-8 bytes. */
export const KV_MAX_KEY_BYTES = 512;
/** A value's JSON is at most this many UTF-8 bytes. */
export const KV_MAX_VALUE_BYTES = 1024 * 1024;

function checkKey(key: string): void {
  const n = Buffer.byteLength(key);
  if (n > KV_MAX_KEY_BYTES) throw new AppError('KV_LIMIT', `kv key is ${n} bytes, over the limit of ${KV_MAX_KEY_BYTES}`, { bytes: n });
}

export interface KvNamespace {
  appId: number;
  branch: string;
}

/** The value of `key` (JSON text), or null when absent. */
export async function kvGet(pool: Pool, ns: KvNamespace, key: string): Promise<string | null> {
  const { rows } = await pool.query<{ v: string }>(
    'SELECT value::text AS v FROM kv WHERE app_id = $1 AND branch = $2 AND key = $3',
    [ns.appId, ns.branch, key],
  );
  return rows[0]?.v ?? null;
}

/** Upsert `key` = JSON text `json`. */
export async function kvSet(pool: Pool, ns: KvNamespace, key: string, json: string): Promise<void> {
  checkKey(key);
  const n = Buffer.byteLength(json);
  if (n > KV_MAX_VALUE_BYTES) {
    throw new AppError('KV_LIMIT', `kv value is ${n} bytes as JSON, over the limit of ${KV_MAX_VALUE_BYTES}`, { bytes: n });
  }
  await pool.query(
    `INSERT INTO kv (app_id, branch, key, value) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (app_id, branch, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [ns.appId, ns.branch, key, json],
  );
}

/** Delete `key`; true when it existed. */
export async function kvDelete(pool: Pool, ns: KvNamespace, key: string): Promise<boolean> {
  const r = await pool.query('DELETE FROM kv WHERE app_id = $1 AND branch = $2 AND key = $3', [ns.appId, ns.branch, key]);
  return (r.rowCount ?? 0) > 0;
}

/** Keys starting with `prefix`, sorted (at most `limit`). */
export async function kvKeys(pool: Pool, ns: KvNamespace, prefix: string, limit = 10_000): Promise<string[]> {
  const { rows } = await pool.query<{ key: string }>(
    `SELECT key FROM kv WHERE app_id = $1 AND branch = $2 AND starts_with(key, $3) ORDER BY key LIMIT $4`,
    [ns.appId, ns.branch, prefix, limit],
  );
  return rows.map((r) => r.key);
}
