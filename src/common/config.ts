/**
 * The one config module: reads the environment once, validates, returns a deep-frozen object.
 * Only src/cli reads it; everything else receives the values it needs as parameters.
 *
 * Variables (architecture.md §2): PORT (8080), HOST (127.0.0.1), PICLOUD_HOME (./.picloud),
 * PICLOUD_DOMAIN (localhost), DATABASE_URL (unset → embedded PostgreSQL), REDIS_URL (unset → in-process pool),
 * PICLOUD_LOG_LEVEL (info), PICLOUD_EXECUTORS (executor threads of a pool: the cores + 1), PICLOUD_APP_SHARE
 * (threads one app may hold at once in a pool: all but one), PICLOUD_APP_QUEUE (invocations of one app waiting
 * for a thread before 503 APP_BUSY: 256), PICLOUD_METRICS_PUBLIC (0: /metrics needs a token), PICLOUD_LANES and
 * PICLOUD_LANES_ADVERTISE (Redis mode: the orchestrator's direct lanes to executors, src/queue/lanes.ts);
 * PICLOUD_FAULT (test-only fault injection, src/common/fault.ts).
 */
import os from 'node:os';
import path from 'node:path';
import { AppError } from './errors.ts';
import { parseFault, type Fault } from './fault.ts';

/** Platform maxima for per-app `[limits]` in picloud.toml (apps may lower, never raise, these). */
export const PLATFORM_LIMITS = Object.freeze({
  maxOperations: 10_000_000,
  timeoutMs: 30_000,
  maxBodyBytes: 10 * 1024 * 1024,
  maxStringSize: 16 * 1024 * 1024,
  maxArraySize: 1_000_000,
  maxMapSize: 1_000_000,
  maxCallLevels: 64,
  /** `[limits] concurrency`: invocations of the app running at once per executor pool (the pool's share caps it) */
  concurrency: 1024,
});

/** Defaults for an app that sets no `[limits]`. */
export const DEFAULT_APP_LIMITS = Object.freeze({
  maxOperations: 1_000_000,
  timeoutMs: 5_000,
  maxBodyBytes: 1024 * 1024,
});

/** Platform limits of `http::fetch` (architecture.md §6); an app's `[fetch]` may lower, never raise them. */
export const FETCH_LIMITS = Object.freeze({
  /** default `[fetch] max_requests`: fetches per invocation */
  maxRequests: 50,
  /** platform cap on `[fetch] max_requests` */
  maxRequestsCap: 1000,
  /** default `[fetch] timeout_ms`: per fetch (never past the invocation's own deadline) */
  timeoutMs: 10_000,
  /** a response body over this is FETCH_LIMIT */
  maxResponseBytes: 5 * 1024 * 1024,
  maxRedirects: 5,
  /** fetches in flight at once per executor process (shared out among its threads) */
  maxConcurrent: 512,
});

/** Push-time limits (architecture.md §3: size limits, file and total). */
export const PUSH_LIMITS = Object.freeze({
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 16 * 1024 * 1024,
  maxFiles: 2_000,
});

/**
 * Budget of one push's validation and compilation, which run in a worker thread of their own: past the time or
 * the heap the worker is terminated and the push is rejected with a clear message; the server serves on.
 */
export const VALIDATION_BUDGET = Object.freeze({
  timeoutMs: 30_000,
  maxHeapMb: 256,
});

/**
 * Preloading a release before it goes live (deploy/preload.ts): the switch waits at most this long for every node
 * with executors to say it has loaded and compiled the release's programs; a slower node then starts cold.
 */
export const PRELOAD_WAIT_MS = 2_000;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly home: string;
  readonly domain: string;
  /** null = run embedded PostgreSQL under `home` */
  readonly databaseUrl: string | null;
  /** null = in-process executor pool, no Redis */
  readonly redisUrl: string | null;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** executor workers (threads in embedded mode, processes with Redis) */
  readonly executors: number;
  /** a request's headers and body must arrive within this (ms), else 408; the headers within min(this, 30 s) */
  readonly requestTimeoutMs: number;
  /** `/metrics` answers without a token (PICLOUD_METRICS_PUBLIC=1); by default it needs one (any role) */
  readonly metricsPublic: boolean;
  /**
   * `picloud executor`'s health listener (/healthz, /readyz, /metrics) on HOST:this port
   * (PICLOUD_EXECUTOR_PORT, or `--port`); null = none (the default)
   */
  readonly executorPort: number | null;
  /** threads one app may hold at once in an executor pool; null = the pool's threads − 1 (at least 1) */
  readonly appShare: number | null;
  /** invocations of one app allowed to wait for a thread, per pool, before 503 APP_BUSY */
  readonly appQueue: number;
  /**
   * Redis mode: where an orchestrator listens for its executors' direct lanes (PICLOUD_LANES: `off`, `<port>`,
   * `<host>:<port>`; default 127.0.0.1 on a free port) and the host they dial (PICLOUD_LANES_ADVERTISE); null = off
   * (every invocation goes over the Redis lists)
   */
  readonly lanes: LaneListen | null;
  /** test-only: SIGKILL the process at this step of a push (PICLOUD_FAULT, src/common/fault.ts); null = never */
  readonly fault: Fault | null;
  /** derived paths */
  readonly paths: { readonly repos: string; readonly pgdata: string; readonly adminTokenFile: string };
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Where an orchestrator's lane listener binds, and what address executors are told to dial. */
export interface LaneListen {
  host: string;
  port: number;
  /** host executors dial (default: `host`, or this machine's first non-internal IPv4 address if `host` is a wildcard) */
  advertise?: string;
}

