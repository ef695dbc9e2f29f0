/**
 * Dashboard sessions and the answers every page shares. Signing in with an API token makes a session stored in
 * PostgreSQL (db/sessions.ts), so a restart of the manager signs nobody out; the cookie holds its random id
 * (HttpOnly, SameSite=Strict, Secure behind https), the database only that id's SHA-256, and never the token: a
 * session points at its token's row, so revoking the token ends its sessions at once. Every POST form carries the
 * session's CSRF token and cross-origin posts are refused (Origin check). A page goes out under a strict
 * Content-Security-Policy whose script nonce is new per response.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Pool } from '../db/pool.ts';
import { deleteSession, findSession, insertSession, setSessionFlash, type Flash } from '../db/sessions.ts';
import type { Principal } from './auth.ts';
import { html, type Html } from './html.ts';
import { page } from './dashboard-view.ts';

export const COOKIE = 'picloud_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;

export interface Session {
  /** the cookie's value */
  id: string;
  csrf: string;
  /** the message a form post left for the page it redirects to */
  flash: Flash | null;
}

/** A signed-in request: its session and the principal of the session's token. */
export interface SignedIn {
  session: Session;
  principal: Principal;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

const sameToken = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const idHash = (id: string): string => createHash('sha256').update(id).digest('hex');

/** The dashboard's sessions (in `pool`) and its page answers. */
export function dashboardSessions(pool: Pool) {
  const sendPage = (reply: FastifyReply, code: number, title: string, body: Html, s?: { session?: Session; principal?: Principal; script?: string }) => {
    const nonce = randomBytes(12).toString('base64');
    return reply
      .code(code)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header(
        'content-security-policy',
        `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      )
      .send(page(title, body, { ...s, nonce }));
  };

  const secureCookie = (req: FastifyRequest): boolean => req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';

  /** A new session for a verified token. */
  const start = async (p: Principal): Promise<Session> => {
    const s: Session = { id: randomBytes(24).toString('base64url'), csrf: randomBytes(24).toString('base64url'), flash: null };
    await insertSession(pool, { idHash: idHash(s.id), tokenId: p.tokenId, csrf: s.csrf, expiresAt: Date.now() + SESSION_TTL_MS }, MAX_SESSIONS);
    return s;
  };

  const end = (s: Session): Promise<void> => deleteSession(pool, idHash(s.id));

  /** The signed-in session and principal: none once it expired or its token was revoked. */
  const current = async (req: FastifyRequest): Promise<SignedIn | null> => {
    const id = parseCookies(req.headers.cookie)[COOKIE];
    const row = id ? await findSession(pool, idHash(id)) : null;
    if (!id || !row) return null;
    return {
      session: { id, csrf: row.csrf, flash: row.flash },
      principal: { tokenId: row.tokenId, name: row.name, role: row.role },
    };
  };

  /** Refuse cross-site form posts: an Origin (when sent) must be this host. */
  const sameOrigin = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    if (!origin) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  };

  /** A form post's session, or null once answered (303 to /login, or 403 for a bad CSRF token or origin). */
  const checkPost = async (req: FastifyRequest, reply: FastifyReply): Promise<SignedIn | null> => {
    const cur = await current(req);
    if (!cur) {
      reply.redirect('/login', 303);
      return null;
    }
    const csrf = (req.body as Record<string, string> | null)?._csrf ?? '';
    if (!sameOrigin(req) || !sameToken(csrf, cur.session.csrf)) {
      sendPage(reply, 403, 'Forbidden', html`<div class="card"><h1>Forbidden</h1><p>The form expired or came from another site. <a href="/">Back</a></p></div>`, cur);
      return null;
    }
    return cur;
  };

  /** A page's session, or null once redirected to /login. */
  const requireLogin = async (req: FastifyRequest, reply: FastifyReply): Promise<SignedIn | null> => {
    const cur = await current(req);
    if (!cur) reply.redirect('/login', 303);
    return cur;
  };

  /** Leave a message for the page a form post redirects to. */
  const flash = (s: Session, f: Flash): Promise<void> => setSessionFlash(pool, idHash(s.id), f);

  /** The message a form post left, shown once. */
  const takeFlash = async (s: Session): Promise<Html> => {
    const f = s.flash;
    if (!f) return html``;
    s.flash = null;
    await setSessionFlash(pool, idHash(s.id), null);
    return html`<div class="flash ${f.kind}" role="status">${f.text}</div>`;
  };

  return { sendPage, secureCookie, start, end, current, sameOrigin, checkPost, requireLogin, flash, takeFlash };
}

export type DashboardSessions = ReturnType<typeof dashboardSessions>;
