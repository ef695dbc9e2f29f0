/**
 * The scripts' key-value store (kv:: host functions): JSON values per (app_id, branch), so previews never see
 * production data. Values are stored as jsonb; `()` is never stored (kv::set(k, ()) deletes).
 *
 * Single-key statements (the manager's KV API) and the batched ones the executors' store sends (kv-store.ts: many
 * reads in one join over unnest, many writes in one statement, hence one commit; a batch of one key goes as a plain
 * single-key statement: at c1 the kv bench route's PostgreSQL CPU per request fell ~7 %, measured).
 */
import { AppError } from '../common/errors.ts';
import type { Pool } from './pool.ts';

/** A key is at most this many UTF-8 bytes. */
export const KV_MAX_KEY_BYTES = 512;
/** A value's JSON is at most this many UTF-8 bytes. */
export const KV_MAX_VALUE_BYTES = 1024 * 1024;

/** KV_LIMIT when the key is too long. */
export function checkKvKey(key: string): void {
  const n = Buffer.byteLength(key);
  if (n > KV_MAX_KEY_BYTES) throw new AppError('KV_LIMIT', `kv key is ${n} bytes, over the limit of ${KV_MAX_KEY_BYTES}`, { bytes: n });
}

/** KV_LIMIT when the key or the value's JSON text is too long (every store checks writes with this). */
export function checkKvWrite(key: string, json: string): void {
  checkKvKey(key);
  // a JS string's UTF-8 length is at most 3 bytes per UTF-16 unit: skip the count for the common small value
  if (json.length * 3 <= KV_MAX_VALUE_BYTES) return;
  const n = Buffer.byteLength(json);
  if (n > KV_MAX_VALUE_BYTES) {
    throw new AppError('KV_LIMIT', `kv value is ${n} bytes as JSON, over the limit of ${KV_MAX_VALUE_BYTES}`, { bytes: n });
  }
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
  checkKvWrite(key, json);
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

/** kv::incr keeps values exact: a number in JSON is a JS double, exact as an integer up to 2^53 − 1. */
export const KV_MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

/**
 * The error of a kv::incr that cannot apply to the value `current` (JSON text) by `by`: not an integer, or a
 * result out of the safe integer range; null when it applies. One rule for every store (SQL below, `picloud run`).
 */
export function kvIncrError(key: string, current: string | null, by: number): string | null {
  if (!Number.isSafeInteger(by)) return `kv::incr: ${by} is not an integer within ±${KV_MAX_SAFE_INTEGER}`;
  if (current === null) return null;
  const v = JSON.parse(current) as unknown;
  if (typeof v !== 'number' || !Number.isInteger(v)) return `kv::incr: the value of "${key}" is not an integer`;
  if (!Number.isSafeInteger(v + by)) return `kv::incr: the value of "${key}" would pass ±${KV_MAX_SAFE_INTEGER}`;
  return null;
}

/** KV_LIMIT when the key is too long, KV_TYPE when `by` is not a safe integer (every store checks increments with this). */
export function checkKvIncr(key: string, by: number): void {
  checkKvKey(key);
  const bad = kvIncrError(key, null, by);
  if (bad) throw new AppError('KV_TYPE', bad);
}

// One upsert per key, so one row lock: concurrent increments of a key all count. An absent key starts at `by`. The
// WHERE leaves a value that is not an integer, or whose result would leave the safe range, unchanged: no row comes
// back for it. The CASE guards the casts: SQL does not promise AND's order.
const INCR_GUARD = `WHERE CASE WHEN jsonb_typeof(kv.value) = 'number'
    THEN kv.value::numeric = trunc(kv.value::numeric) AND abs(kv.value::numeric + EXCLUDED.value::numeric) <= ${KV_MAX_SAFE_INTEGER}
    ELSE false END`;
const INCR = `INSERT INTO kv (app_id, branch, key, value) VALUES ($1, $2, $3, to_jsonb($4::bigint))
  ON CONFLICT (app_id, branch, key) DO UPDATE SET value = to_jsonb(kv.value::numeric + EXCLUDED.value::numeric), updated_at = now()
  ${INCR_GUARD}
  RETURNING value::text AS v`;
const INCR_MANY = `INSERT INTO kv (app_id, branch, key, value)
  SELECT app_id, branch, key, to_jsonb(by) FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS t(app_id, branch, key, by)
  ON CONFLICT (app_id, branch, key) DO UPDATE SET value = to_jsonb(kv.value::numeric + EXCLUDED.value::numeric), updated_at = now()
  ${INCR_GUARD}
  RETURNING app_id, branch, key, value::text AS v`;

/** An increment of a batch: `by` (a safe integer) added to the key. */
export interface KvIncrement extends KvItem {
  by: number;
}

/**
 * Add each `by` to its key (distinct keys, checked with checkKvKey) in one statement, hence one commit: the new
 * values, null for a key left unchanged (not an integer, or a result past the safe range).
 */
export async function kvIncrMany(pool: Pool, items: readonly KvIncrement[]): Promise<(number | null)[]> {
  if (items.length === 1) {
    const { ns, key, by } = items[0]!;
    const { rows } = await pool.query<{ v: string }>({ name: 'kv_incr', text: INCR, values: [ns.appId, ns.branch, key, by] });
    return [rows[0] ? (JSON.parse(rows[0].v) as number) : null];
  }
  const { rows } = await pool.query<{ app_id: number; branch: string; key: string; v: string }>({ name: 'kv_incr_many', text: INCR_MANY, values: [...columns(items), items.map((i) => i.by)] });
  const values = new Map<string, number>();
  for (const r of rows) values.set(`${r.app_id}\u0000${r.branch}\u0000${r.key}`, JSON.parse(r.v) as number);
  return items.map((i) => values.get(`${i.ns.appId}\u0000${i.ns.branch}\u0000${i.key}`) ?? null);
}

/** Add `by` to the integer at `key` (absent: 0) atomically; the new value. KV_TYPE when it cannot (kvIncrError). */
export async function kvIncr(pool: Pool, ns: KvNamespace, key: string, by: number): Promise<number> {
  checkKvIncr(key, by);
  const [v] = await kvIncrMany(pool, [{ ns, key, by }]);
  if (v !== null && v !== undefined) return v;
  throw new AppError('KV_TYPE', kvIncrError(key, await kvGet(pool, ns, key), by) ?? `kv::incr: the value of "${key}" changed meanwhile; try again`);
}

/** Keys starting with `prefix`, sorted (at most `limit`). */
export async function kvKeys(pool: Pool, ns: KvNamespace, prefix: string, limit = 10_000): Promise<string[]> {
  const { rows } = await pool.query<{ key: string }>(
    `SELECT key FROM kv WHERE app_id = $1 AND branch = $2 AND starts_with(key, $3) ORDER BY key LIMIT $4`,
    [ns.appId, ns.branch, prefix, limit],
  );
  return rows.map((r) => r.key);
}

/** One key of a batch. */
export interface KvItem {
  ns: KvNamespace;
  key: string;
}

/** Column arrays of a batch for unnest(). */
function columns(items: readonly KvItem[]): [number[], string[], string[]] {
  const a: number[] = [];
  const b: string[] = [];
  const k: string[] = [];
  for (const it of items) {
    a.push(it.ns.appId);
    b.push(it.ns.branch);
    k.push(it.key);
  }
  return [a, b, k];
}

/** The values (JSON text, or null when absent) of distinct keys, in one statement. */
export async function kvGetMany(pool: Pool, items: readonly KvItem[]): Promise<(string | null)[]> {
  if (items.length === 1) {
    const { ns, key } = items[0]!;
    const { rows } = await pool.query<{ v: string }>({ name: 'kv_get', text: 'SELECT value::text AS v FROM kv WHERE app_id = $1 AND branch = $2 AND key = $3', values: [ns.appId, ns.branch, key] });
    return [rows[0]?.v ?? null];
  }
  const { rows } = await pool.query<{ i: number; v: string }>({
    name: 'kv_get_many',
    text: `SELECT x.i::int AS i, kv.value::text AS v
             FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS x(app_id, branch, key, i)
             JOIN kv ON kv.app_id = x.app_id AND kv.branch = x.branch AND kv.key = x.key`,
    values: columns(items),
  });
  const out: (string | null)[] = new Array<string | null>(items.length).fill(null);
  for (const r of rows) out[r.i - 1] = r.v;
  return out;
}

/** A write of a batch: `json` null deletes. */
export interface KvWrite extends KvItem {
  json: string | null;
}

// Both statements are named (prepared once per connection): planning the CTE cost about as much as running it.
// `xmax <> 0` on a row ON CONFLICT DO UPDATE returns: the row existed (it was updated, not inserted).
const UPSERT_MANY = `INSERT INTO kv (app_id, branch, key, value)
  SELECT app_id, branch, key, value::jsonb FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS t(app_id, branch, key, value)
  ON CONFLICT (app_id, branch, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
  RETURNING app_id, branch, key, xmax <> 0 AS existed`;
const UPSERT_ONE = `INSERT INTO kv (app_id, branch, key, value) VALUES ($1, $2, $3, $4::jsonb)
  ON CONFLICT (app_id, branch, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
  RETURNING xmax <> 0 AS existed`;
const WRITE_MANY = `WITH x AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(app_id, branch, key, value, i)),
  d AS (DELETE FROM kv USING x WHERE x.value IS NULL AND kv.app_id = x.app_id AND kv.branch = x.branch AND kv.key = x.key RETURNING x.i),
  u AS (INSERT INTO kv (app_id, branch, key, value) SELECT app_id, branch, key, value::jsonb FROM x WHERE value IS NOT NULL
        ON CONFLICT (app_id, branch, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
        RETURNING app_id, branch, key, xmax <> 0 AS existed)
  SELECT i::int AS i FROM d
  UNION ALL SELECT x.i::int FROM u JOIN x ON x.app_id = u.app_id AND x.branch = u.branch AND x.key = u.key WHERE u.existed`;

/**
 * Apply writes of distinct keys (already checked with checkKvWrite) in one statement, hence one transaction and
 * one commit. Returns, per write, whether its key existed before it.
 */
export async function kvWriteMany(pool: Pool, writes: readonly KvWrite[]): Promise<boolean[]> {
  if (writes.length === 1) {
    // one key (every write of a quiet moment): no arrays to encode and unnest
    const { ns, key, json } = writes[0]!;
    if (json === null) {
      const r = await pool.query({ name: 'kv_delete', text: 'DELETE FROM kv WHERE app_id = $1 AND branch = $2 AND key = $3', values: [ns.appId, ns.branch, key] });
      return [(r.rowCount ?? 0) > 0];
    }
    const { rows } = await pool.query<{ existed: boolean }>({ name: 'kv_upsert', text: UPSERT_ONE, values: [ns.appId, ns.branch, key, json] });
    return [rows[0]!.existed];
  }
  const values = [...columns(writes), writes.map((w) => w.json)];
  if (writes.every((w) => w.json !== null)) {
    // upserts only: one row back per write (the order of RETURNING is not promised: matched by key)
    const { rows } = await pool.query<{ app_id: number; branch: string; key: string; existed: boolean }>({ name: 'kv_upsert_many', text: UPSERT_MANY, values });
    if (rows.length === 1 && writes.length === 1) return [rows[0]!.existed];
    const existed = new Set<string>();
    for (const r of rows) if (r.existed) existed.add(`${r.app_id}\u0000${r.branch}\u0000${r.key}`);
    return writes.map((w) => existed.has(`${w.ns.appId}\u0000${w.ns.branch}\u0000${w.key}`));
  }
  const { rows } = await pool.query<{ i: number }>({ name: 'kv_write_many', text: WRITE_MANY, values });
  const out = new Array<boolean>(writes.length).fill(false);
  for (const r of rows) out[r.i - 1] = true;
  return out;
}
