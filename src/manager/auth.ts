/**
 * Authentication for git (HTTP basic, password = token) and the API (Bearer token, or basic).
 * Verified tokens are cached for 10 s so a burst of git requests costs one query. Revoking a token through this
 * process's verifier takes effect at once (`forgetTokenId`); other processes see it within the TTL.
 */
import type { Pool } from '../db/pool.ts';
import { findToken } from '../db/tokens.ts';

export interface Principal {
  tokenId: number;
  name: string;
  role: string;
}

const TTL_MS = 10_000;

export class TokenVerifier {
  #cache = new Map<string, { p: Principal; until: number }>();
  constructor(private readonly pool: Pool) {}

  /** The principal for a raw token, or null when unknown. */
  async verify(token: string): Promise<Principal | null> {
    if (!token) return null;
    const now = Date.now();
    const hit = this.#cache.get(token);
    if (hit && hit.until > now) return hit.p;
    const row = await findToken(this.pool, token);
    if (!row) {
      this.#cache.delete(token);
      return null;
    }
    const p = { tokenId: row.id, name: row.name, role: row.role };
    if (this.#cache.size > 1000) this.#cache.clear();
    this.#cache.set(token, { p, until: now + TTL_MS });
    return p;
  }

  /** Drop every cached entry of a token id (after it is revoked). */
  forgetTokenId(tokenId: number): void {
    for (const [token, entry] of this.#cache) if (entry.p.tokenId === tokenId) this.#cache.delete(token);
  }

  /** Extract a token from an Authorization header: `Bearer t` or `Basic base64(user:t)`. */
  static tokenFromHeader(header: string | undefined): string | null {
    if (!header) return null;
    const [scheme, rest] = header.split(' ', 2);
    if (!rest) return null;
    if (/^bearer$/i.test(scheme!)) return rest.trim();
    if (/^basic$/i.test(scheme!)) {
      const decoded = Buffer.from(rest.trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      return i >= 0 ? decoded.slice(i + 1) : null;
    }
    return null;
  }
}
