/** API tokens: only the sha256 of a token is stored. The first start creates the admin token. */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from './pool.ts';

/** NOTIFY channel of revoked tokens; payload: the token's id (db/dashboard.ts deleteToken) */
export const TOKENS_CHANNEL = 'picloud_tokens';

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** A new random token: `pc_` + 40 hex chars. */
export const newToken = (): string => `pc_${randomBytes(20).toString('hex')}`;

export async function insertToken(pool: Pool, name: string, token: string, role = 'admin'): Promise<void> {
  await pool.query('INSERT INTO api_tokens (name, token_hash, role) VALUES ($1, $2, $3)', [name, hashToken(token), role]);
}

export async function countTokens(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM api_tokens');
  return rows[0]!.n;
}

/** The token's row, or null. Cached briefly in memory by the caller if needed (see manager/auth.ts). */
export async function findToken(pool: Pool, token: string): Promise<{ id: number; name: string; role: string } | null> {
  const { rows } = await pool.query<{ id: number; name: string; role: string }>(
    'SELECT id, name, role FROM api_tokens WHERE token_hash = $1',
    [hashToken(token)],
  );
  return rows[0] ?? null;
}
