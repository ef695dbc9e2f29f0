/**
 * Ingress (architecture.md §4, §6): `/apps/<app>/<path>` (production) and `/apps/<b>--<app>/<path>` (preview of
 * branch slug b); host-form URLs are rewritten to this form by the server. Resolves the live release from the
 * in-memory route table, matches the route (404 / 405 + Allow), reads the body under the app's max_body_bytes
 * (413 from Content-Length before reading, or as soon as the streamed bytes pass the limit), dispatches the
 * invocation (carrying its release id) and writes the mapped response. Every error body is JSON.
 *
 * Apps never run with the dashboard's origin: a path-form request (its URL was not rewritten from a host-form
 * one) is served on the platform's own host, so its response gets `Content-Security-Policy: sandbox …` (an opaque
 * origin: no same-origin access to the dashboard, its cookies or its CSRF tokens) and loses any header that would
 * reach the platform's cookies or host-wide state (`Set-Cookie` of a `picloud*` cookie, `Clear-Site-Data`,
 * `Strict-Transport-Security`). Host-form responses (each app its own origin) keep their headers, except a
 * `picloud*` cookie with a `Domain` attribute (it would reach the platform's host). In both forms
 * the platform's cookies are removed from the request's `Cookie` header before a script sees it.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { isAppError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Dispatcher } from '../queue/dispatch.ts';
import type { HttpInvocation } from '../queue/jobs.ts';
import type { InvocationRow } from '../db/invocation-row.ts';
import { matchRoute, targetOf, type RouteTable } from './route-table.ts';

export interface IngressOptions {
  routes: RouteTable;
  dispatcher: Dispatcher;
  log: Logger;
  /** the invocation log, for requests answered here without an executor (404, 405, 413 of a deployed app) */
  record?(row: InvocationRow): void;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/** A record whose keys are all plain (`__proto__`, `constructor` included): scripts choose these names. */
const plain = (): Record<string, string> => Object.create(null) as Record<string, string>;

/** The sandbox of path-form responses: scripts, forms, popups, … but never allow-same-origin. */
export const PATH_FORM_SANDBOX = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads allow-pointer-lock allow-presentation';
/** Cookies of the platform (the dashboard's `picloud_session`, and any later `picloud*` one), prefixes included. */
const PLATFORM_COOKIE_RE = /^\s*(__host-|__secure-)?picloud/i;
/** Host-wide headers an app may not send on the platform's host. */
const PATH_FORM_DROPPED = new Set(['clear-site-data', 'strict-transport-security']);

/** Apply the path-form rule to a script's response headers (see the header comment). */
export function pathFormHeaders(headers: Record<string, string>): Record<string, string> {
  const out = plain();
  for (const k of Object.keys(headers)) {
    const v = headers[k]!;
    if (PATH_FORM_DROPPED.has(k) || (k === 'set-cookie' && PLATFORM_COOKIE_RE.test(v))) continue;
    out[k] = v;
  }
  // several policies are all enforced: the script's own CSP stays, the sandbox is added to it
  out['content-security-policy'] = out['content-security-policy'] ? `${out['content-security-policy']}, ${PATH_FORM_SANDBOX}` : PATH_FORM_SANDBOX;
  return out;
}

/**
 * Host form keeps the script's headers, except a `Set-Cookie` of a `picloud*` cookie with a `Domain` attribute:
 * from `<app>.<domain>` that cookie would reach the platform's host and replace the dashboard session.
 */
export function hostFormHeaders(headers: Record<string, string>): Record<string, string> {
  const c = headers['set-cookie'];
  if (c === undefined || !PLATFORM_COOKIE_RE.test(c) || !/;\s*domain\s*=/i.test(c)) return headers;
  const out = plain();
  for (const k of Object.keys(headers)) if (k !== 'set-cookie') out[k] = headers[k]!;
  return out;
}

let seq = 0;
const idPrefix = `${process.pid.toString(36)}${Date.now().toString(36)}`;

function sendError(reply: FastifyReply, status: number, error: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).header('content-type', JSON_TYPE).send(JSON.stringify({ error, ...extra }));
}

type BodyResult = { ok: true; body: string } | { ok: false };
const NO_BODY: BodyResult = Object.freeze({ ok: true, body: '' });
const TOO_LARGE: BodyResult = Object.freeze({ ok: false });

/** The request body under `limit`; without a body (GET, …) at once, not a promise (no await per request). */
function readBody(req: FastifyRequest, limit: number): BodyResult | Promise<BodyResult> {
  const cl = req.headers['content-length'];
  if (cl !== undefined && Number(cl) > limit) return TOO_LARGE;
  const stream = req.body as Readable | undefined;
  if (!stream || typeof (stream as Readable).on !== 'function') return NO_BODY;
  return readStream(stream, limit);
}

async function readStream(stream: Readable, limit: number): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) return TOO_LARGE;
    chunks.push(b);
  }
  return { ok: true, body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') };
}

function decodeSegments(path: string): string[] | null {
  const out: string[] = [];
  for (const s of path.split('/')) {
    if (s === '') continue;
    try {
      out.push(s.indexOf('%') >= 0 ? decodeURIComponent(s) : s);
    } catch {
      return null;
    }
  }
  return out;
}

function flatQuery(q: unknown): Record<string, string> {
  const out = plain();
  if (!q || typeof q !== 'object') return out;
  for (const [k, v] of Object.entries(q as Record<string, unknown>)) out[k] = Array.isArray(v) ? String(v[0] ?? '') : String(v ?? '');
  return out;
}

