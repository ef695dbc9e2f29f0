/**
 * Response mapping (architecture.md §6): the value of the script (or named function) → HTTP response.
 *   string → 200 text/plain; map/array/number/bool → 200 JSON; () → 204;
 *   response(status, body[, headers]) → as given (map/array body as JSON); redirect(url) → 302 + Location.
 * `response`/`redirect` return a map marked with a per-process random key (RESPONSE_MARK) that scripts cannot
 * know in advance, so an ordinary map is never mistaken for a response.
 * Errors: script error → 500 {"error","line","position"}; operation limit / timeout → 504.
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
  if (!Number.isInteger(s) || s < 100 || s > 599) throw new RhaiError('ErrorRuntime', `response: invalid HTTP status ${String(s)}`);
  const m = new Map<string, Value>();
  m.set(RESPONSE_MARK, true);
  m.set('status', s);
  m.set('body', body);
  m.set('headers', headers instanceof Map ? headers : new Map());
  return m;
}

/** `redirect(url)` → 302 with Location. */
export function makeRedirect(url: Value): Value {
  const h = new Map<string, Value>([['location', String(url)]]);
  return makeResponse(302, undefined, h);
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
    const headers: Record<string, string> = {};
    const hv = v.get('headers');
    if (hv instanceof Map) {
      for (const [k, val] of hv) headers[k.toLowerCase()] = typeof val === 'string' ? val : String(toJSON(val));
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
export function mapError(e: unknown, timedOut: boolean): ErrorClass {
  if (e instanceof RhaiError) {
    if (e.kind === 'ErrorTooManyOperations') {
      return { status: 504, body: { error: 'Script exceeded its operation limit (max_operations)' }, log: e.fullMessage };
    }
    if (e.kind === 'ErrorTerminated' || timedOut) {
      return { status: 504, body: { error: 'Script exceeded its time limit (timeout_ms)' }, log: e.fullMessage };
    }
    return {
      status: 500,
      body: { error: e.text, line: e.pos?.line ?? null, position: e.pos?.position ?? null },
      log: e.fullMessage,
    };
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return { status: 500, body: { error: 'Stack overflow', line: null, position: null }, log: 'Stack overflow (host)' };
  }
  return { status: 500, body: { error: 'Internal error while running the script', line: null, position: null }, log: String((e as Error)?.message ?? e) };
}
