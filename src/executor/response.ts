/**
 * Response mapping (architecture.md §6): the value of the script (or named function) → HTTP response.
 *   string → 200 text/plain; map/array/number/bool → 200 JSON; () → 204;
 *   response(status, body[, headers]) → as given (map/array body as JSON); redirect(url) → 302 + Location.
 * `response`/`redirect` return a map marked with a per-process random key (RESPONSE_MARK) that scripts cannot
 * know in advance, so an ordinary map is never mistaken for a response.
 * Errors: script error → 500 {"error","line","position"}; operation limit / timeout → 504.
 *
 * Scripts never speak HTTP framing (issue 8): a status is 200–599 (1xx would make a proxy switch protocols or
 * wait for a final response); hop-by-hop and framing headers (connection, keep-alive, transfer-encoding, te,
 * trailer, upgrade, proxy-*, content-length) are dropped, the server frames the body itself; a header name must
 * be an HTTP token and a value may not hold control characters (else a script error); a `Location` (from
 * `redirect` or a script header) must be http:, https: or relative and is sent percent-encoded (non-ASCII
 * included); any other non-ASCII header value is sent as its UTF-8 bytes.
 */
import { randomBytes } from 'node:crypto';
import { RFloat, RhaiError, toJSON, type Value } from '../rhai/index.ts';

export const RESPONSE_MARK = `$picloud_response_${randomBytes(8).toString('hex')}`;

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

export interface MappedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Build the marked map returned by `response(status, body[, headers])`. */
export function makeResponse(status: Value, body: Value, headers?: Value): Value {
  const s = typeof status === 'number' ? status : typeof status === 'bigint' ? Number(status) : status instanceof RFloat ? status.v : NaN;
  if (!Number.isInteger(s) || s < 200 || s > 599) {
    throw new RhaiError('ErrorRuntime', `response: invalid HTTP status ${String(s)} (a script may answer 200 to 599)`);
  }
  const m = new Map<string, Value>();
  m.set(RESPONSE_MARK, true);
  m.set('status', s);
  m.set('body', body);
  m.set('headers', headers instanceof Map ? headers : new Map());
  return m;
}

/** `redirect(url)` → 302 with Location (checked here, so a bad URL fails at the call). */
export function makeRedirect(url: Value): Value {
  const h = new Map<string, Value>([['location', locationValue(String(url))]]);
  return makeResponse(302, undefined, h);
}

/** Headers a script may not set: hop-by-hop (RFC 9110 §7.6.1) and framing; `proxy-*` is matched by prefix. */
const DROPPED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length']);
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
// oxlint-disable-next-line no-control-regex -- rejecting control characters is the point
const CONTROL_RE = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * A Location value: http:, https: or relative (resolved as a browser would, so ` javascript:` or `java\tscript:`
 * are caught), percent-encoded: absolute URLs as the WHATWG serialisation (IDN hosts in punycode), relative
 * ones with every character outside printable ASCII (and a `%` not starting an escape) encoded as UTF-8.
 */
