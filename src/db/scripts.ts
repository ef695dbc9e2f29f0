/** The content-addressed AST cache (table `scripts`): hash = sha256(engine_version NUL source), ast = program JSON. */
import type { Pool, PoolClient } from './pool.ts';

export interface ScriptRow {
  hash: string;
  engineVersion: string;
  ast: string;
  bytes: number;
}

/** Which of these hashes are already stored. */
export async function existingScriptHashes(pool: Pool | PoolClient, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await pool.query<{ hash: string }>('SELECT hash FROM scripts WHERE hash = ANY($1::text[])', [hashes]);
  return new Set(rows.map((r) => r.hash));
}

/** The stored ASTs of these hashes. */
export async function getScriptAsts(pool: Pool | PoolClient, hashes: string[]): Promise<Map<string, string>> {
  if (hashes.length === 0) return new Map();
  const { rows } = await pool.query<{ hash: string; ast: string }>('SELECT hash, ast FROM scripts WHERE hash = ANY($1::text[])', [hashes]);
  return new Map(rows.map((r) => [r.hash, r.ast]));
}

/** Insert scripts; a hash already present is left as it is (content-addressed, immutable). */
export async function insertScripts(c: Pool | PoolClient, scripts: ScriptRow[]): Promise<void> {
  if (scripts.length === 0) return;
  await c.query(
    `INSERT INTO scripts (hash, engine_version, ast, bytes)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[])
     ON CONFLICT (hash) DO NOTHING`,
    [scripts.map((s) => s.hash), scripts.map((s) => s.engineVersion), scripts.map((s) => s.ast), scripts.map((s) => s.bytes)],
  );
}

/** The stored programs of these hashes with the engine version that compiled each (executors check it). */
export async function loadScripts(pool: Pool | PoolClient, hashes: string[]): Promise<{ hash: string; engineVersion: string; ast: string }[]> {
  if (hashes.length === 0) return [];
  const { rows } = await pool.query<{ hash: string; engineVersion: string; ast: string }>(
    'SELECT hash, engine_version AS "engineVersion", ast FROM scripts WHERE hash = ANY($1::text[])',
    [hashes],
  );
  return rows;
}
