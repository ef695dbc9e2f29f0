/**
 * Dashboard sessions and the answers every page shares. Signing in with an API token makes a session that lives in
 * memory (the manager is a single process); the cookie holds its random id (HttpOnly, SameSite=Strict, Secure
 * behind https), never the token. Each request re-verifies the session's token, so revoking a token ends its
 * sessions. Every POST form carries the session's CSRF token and cross-origin posts are refused (Origin check). A
 * page goes out under a strict Content-Security-Policy whose script nonce is new per response.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal, TokenVerifier } from './auth.ts';
import { html, type Html } from './html.ts';
import { page } from './dashboard-view.ts';

export const COOKIE = 'picloud_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;

export interface Session {
  id: string;
  token: string;
  csrf: string;
  expires: number;
  flash?: { kind: 'ok' | 'error'; text: string };
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

/** One dashboard's sessions (per plugin instance) and its page answers. */
export function dashboardSessions(verifier: TokenVerifier) {
  const sessions = new Map<string, Session>();

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

  const start = (token: string): Session => {
    const now = Date.now();
    for (const [id, s] of sessions) if (s.expires < now) sessions.delete(id);
    while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
    const s: Session = { id: randomBytes(24).toString('base64url'), token, csrf: randomBytes(24).toString('base64url'), expires: now + SESSION_TTL_MS };
    sessions.set(s.id, s);
    return s;
  };

  const end = (s: Session): void => void sessions.delete(s.id);

  /** The signed-in session and principal (the token is re-verified, so a revoked token ends the session). */
  const current = async (req: FastifyRequest): Promise<SignedIn | null> => {
    const id = parseCookies(req.headers.cookie)[COOKIE];
    const s = id ? sessions.get(id) : undefined;
    if (!s || s.expires < Date.now()) return null;
    const principal = await verifier.verify(s.token);
    if (!principal) {
      sessions.delete(s.id);
      return null;
    }
    return { session: s, principal };
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

  /** The flash message a post left for the page it redirected to, shown once. */
  const takeFlash = (s: Session): Html => {
    const f = s.flash;
    s.flash = undefined;
    return f ? html`<div class="flash ${f.kind}" role="status">${f.text}</div>` : html``;
  };

  return { sendPage, secureCookie, start, end, current, sameOrigin, checkPost, requireLogin, takeFlash };
}

export type DashboardSessions = ReturnType<typeof dashboardSessions>;
