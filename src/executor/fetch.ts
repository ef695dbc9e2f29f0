/**
 * Outbound HTTP for handlers (`http::fetch`, architecture.md §6), usable from an executor worker thread and from
 * `picloud run`. Plain JS values in and out; the Rhai binding (run.ts) converts.
 *
 * Address checks (stack-notes §9): undici's `connect.lookup` is not called for IP literals, so the check lives in
 * a custom `connect` function: it resolves the name itself (or takes the literal), checks EVERY address with
 * ipaddr.js (only `unicast` passes: loopback, private, link-local, CGNAT, unique-local, unspecified, multicast,
 * reserved… are denied, IPv4-mapped IPv6 unwrapped first) and connects to the checked address, so a DNS answer
 * cannot change between check and connect. A host listed in the app's `[fetch] allow` (host, or host:port) goes
 * through a second agent whose connector does not check; no other request ever uses that agent's connections.
 * Redirects are followed here (not with undici's redirect interceptor) so that every hop picks its agent by the
 * hop's own URL: a redirect from an allowed host to a denied one is refused before anything connects to it.
 * The body is read by counting bytes (maxResponseSize only works per Agent) and `request()` is used rather than
 * `fetch()` (3x faster, stack-notes §9). undici is loaded on the first fetch: threads that never fetch do not pay
 * for it (~0.5 s of start-up and several MB per thread on a busy small machine).
 */
import { EventEmitter } from 'node:events';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Agent, buildConnector, Dispatcher } from 'undici';
import { appPartOf } from '../common/app-part.ts';
import { FETCH_LIMITS } from '../common/config.ts';
import type { FetchPolicy } from '../queue/jobs.ts';

export type FetchCode = 'FETCH_DENIED' | 'FETCH_TIMEOUT' | 'FETCH_LIMIT' | 'FETCH_FAILED';

/** A fetch failure a script can catch: the message starts with the code. */
export class FetchError extends Error {
  constructor(readonly code: FetchCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'FetchError';
  }
}

export type { FetchPolicy };

export const DEFAULT_FETCH_POLICY: FetchPolicy = Object.freeze({ allow: Object.freeze([]) as unknown as string[], maxRequests: FETCH_LIMITS.maxRequests, timeoutMs: FETCH_LIMITS.timeoutMs });

export interface FetchRequest {
  url: string;
  /** upper-case; default GET */
  method?: string;
  headers?: Record<string, string>;
  /** a string body as is; anything else (map/array) is sent as JSON */
  body?: string | { json: unknown };
  /** per-fetch timeout (capped by the policy's and the invocation's deadline) */
  timeoutMs?: number;
}

export interface FetchResponse {
  status: number;
  /** lower-case names; repeated headers joined with ", " */
  headers: Record<string, string>;
  body: string;
}

/** One fetch as the invocation log records it. */
export interface FetchRecord {
  method: string;
  host: string;
  /** 0 when no response arrived */
  status: number;
  ms: number;
  error?: FetchCode;
}

/** Why an address may not be connected to, or null when it may (only plain unicast addresses pass). */
export function deniedRange(ip: string): string | null {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip); // unwraps ::ffff:a.b.c.d to a.b.c.d
  } catch {
    return 'invalid';
  }
  const r = addr.range();
  return r === 'unicast' ? null : r;
}

