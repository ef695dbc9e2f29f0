/**
 * Dashboard sessions (migrations/0017): by the SHA-256 of the cookie's id, each pointing at its API token's row
 * (a revoked token's sessions go with it). Expired sessions are deleted when a new one starts.
 */
import type { Pool } from './pool.ts';

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

/** A live session with its token's name and role. */
export interface SessionRow {
  csrf: string;
  flash: Flash | null;
  tokenId: number;
  name: string;
  role: string;
}

/** Store a new session; drops the expired ones, and the oldest beyond `max`. */
export async function insertSession(pool: Pool, s: { idHash: string; tokenId: number; csrf: string; expiresAt: number }, max: number): Promise<void> {
  await pool.query('DELETE FROM dashboard_sessions WHERE expires_at < now()');
  await pool.query(
    'INSERT INTO dashboard_sessions (id_hash, token_id, csrf, expires_at) VALUES ($1, $2, $3, to_timestamp($4 / 1000.0))',
    [s.idHash, s.tokenId, s.csrf, s.expiresAt],
  );
  await pool.query(
    `DELETE FROM dashboard_sessions WHERE id_hash IN (
       SELECT id_hash FROM dashboard_sessions ORDER BY expires_at DESC OFFSET $1)`,
    [max],
  );
}

/** The session, if it exists, has not expired and its token was not revoked. */
export async function findSession(pool: Pool, idHash: string): Promise<SessionRow | null> {
  const { rows } = await pool.query<{ csrf: string; flash: Flash | null; token_id: number; name: string; role: string }>(
    `SELECT s.csrf, s.flash, t.id AS token_id, t.name, t.role
       FROM dashboard_sessions s JOIN api_tokens t ON t.id = s.token_id
      WHERE s.id_hash = $1 AND s.expires_at > now()`,
    [idHash],
  );
  const r = rows[0];
  return r ? { csrf: r.csrf, flash: r.flash, tokenId: r.token_id, name: r.name, role: r.role } : null;
}

export async function setSessionFlash(pool: Pool, idHash: string, flash: Flash | null): Promise<void> {
  await pool.query('UPDATE dashboard_sessions SET flash = $2 WHERE id_hash = $1', [idHash, flash === null ? null : JSON.stringify(flash)]);
}

export async function deleteSession(pool: Pool, idHash: string): Promise<void> {
  await pool.query('DELETE FROM dashboard_sessions WHERE id_hash = $1', [idHash]);
}