/** Parse `PICLOUD_LANES`: `off`, `<port>`, `<host>:<port>` or `[<ipv6>]:<port>`. Returns an error message on a bad value. */
function parseLaneListen(raw: string | undefined, advertise?: string): LaneListen | null | string {
  const v = (raw ?? '').trim();
  if (v === '') return { host: '127.0.0.1', port: 0, ...(advertise ? { advertise } : {}) };
  if (v === 'off' || v === '0') return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v) ?? /^()()(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return `PICLOUD_LANES must be off, <port>, <host>:<port> or [<ipv6>]:<port>, got "${v}"`;
  return { host: m[1] || m[2] || '127.0.0.1', port, ...(advertise ? { advertise } : {}) };
}

/** Build the config from an environment (default: process.env) and overrides (from CLI flags). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Pick<Config, 'port' | 'executors' | 'host' | 'executorPort'>> = {}): Config {
  const problems: string[] = [];
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
      return def;
    }
    return n;
  };
  const port = overrides.port ?? int('PORT', 8080, 0, 65535);
  // one thread more than the cores: with the per-app share (threads − 1) a single busy app still uses every core,
  // and another app always finds a thread
  const executors = overrides.executors ?? int('PICLOUD_EXECUTORS', Math.min(64, defaultThreads()), 1, 64);
  const appShareRaw = int('PICLOUD_APP_SHARE', 0, 0, 1024);
  const appQueue = int('PICLOUD_APP_QUEUE', 256, 0, 1_000_000);
  const host = overrides.host ?? (env.HOST || '127.0.0.1');
  const home = path.resolve(env.PICLOUD_HOME || '.picloud');
  const domain = (env.PICLOUD_DOMAIN || 'localhost').toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(domain)) problems.push(`PICLOUD_DOMAIN must be a host name, got "${domain}"`);
  const databaseUrl = env.DATABASE_URL || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must be a postgres:// URL');
  const redisUrl = env.REDIS_URL || null;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL must be a redis:// URL');
  const bool = (name: string): boolean => {
    const raw = (env[name] ?? '').toLowerCase();
    if (raw === '' || raw === '0' || raw === 'false') return false;
    if (raw === '1' || raw === 'true') return true;
    problems.push(`${name} must be 1 or 0, got "${env[name]}"`);
    return false;
  };
  const metricsPublic = bool('PICLOUD_METRICS_PUBLIC');
  const executorPortRaw = env.PICLOUD_EXECUTOR_PORT ? int('PICLOUD_EXECUTOR_PORT', 0, 0, 65535) : null;
  const requestTimeoutMs = int('PICLOUD_REQUEST_TIMEOUT_MS', 120_000, 500, 3_600_000);
  const logLevel = (env.PICLOUD_LOG_LEVEL || 'info') as Config['logLevel'];
  if (!LEVELS.includes(logLevel)) problems.push(`PICLOUD_LOG_LEVEL must be one of ${LEVELS.join(', ')}`);
  const lanes = parseLaneListen(env.PICLOUD_LANES, env.PICLOUD_LANES_ADVERTISE || undefined);
  if (typeof lanes === 'string') problems.push(lanes);
  const fault = parseFault(env.PICLOUD_FAULT);
  if (typeof fault === 'string') problems.push(fault);
  if (problems.length) throw new AppError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { problems });
  return deepFreeze({
    port,
    host,
    home,
    domain,
    databaseUrl,
    redisUrl,
    logLevel,
    executors,
    metricsPublic,
    executorPort: overrides.executorPort !== undefined ? overrides.executorPort : executorPortRaw,
    requestTimeoutMs,
    appShare: appShareRaw === 0 ? null : appShareRaw,
    appQueue,
    lanes: typeof lanes === 'string' ? null : lanes,
    fault: typeof fault === 'string' ? null : fault,
    paths: {
      repos: path.join(home, 'repos'),
      pgdata: path.join(home, 'pgdata'),
      adminTokenFile: path.join(home, 'admin-token'),
    },
  });
}

/** Default executor threads of a pool: the cores + 1 (see PICLOUD_EXECUTORS). */
export function defaultThreads(): number {
  return os.availableParallelism() + 1;
}