/** Normalise `[fetch] allow` entries (lower-case; a bare IPv6 address gets its brackets). */
export function normaliseAllow(list: readonly string[]): string[] {
  return list.map((e) => {
    const s = e.trim().toLowerCase();
    return isIP(s) === 6 ? `[${s}]` : s;
  });
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** Is this URL's host (or host:port) in the allow list? */
export function isAllowedHost(u: URL, allow: readonly string[]): boolean {
  if (allow.length === 0) return false;
  const host = u.hostname.toLowerCase();
  const port = u.port || DEFAULT_PORT[u.protocol]!;
  return allow.includes(host) || allow.includes(`${host}:${port}`);
}

class DeniedError extends Error {
  readonly denied = true;
}

type Undici = typeof import('undici');
let undiciModule: Promise<Undici> | null = null;
const loadUndici = (): Promise<Undici> => (undiciModule ??= import('undici'));

/** A connector that resolves, checks every address and connects to the checked one. */
function checkedConnector(u: Undici, timeoutMs: number): buildConnector.connector {
  const base = u.buildConnector({ timeout: timeoutMs });
  return (opts, cb) => {
    const name = opts.hostname;
    const resolved: Promise<string[]> = isIP(name) ? Promise.resolve([name]) : lookup(name, { all: true, verbatim: true }).then((a) => a.map((x) => x.address));
    resolved.then(
      (addrs) => {
        if (addrs.length === 0) return cb(new Error(`no address for ${name}`), null);
        for (const a of addrs) {
          const why = deniedRange(a);
          if (why) return cb(new DeniedError(`${name} resolves to ${a} (${why}), which is not allowed; list the host in [fetch] allow to reach it`), null);
        }
        // keep `host` (the URL's) so TLS uses the name for SNI and certificate checks; connect to the checked address
        base({ ...opts, hostname: addrs[0]! }, cb);
      },
      (err: Error) => cb(err, null),
    );
  };
}

/**
 * A fetch's abort handle: an EventEmitter that emits 'abort' once, which undici's `request` takes as its `signal`
 * (documented: AbortSignal | EventEmitter). An AbortSignal is an EventTarget: measured ~35 µs of CPU more per
 * request (creating it, undici's listener on it) than this, at 64 µs per bare undici request on loopback.
 */
class Abort extends EventEmitter {
  aborted = false;
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

/**
 * The cap on fetches in flight at once, shared between apps: one app holds at most three quarters of the slots
 * (the rest stay free for the others: an app whose invocations wait on a slow upstream does not hold up every
 * other app's fetches until its own end), and a slot that frees up goes to the apps waiting for one in turn. A
 * waiter whose fetch aborts leaves the line.
 */
export class Gate {
  private active = 0;
  /** slots held, by app */
  private readonly held = new Map<number, number>();
  /** waiters by app, in arrival order; the map's order is the turn (an app served goes to the back) */
  private readonly waiting = new Map<number, (() => void)[]>();
  private readonly perApp: number;

  constructor(private readonly max: number) {
    this.perApp = appPartOf(max);
  }

  /** true once a slot is held (release it with the same app), false if `abort` fired first */
  acquire(abort: Abort, app: number): Promise<boolean> | true {
    if (!this.waiting.has(app) && this.mayTake(app)) {
      this.take(app);
      return true;
    }
    return new Promise((resolve) => {
      const w = () => {
        abort.removeListener('abort', onAbort);
        resolve(true);
      };
      const onAbort = () => {
        const q = this.waiting.get(app);
        const i = q ? q.indexOf(w) : -1;
        if (i >= 0) {
          q!.splice(i, 1);
          if (q!.length === 0) this.waiting.delete(app);
        }
        resolve(false);
      };
      abort.once('abort', onAbort);
      const q = this.waiting.get(app);
      if (q) q.push(w);
      else this.waiting.set(app, [w]);
    });
  }

  release(app: number): void {
    const n = this.held.get(app) ?? 0;
    if (n <= 1) this.held.delete(app);
    else this.held.set(app, n - 1);
    this.active--;
    // the freed slot goes to the first app in turn that may take one
    for (const [other, q] of this.waiting) {
      if (!this.mayTake(other)) continue;
      this.take(other);
      this.waiting.delete(other);
      const next = q.shift()!;
      if (q.length) this.waiting.set(other, q);
      next();
      return;
    }
  }

  private mayTake(app: number): boolean {
    return this.active < this.max && (this.held.get(app) ?? 0) < this.perApp;
  }

  private take(app: number): void {
    this.active++;
    this.held.set(app, (this.held.get(app) ?? 0) + 1);
  }
}

export interface FetcherOptions {
  /** e.g. PiCloud/0.2.0 */
  userAgent: string;
  /** fetches in flight at once through this fetcher (default FETCH_LIMITS.maxConcurrent) */
  maxConcurrent?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** headers not carried to another origin on a redirect */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/** Outbound HTTP with address checks; one per thread (its agents keep connections alive across invocations). */
export class Fetcher {
  private agents: Promise<{ u: Undici; checked: Agent; open: Agent }> | null = null;
  private readonly gate: Gate;

  constructor(private readonly o: FetcherOptions) {
    this.gate = new Gate(o.maxConcurrent ?? FETCH_LIMITS.maxConcurrent);
  }

  /** The two agents (created on the first fetch): `checked` for every host, `open` for hosts in the allow list. */
  private getAgents(): Promise<{ u: Undici; checked: Agent; open: Agent }> {
    this.agents ??= loadUndici().then((u) => {
      const common = { keepAliveTimeout: 4_000, connections: 64 };
      return {
        u,
        checked: new u.Agent({ ...common, connect: checkedConnector(u, FETCH_LIMITS.timeoutMs) }),
        open: new u.Agent({ ...common, connect: { timeout: FETCH_LIMITS.timeoutMs } }),
      };
    });
    return this.agents;
  }

  /**
   * Load undici and create the agents ahead of the first fetch (a release that calls http:: is going live, thread.ts
   * preload): importing undici took 95–100 ms in a thread on the 2-core VM, which the first fetch of each thread
   * paid inside its own timeout. Never rejects.
   */
  async warm(): Promise<void> {
    await this.getAgents().catch(() => {});
  }

  /**
   * One script fetch (with its redirects). `deadline` (performance.now() ms) is the invocation's own; the fetch
   * never runs past it. Rejects with FetchError only.
   */
  async fetch(req: FetchRequest, policy: FetchPolicy, deadline: number, app = 0): Promise<FetchResponse> {
    let url = parseUrl(req.url);
    const ms = Math.min(req.timeoutMs ?? policy.timeoutMs, policy.timeoutMs, deadline - performance.now());
    if (!(ms > 0)) throw new FetchError('FETCH_TIMEOUT', `no time left for ${req.method ?? 'GET'} ${url.host}`);
    const ac = new Abort();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, ms);
    const timeoutError = () => new FetchError('FETCH_TIMEOUT', `${req.method ?? 'GET'} ${url.host} took longer than ${Math.round(ms)} ms`);
    const held = this.gate.acquire(ac, app);
    if (held !== true && !(await held)) {
      clearTimeout(timer);
      throw timeoutError();
    }
    try {
      const { u, checked, open } = await this.getAgents();
      let method = (req.method ?? 'GET').toUpperCase();
      const headers = Object.create(null) as Record<string, string>;
      for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
      let body: string | undefined;
      if (req.body !== undefined) {
        if (typeof req.body === 'string') body = req.body;
        else {
          body = JSON.stringify(req.body.json) ?? 'null';
          headers['content-type'] ??= 'application/json';
        }
      }
      headers['user-agent'] = this.o.userAgent;
      for (let hop = 0; ; hop++) {
        const dispatcher: Dispatcher = isAllowedHost(url, policy.allow) ? open : checked;
        let res: Dispatcher.ResponseData;
        try {
          res = await u.request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher, signal: ac, headersTimeout: ms, bodyTimeout: ms });
        } catch (err) {
          if (timedOut) throw timeoutError();
          throw failure(err, url);
        }
        const location = res.headers.location;
        if (REDIRECTS.has(res.statusCode) && typeof location === 'string') {
          await res.body.dump().catch(() => {});
          if (hop >= FETCH_LIMITS.maxRedirects) throw new FetchError('FETCH_FAILED', `too many redirects (more than ${FETCH_LIMITS.maxRedirects}) from ${req.url}`);
          const next = parseUrl(location, url);
          if (next.origin !== url.origin) for (const h of CREDENTIAL_HEADERS) delete headers[h];
          if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
            if (method !== 'HEAD') method = 'GET';
            body = undefined;
            delete headers['content-type'];
            delete headers['content-length'];
          }
          url = next;
          continue;
        }
        try {
          return { status: res.statusCode, headers: flatHeaders(res.headers), body: await readCapped(res.body, url) };
        } catch (err) {
          if (timedOut) throw timeoutError();
          throw err instanceof FetchError ? err : failure(err, url);
        }
      }
    } finally {
      clearTimeout(timer);
      this.gate.release(app);
    }
  }

  async close(): Promise<void> {
    if (!this.agents) return;
    const a = await this.agents;
    await Promise.all([a.checked.close(), a.open.close()]);
  }
}

