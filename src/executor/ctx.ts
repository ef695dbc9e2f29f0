/**
 * The script's `ctx` (architecture.md §6, api 1): built from an invocation job as plain JSON-able data
 * (`ctxData`) and converted to Rhai values (`buildCtx`). Fields: trigger, method, path, params, query, headers
 * (lower-case keys), body, json (parsed body or (), computed from body), env, app, branch, release (int); schedules add cron and
 * scheduled_at (unix ms); queue jobs add queue, job_id, attempt (1 for the first try), with body/json the value.
 *
 * `ctx.json` is parsed lazily, the first time the script reads it (a route that never looks at it never pays for
 * it; a route naming a function gets a copy of ctx, made when the call starts), and only when the body nests at
 * most JSON_MAX_DEPTH levels: deeper is `()`, like a body that is not JSON (a 500,000-deep body used to answer
 * `500 Stack overflow` on every route, before the script ran).
 */
import { jsonDepthWithin, JSON_MAX_DEPTH } from '../common/json.ts';
import { fromJSON, type Value } from '../rhai/index.ts';
import type { InvocationJob } from '../queue/jobs.ts';

export { jsonDepthWithin, JSON_MAX_DEPTH };

export interface CtxData {
  trigger: 'http' | 'schedule' | 'queue';
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  env: Record<string, string>;
  app: string;
  branch: string;
  release: number;
  cron?: string;
  scheduled_at?: number;
  queue?: string;
  job_id?: string;
  attempt?: number;
}

/** Parse a request body as JSON; undefined (→ `()`) when empty, not JSON, or nested deeper than JSON_MAX_DEPTH. */
export function parseJsonBody(body: string): unknown {
  if (body === '') return undefined;
  const c = body.charCodeAt(0);
  // cheap pre-check: JSON text starts with one of { [ " - digit t f n or whitespace
  if (!(c === 123 || c === 91 || c === 34 || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110 || c <= 32)) return undefined;
  if (!jsonDepthWithin(body, JSON_MAX_DEPTH)) return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return v === null ? undefined : v;
  } catch {
    return undefined;
  }
}

/**
 * A Rhai map whose `json` is computed from a body on first read (ctx, and the map `http::fetch` returns). Every way
 * to read it (get, iteration, cloning, which iterates) computes it first; setting or removing `json` drops the
 * pending body.
 */
export class LazyJsonMap extends Map<string, Value> {
  #body: string | null = null;
  /** `json` = `()` until read; then the body parsed (checked under JSON_MAX_DEPTH) and converted. */
  setLazyJson(body: string): void {
    super.set('json', undefined);
    this.#body = body;
  }
  #force(): void {
    if (this.#body === null) return;
    const b = this.#body;
    this.#body = null;
    const j = parseJsonBody(b);
    super.set('json', j === undefined ? undefined : fromJSON(j));
  }
  override get(k: string): Value | undefined {
    if (k === 'json') this.#force();
    return super.get(k);
  }
  override set(k: string, v: Value): this {
    if (k === 'json') this.#body = null;
    return super.set(k, v);
  }
  override delete(k: string): boolean {
    if (k === 'json') this.#body = null;
    return super.delete(k);
  }
  override clear(): void {
    this.#body = null;
    super.clear();
  }
  override entries(): MapIterator<[string, Value]> {
    this.#force();
    return super.entries();
  }
  override values(): MapIterator<Value> {
    this.#force();
    return super.values();
  }
  override forEach(cb: (v: Value, k: string, m: Map<string, Value>) => void, thisArg?: unknown): void {
    this.#force();
    super.forEach(cb, thisArg);
  }
  override [Symbol.iterator](): MapIterator<[string, Value]> {
    this.#force();
    return super[Symbol.iterator]();
  }
}

/** ctx as plain data, from a job. */
export function ctxData(job: InvocationJob): CtxData {
  const t = job.target;
  if (job.kind === 'http') {
    return {
      trigger: 'http', method: job.method, path: job.path, params: job.params, query: job.query, headers: job.headers,
      body: job.body, env: t.env, app: t.app, branch: t.branch, release: t.version,
    };
  }
  if (job.kind === 'queue') {
    return {
      trigger: 'queue', method: '', path: '', params: {}, query: {}, headers: {}, body: job.body,
      env: t.env, app: t.app, branch: t.branch, release: t.version, queue: job.queue, job_id: job.jobId, attempt: job.attempt,
    };
  }
  return {
    trigger: 'schedule', method: '', path: '', params: {}, query: {}, headers: {}, body: '',
    env: t.env, app: t.app, branch: t.branch, release: t.version, cron: job.cron, scheduled_at: job.scheduledAt,
  };
}

function strMap(o: Record<string, string>): Map<string, Value> {
  const m = new Map<string, Value>();
  for (const k of Object.keys(o)) m.set(k, o[k]!);
  return m;
}

/** ctx data → the Rhai object map the script sees (`json` computed from `body` when first read). */
export function ctxValue(d: CtxData): Value {
  const m = new LazyJsonMap();
  m.set('trigger', d.trigger);
  m.set('method', d.method);
  m.set('path', d.path);
  m.set('params', strMap(d.params));
  m.set('query', strMap(d.query));
  m.set('headers', strMap(d.headers));
  m.set('body', d.body);
  m.setLazyJson(d.body);
  m.set('env', strMap(d.env));
  m.set('app', d.app);
  m.set('branch', d.branch);
  m.set('release', d.release);
  if (d.cron !== undefined) m.set('cron', d.cron);
  if (d.scheduled_at !== undefined) m.set('scheduled_at', d.scheduled_at);
  if (d.queue !== undefined) m.set('queue', d.queue);
  if (d.job_id !== undefined) m.set('job_id', d.job_id);
  if (d.attempt !== undefined) m.set('attempt', d.attempt);
  return m;
}

/** The `ctx` value for a job. */
export function buildCtx(job: InvocationJob): Value {
  return ctxValue(ctxData(job));
}
