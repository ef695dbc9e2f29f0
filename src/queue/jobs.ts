/**
 * Invocation job contract between the orchestrator (ingress, schedules) and executors, in both dispatch modes
 * (in-process worker-thread pool, BullMQ to executor processes). Payloads are plain JSON: they cross thread and
 * process boundaries. Discriminated on `kind`.
 */

/** Effective limits of one invocation (release [limits] capped by the platform maxima). */
export interface InvocationLimits {
  maxOperations: number;
  timeoutMs: number;
  maxBodyBytes: number;
  maxStringSize: number;
  maxArraySize: number;
  maxMapSize: number;
  maxCallLevels: number;
  /** threads the app may hold at once in one executor pool (`[limits] concurrency`; the pool's share caps it) */
  concurrency: number;
}

/** An app's effective `[fetch]` (defaults filled in, capped by the platform; see executor/fetch.ts). */
export interface FetchPolicy {
  /** lower-case `host` or `host:port` entries; an IPv6 host in brackets (`[fd00::1]:8080`) */
  allow: string[];
  maxRequests: number;
  timeoutMs: number;
}

/** What runs: one script (by content hash) of one live release, with its env and limits. */
export interface InvocationTarget {
  appId: number;
  app: string;
  branch: string;
  releaseId: number;
  /** release version number (v3 → 3): ctx.release */
  version: number;
  scriptPath: string;
  scriptHash: string;
  /** function to call with ctx, or null to run the whole script with `ctx` in scope */
  fn: string | null;
  env: Record<string, string>;
  limits: InvocationLimits;
  /** `[fetch]` of the release; absent = the defaults (nothing allowed beyond public addresses) */
  fetch?: FetchPolicy;
  /** the script modules this script reaches: import path → module content hash (loaded like scripts, by hash) */
  modules?: Record<string, string>;
  /** the release's `[[queues]]`: name → retry policy (queue::send checks names against it) */
  queues?: Readonly<Record<string, { attempts: number; backoffMs: number }>>;
}

export interface HttpInvocation {
  kind: 'http';
  id: string;
  target: InvocationTarget;
  /** the route pattern that matched, e.g. '/hello/:name' */
  route: string;
  method: string;
  /** path inside the app, starting with '/' */
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

export interface ScheduleInvocation {
  kind: 'schedule';
  id: string;
  target: InvocationTarget;
  cron: string;
  /** the tick's nominal time, unix ms */
  scheduledAt: number;
}

/** One try of a background job (`[[queues]]`), on the release live when the try starts. */
export interface QueueInvocation {
  kind: 'queue';
  id: string;
  target: InvocationTarget;
  queue: string;
  jobId: string;
  /** 1 for the first try */
  attempt: number;
  /** the value's JSON text */
  body: string;
}

export type InvocationJob = HttpInvocation | ScheduleInvocation | QueueInvocation;

export interface LogLine {
  /** 'fetch': one http::fetch, msg "GET host 200 12 ms" */
  level: 'print' | 'debug' | 'fetch';
  msg: string;
  /** ms since the invocation started */
  t: number;
}

/** The mapped response plus what the invocation log records. */
export interface InvocationResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  durationMs: number;
  operations: number;
  cold: boolean;
  logs: LogLine[];
  /** error text for the log (never sent as-is to clients unless it is the script's own error) */
  error: string | null;
}

/** Where an executor sends the result back (BullMQ mode: a Redis list the orchestrator BRPOPs). */
export interface ReplyEnvelope {
  id: string;
  result: InvocationResult;
}

/** A JSON error response (every error body is JSON and says what happened). */
export function errorResult(status: number, message: string, extra: Record<string, unknown> = {}, durationMs = 0): InvocationResult {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: message, ...extra }),
    durationMs,
    operations: 0,
    cold: false,
    logs: [],
    error: message,
  };
}

const targetJsonCache = new WeakMap<object, string>();

/**
 * A target's JSON, cached per frozen target object (the route table's: a job's largest part, env, limits and names,
 * encoded once per route rather than once per job); another target object could change after it was encoded.
 */
export function targetJson(t: InvocationTarget): string {
  let tj = targetJsonCache.get(t);
  if (tj === undefined) {
    tj = JSON.stringify(t);
    if (Object.isFrozen(t)) targetJsonCache.set(t, tj);
  }
  return tj;
}

/** A job's fields other than `target` as the JSON text it arrived in (see jobRestJson), when it arrived as text. */
const REST_JSON = Symbol('restJson');

/**
 * Remember `json` (the job's fields other than `target`, as received) on a decoded job, so forwarding it again (an
 * executor process passing a job from Redis to its threads) reuses the text instead of encoding the object again.
 * The job must not be changed afterwards (apart from `target`).
 */
export function keepRestJson<T extends InvocationJob>(job: T, json: string): T {
  Object.defineProperty(job, REST_JSON, { value: json, enumerable: false });
  return job;
}

/** The JSON of a job's fields other than `target`: the text it arrived in, or encoded now. */
export function jobRestJson(job: InvocationJob): string {
  const kept = (job as { [REST_JSON]?: string })[REST_JSON];
  if (kept !== undefined) return kept;
  if (job.kind === 'http') return httpRestJson(job);
  const { target: _target, ...rest } = job;
  return JSON.stringify(rest);
}

const str = JSON.stringify;

/** A string map as JSON; JSON.stringify of the (null-prototype, dictionary-mode) maps of a request is slower. */
function strMapJson(m: Record<string, string>): string {
  let out = '';
  for (const k in m) {
    const v = m[k];
    if (v !== undefined) out += `${out === '' ? '' : ','}${str(k)}:${str(v)}`;
  }
  return `{${out}}`;
}

/**
 * An HTTP job without `target`, as JSON.stringify of its fields would write it (the same keys in the same order),
 * by hand: per request, the rest-spread copy and JSON.stringify of the request's maps were ~2 µs of the thread that
 * serves HTTP, this is under half of it.
 */
function httpRestJson(j: HttpInvocation): string {
  return `{"kind":"http","id":${str(j.id)},"route":${str(j.route)},"method":${str(j.method)},"path":${str(j.path)},"params":${strMapJson(j.params)},"query":${strMapJson(j.query)},"headers":${strMapJson(j.headers)},"body":${str(j.body)}}`;
}