function parseUrl(s: string, base?: URL): URL {
  let u: URL;
  try {
    u = new URL(s, base);
  } catch {
    throw new FetchError('FETCH_FAILED', `invalid URL "${s.length > 200 ? s.slice(0, 200) + '…' : s}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new FetchError('FETCH_DENIED', `only http: and https: URLs may be fetched, not ${u.protocol}`);
  if (u.username || u.password) throw new FetchError('FETCH_FAILED', 'URLs with credentials (user:password@) are not supported; send an authorization header');
  return u;
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** The body as text, refused past maxResponseBytes (events, not `for await`: its iterator cost ~5 µs per fetch). */
function readCapped(body: Dispatcher.ResponseData['body'], url: URL): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let ended = false;
    body.on('data', (chunk: Buffer) => {
      n += chunk.length;
      if (n > FETCH_LIMITS.maxResponseBytes) {
        ended = true;
        body.destroy();
        reject(new FetchError('FETCH_LIMIT', `the response from ${url.host} is over ${FETCH_LIMITS.maxResponseBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    body.on('end', () => {
      ended = true;
      resolve(Buffer.concat(chunks, n).toString('utf8'));
    });
    body.on('error', (err) => {
      ended = true;
      reject(err);
    });
    body.on('close', () => {
      if (!ended) reject(new Error('the response body ended early'));
    });
  });
}

function failure(err: unknown, url: URL): FetchError {
  if (err instanceof FetchError) return err;
  const e = err as { code?: string; message?: string; cause?: unknown; denied?: boolean };
  if (e?.denied || (e?.cause as { denied?: boolean } | undefined)?.denied) return new FetchError('FETCH_DENIED', e.message ?? String(err));
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new FetchError('FETCH_TIMEOUT', `${url.host}: ${e.message}`);
  }
  return new FetchError('FETCH_FAILED', `${url.host}: ${e?.code ? `${e.code} ` : ''}${e?.message ?? String(err)}`);
}

