/**
 * Authentication for git (HTTP basic, password = token) and the API (Bearer token, or basic).
 * Verified tokens are cached for 10 s so a burst of git requests costs one query. A revoke reaches every process
 * at once: deleting a token NOTIFYs 'picloud_tokens' with its id, and each verifier LISTENs (one connection, opened
 * with the first verification) and forgets it. While that connection is down nothing is cached, and the cache is
 * emptied when it comes back (a revoke may have been missed meanwhile).
 */
import type { FastifyInstance } from 'fastify';
import type { Pool, PoolClient } from '../db/pool.ts';
import { findToken, TOKENS_CHANNEL } from '../db/tokens.ts';

export interface Principal {
  tokenId: number;
  name: string;
  role: string;
}

const TTL_MS = 10_000;

export class TokenVerifier {
  #cache = new Map<string, { p: Principal; until: number }>();
  /** the LISTEN connection (null: not connected; nothing is cached then) */
  #listener: PoolClient | null = null;
  #connecting: Promise<void> | null = null;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;
  constructor(private readonly pool: Pool) {}

  /** The principal for a raw token, or null when unknown. */
  async verify(token: string): Promise<Principal | null> {
    if (!token) return null;
    if (!this.#listener && !this.#closed) await (this.#connecting ??= this.#listen());
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
    // cached only while revokes are heard
    if (this.#listener) this.#cache.set(token, { p, until: now + TTL_MS });
    return p;
  }

  async #listen(): Promise<void> {
    let c: PoolClient | null = null;
    try {
      c = await this.pool.connect();
      const client = c;
      client.on('notification', (m) => {
        if (m.channel === TOKENS_CHANNEL && m.payload) this.forgetTokenId(Number(m.payload));
      });
      client.on('error', () => this.#lost(client, true));
      await client.query(`LISTEN ${TOKENS_CHANNEL}`);
      if (this.#closed) return this.#lost(client, false);
      this.#cache.clear();
      this.#listener = client;
    } catch {
      if (c) this.#lost(c, true);
    } finally {
      this.#connecting = null;
    }
  }

  /** Drop the LISTEN connection (and the cache: revokes may be missed until it is back), then retry later. */
  #released = new WeakSet<PoolClient>();

  #lost(c: PoolClient, retry: boolean): void {
    if (this.#released.has(c)) return;
    this.#released.add(c);
    c.removeAllListeners('notification');
    c.removeAllListeners('error');
    c.on('error', () => {});
    if (this.#listener === c) this.#listener = null;
    this.#cache.clear();
    c.release(true);
    if (retry && !this.#closed && !this.#retry) {
      this.#retry = setTimeout(() => {
        this.#retry = null;
        if (!this.#listener && !this.#closed) void (this.#connecting ??= this.#listen());
      }, 1000);
      this.#retry.unref();
    }
  }

  /** Stop listening (server shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#connecting;
    if (this.#listener) this.#lost(this.#listener, false);
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

/** The verifier a plugin was given, or its own one, closed with `app` (it holds a LISTEN connection). */
export function verifierFor(app: FastifyInstance, pool: Pool, given: TokenVerifier | undefined): TokenVerifier {
  if (given) return given;
  const v = new TokenVerifier(pool);
  app.addHook('onClose', () => v.close());
  return v;
}