export function locationValue(url: string): string {
  let u: URL;
  try {
    u = new URL(url, 'http://relative.invalid/');
  } catch {
    throw new RhaiError('ErrorRuntime', `redirect: invalid URL ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new RhaiError('ErrorRuntime', `redirect: only http:, https: and relative URLs are allowed, got ${JSON.stringify(u.protocol)}`);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(url.trim())) return u.href;
  try {
    // browsers drop tabs and newlines from URLs; encode the rest of what a header value may not carry raw
    return url.trim().replace(/[\t\n\r]/g, '').replace(/%(?![0-9a-f]{2})|[^\x21-\x7e]+/giu, (c) => encodeURIComponent(c));
  } catch {
    throw new RhaiError('ErrorRuntime', `redirect: invalid URL ${JSON.stringify(url)} (lone surrogate)`);
  }
}

/** A script's header (name lower-cased) → [name, value], or null when the platform drops it. */
function scriptHeader(k: string, val: Value): [string, string] | null {
  const name = k.toLowerCase();
  if (!TOKEN_RE.test(name)) throw new RhaiError('ErrorRuntime', `response: invalid header name ${JSON.stringify(k)}`);
  if (DROPPED.has(name) || name.startsWith('proxy-')) return null;
  const raw = typeof val === 'string' ? val : String(toJSON(val));
  if (name === 'location') return [name, locationValue(raw)];
  if (CONTROL_RE.test(raw)) throw new RhaiError('ErrorRuntime', `response: header ${JSON.stringify(k)} has a control character in its value`);
  // node writes header strings as latin1: send non-ASCII as its UTF-8 bytes instead of mangling it
  // oxlint-disable-next-line no-control-regex -- ASCII range test
  return [name, /^[\x00-\x7f]*$/.test(raw) ? raw : Buffer.from(raw, 'utf8').toString('latin1')];
}

function bodyOf(body: Value, headers: Record<string, string>): string {
  if (body === undefined) return '';
  if (typeof body === 'string') {
    headers['content-type'] ??= TEXT_TYPE;
    return body;
  }
  headers['content-type'] ??= JSON_TYPE;
  return JSON.stringify(toJSON(body));
}

/** Map a script's value to a response. */
export function mapValue(v: Value): MappedResponse {
  if (v === undefined) return { status: 204, headers: {}, body: '' };
  if (typeof v === 'string') return { status: 200, headers: { 'content-type': TEXT_TYPE }, body: v };
  if (v instanceof Map && v.get(RESPONSE_MARK) === true) {
    const headers = Object.create(null) as Record<string, string>;
    const hv = v.get('headers');
    if (hv instanceof Map) {
      for (const [k, val] of hv) {
        const h = scriptHeader(k, val);
        if (h) headers[h[0]] = h[1];
      }
    }
    const status = v.get('status') as number;
    const body = bodyOf(v.get('body'), headers);
    if (body === '' && !headers['content-type']) delete headers['content-type'];
    return { status, headers, body };
  }
  const json = toJSON(v);
  if (typeof json === 'string') return { status: 200, headers: { 'content-type': TEXT_TYPE }, body: json };
  return { status: 200, headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(json) };
}

export type ErrorClass = { status: 500 | 504; body: Record<string, unknown>; log: string };

/** Classify an error thrown while running a script. */
/** The error that wraps `inner` in the chain starting at `top`. */
function parentOf(top: RhaiError, inner: RhaiError): RhaiError | undefined {
  for (let x: RhaiError | undefined = top; x; x = x.extra.inner) if (x.extra.inner === inner) return x;
  return undefined;
}

export function mapError(e: unknown, timedOut: boolean): ErrorClass {
  if (e instanceof RhaiError) {
    // an error inside a called function arrives wrapped (ErrorInFunctionCall, at the call site): the cause and the
    // position a developer needs are those of the innermost error, the line that failed
    let root: RhaiError = e;
    while (root.extra.inner) root = root.extra.inner;
    let at: RhaiError | undefined = root;
    while (at && !at.pos) at = at === e ? undefined : parentOf(e, at);
    if (root.kind === 'ErrorTooManyOperations') {
      return { status: 504, body: { error: 'Script exceeded its operation limit (max_operations)' }, log: e.fullMessage };
    }
    if (root.kind === 'ErrorTerminated' || timedOut) {
      return { status: 504, body: { error: 'Script exceeded its time limit (timeout_ms)' }, log: e.fullMessage };
    }
    return {
      status: 500,
      body: { error: e.text, line: at?.pos?.line ?? null, position: at?.pos?.position ?? null },
      log: e.fullMessage,
    };
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return { status: 500, body: { error: 'Stack overflow', line: null, position: null }, log: 'Stack overflow (host)' };
  }
  return { status: 500, body: { error: 'Internal error while running the script', line: null, position: null }, log: String((e as Error)?.message ?? e) };
}