/** The per-invocation side of fetch: counts fetches against `max_requests` and records each one. */
export class FetchSession {
  private used = 0;
  constructor(
    private readonly fetcher: Fetcher,
    private readonly policy: FetchPolicy,
    private readonly deadline: number,
    private readonly record: (r: FetchRecord) => void,
    /** the app whose invocation fetches (the fetcher's cap is shared between apps) */
    private readonly app = 0,
  ) {}

  async fetch(req: FetchRequest): Promise<FetchResponse> {
    const method = (req.method ?? 'GET').toUpperCase();
    let host = '';
    try {
      host = new URL(req.url).host;
    } catch {
      /* parseUrl reports it */
    }
    if (++this.used > this.policy.maxRequests) {
      this.record({ method, host, status: 0, ms: 0, error: 'FETCH_LIMIT' });
      throw new FetchError('FETCH_LIMIT', `more than ${this.policy.maxRequests} fetches in one invocation ([fetch] max_requests)`);
    }
    const t0 = performance.now();
    try {
      const r = await this.fetcher.fetch({ ...req, method }, this.policy, this.deadline, this.app);
      this.record({ method, host, status: r.status, ms: Math.round(performance.now() - t0) });
      return r;
    } catch (err) {
      this.record({ method, host, status: 0, ms: Math.round(performance.now() - t0), error: (err as FetchError).code ?? 'FETCH_FAILED' });
      throw err;
    }
  }
}
