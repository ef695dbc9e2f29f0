/**
 * The script's `ctx` (architecture.md §6, api 1): built from an invocation job as plain JSON-able data
 * (`ctxData`) and converted to Rhai values (`buildCtx`). Fields: trigger, method, path, params, query, headers
 * (lower-case keys), body, json (parsed body or ()), env, app, branch, release (int); schedules add cron and
 * scheduled_at (unix ms).
 */
import { fromJSON, type Value } from '../rhai/index.ts';
import type { InvocationJob } from '../queue/jobs.ts';

export interface CtxData {
  trigger: 'http' | 'schedule';
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  json: unknown;
  env: Record<string, string>;
  app: string;
  branch: string;
  release: number;
  cron?: string;
  scheduled_at?: number;
}

/** Parse a request body as JSON; undefined (→ `()`) when empty or not JSON. */
export function parseJsonBody(body: string): unknown {
  if (body === '') return undefined;
  const c = body.charCodeAt(0);
  // cheap pre-check: JSON text starts with one of { [ " - digit t f n or whitespace
  if (!(c === 123 || c === 91 || c === 34 || c === 45 || (c >= 48 && c <= 57) || c === 116 || c === 102 || c === 110 || c <= 32)) return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return v === null ? undefined : v;
  } catch {
    return undefined;
  }
}

/** ctx as plain data, from a job. */
export function ctxData(job: InvocationJob): CtxData {
  const t = job.target;
  if (job.kind === 'http') {
    return {
      trigger: 'http', method: job.method, path: job.path, params: job.params, query: job.query, headers: job.headers,
      body: job.body, json: parseJsonBody(job.body), env: t.env, app: t.app, branch: t.branch, release: t.version,
    };
  }
  return {
    trigger: 'schedule', method: '', path: '', params: {}, query: {}, headers: {}, body: '', json: undefined,
    env: t.env, app: t.app, branch: t.branch, release: t.version, cron: job.cron, scheduled_at: job.scheduledAt,
  };
}

function strMap(o: Record<string, string>): Map<string, Value> {
  const m = new Map<string, Value>();
  for (const k of Object.keys(o)) m.set(k, o[k]!);
  return m;
}

/** ctx data → the Rhai object map the script sees. */
export function ctxValue(d: CtxData): Value {
  const m = new Map<string, Value>();
  m.set('trigger', d.trigger);
  m.set('method', d.method);
  m.set('path', d.path);
  m.set('params', strMap(d.params));
  m.set('query', strMap(d.query));
  m.set('headers', strMap(d.headers));
  m.set('body', d.body);
  m.set('json', d.json === undefined ? undefined : fromJSON(d.json));
  m.set('env', strMap(d.env));
  m.set('app', d.app);
  m.set('branch', d.branch);
  m.set('release', d.release);
  if (d.cron !== undefined) m.set('cron', d.cron);
  if (d.scheduled_at !== undefined) m.set('scheduled_at', d.scheduled_at);
  return m;
}

/** The `ctx` value for a job. */
export function buildCtx(job: InvocationJob): Value {
  return ctxValue(ctxData(job));
}