/** A request's `cookie` header without the platform's cookies (scripts never see the dashboard session). */
export function appCookies(cookie: string): string {
  return cookie.split(';').filter((c) => c.trim() !== '' && !PLATFORM_COOKIE_RE.test(c)).map((c) => c.trim()).join('; ');
}

function flatHeaders(req: FastifyRequest): Record<string, string> {
  const h = req.headers;
  const out = plain();
  for (const k of Object.keys(h)) {
    const v = h[k];
    if (v === undefined) continue;
    if (k === 'cookie') {
      const c = appCookies(Array.isArray(v) ? v.join('; ') : v);
      if (c) out[k] = c;
    } else out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  // node's header object drops a header named __proto__ (an assignment to the prototype): take it from the raw list
  const raw = req.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 9 && raw[i]!.toLowerCase() === '__proto__') out.__proto__ = out.__proto__ === undefined ? raw[i + 1]! : `${out.__proto__}, ${raw[i + 1]!}`;
  }
  return out;
}

/** The `/apps/*` plugin. */
export const ingressPlugin: FastifyPluginAsync<IngressOptions> = async (app, opts) => {
  const { routes, dispatcher } = opts;
  // Bodies are read by the handler under each app's own limit: pass the raw stream through for every type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.url;
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    // pathname = /apps/<seg>[/<rest>]
    const segEnd = pathname.indexOf('/', 6);
    const seg = segEnd < 0 ? pathname.slice(6) : pathname.slice(6, segEnd);
    const path = segEnd < 0 ? '/' : pathname.slice(segEnd);
    const entry = routes.resolve(seg);
    if (!entry) return sendError(reply, 404, `No app or preview is deployed at /apps/${seg}`);
    const segs = decodeSegments(path);
    if (!segs) return sendError(reply, 400, 'Malformed percent-encoding in the request path');
    const method = req.method;
    const m = matchRoute(entry.routes, method, segs);
    // answered here, without an executor: still an invocation of the app in its log
    const unrouted = (status: number, error: string, route = '') =>
      opts.record?.({
        appId: entry.appId, app: entry.app, branch: entry.branch, releaseId: entry.releaseId, trigger: 'http', route, method, path,
        status, durationMs: 0, operations: 0, cold: false, logs: [], error, at: Date.now(),
      });
    if (m.kind === 'not_found') {
      unrouted(404, `No route matches ${method} ${path}`);
      return sendError(reply, 404, `No route matches ${method} ${path}`);
    }
    if (m.kind === 'method_not_allowed') {
      unrouted(405, `Method ${method} is not allowed for ${path}`);
      reply.header('allow', m.allow.join(', '));
      return sendError(reply, 405, `Method ${method} is not allowed for ${path}`, { allow: m.allow });
    }
    const limit = entry.limits.maxBodyBytes;
    let body = readBody(req, limit);
    if (body instanceof Promise) body = await body;
    if (!body.ok) {
      unrouted(413, `Request body exceeds the app's limit of ${limit} bytes`, m.route.pattern);
      reply.header('connection', 'close');
      return sendError(reply, 413, `Request body exceeds the app's limit of ${limit} bytes`, { limit });
    }
    const job: HttpInvocation = {
      kind: 'http',
      id: `${idPrefix}-${(seq++).toString(36)}`,
      target: targetOf(entry, m.route),
      route: m.route.pattern,
      method,
      path,
      params: m.params,
      query: flatQuery(req.query),
      headers: flatHeaders(req),
      body: body.body,
    };
    let result;
    try {
      result = await dispatcher.invoke(job);
    } catch (err) {
      if (isAppError(err) && (err.code === 'NO_CAPACITY' || err.code === 'APP_BUSY' || err.code === 'QUEUE_UNAVAILABLE')) {
        reply.header('retry-after', '1');
        return sendError(reply, err.httpStatus, err.message, { code: err.code });
      }
      opts.log.error({ err }, 'dispatch failed');
      return sendError(reply, 502, 'The invocation could not be dispatched to an executor');
    }
    // host form: the server rewrote `<label>.<domain>/x` to `/apps/<label>/x`; anything else is path form
    const headers = req.originalUrl === req.url ? pathFormHeaders(result.headers) : hostFormHeaders(result.headers);
    const ct = headers['content-type'];
    if ((ct === TEXT_TYPE || ct === JSON_TYPE) && result.status !== 204 && result.status !== 304) {
      // the common case, written on the raw response: what fastify's reply.send would write for it (the same
      // headers, content-length from the body), without its per-request content-type parsing, header bookkeeping
      // and onSend pipeline (none registered here)
      reply.hijack();
      headers['content-length'] = String(Buffer.byteLength(result.body));
      try {
        reply.raw.writeHead(result.status, headers);
      } catch (err) {
        // response.ts only lets valid header names and values through: a failure here is ours
        opts.log.error({ err }, 'invalid response headers');
        const body = JSON.stringify({ error: 'The response of the script could not be sent' });
        reply.raw.writeHead(500, { 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(body)) });
        reply.raw.end(body);
        return reply;
      }
      reply.raw.end(result.body);
      return reply;
    }
    reply.code(result.status);
    for (const k of Object.keys(headers)) reply.header(k, headers[k]!);
    return reply.send(result.body);
  };

  app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: '/apps/*', handler });
  app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: '/apps', handler: (_req, reply) => sendError(reply, 404, 'No app named in the URL: use /apps/<app>/<path>') });
};
