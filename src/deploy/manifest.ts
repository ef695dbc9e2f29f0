/**
 * picloud.toml: parse and validate against the schema of architecture.md §5. Every problem is reported with the
 * line and column of the key or value at fault (unknown keys are errors). Script existence, arity and the tree
 * itself are checked by validate.ts; this module only knows the TOML.
 */
import { parse, TomlError } from 'smol-toml';
import { isIP } from 'node:net';
import { FETCH_LIMITS, PLATFORM_LIMITS } from '../common/config.ts';
import { checkCron } from '../common/cron.ts';
import { DiagnosticList, type DeployDiagnostic } from './diagnostics.ts';
import { scanTomlPositions, type KeyPosition } from './toml-positions.ts';

export const MANIFEST_PATH = 'picloud.toml';
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

export interface Pos {
  line: number;
  col: number;
}

export interface RouteSpec {
  path: string;
  /** upper-case; ['*'] = any */
  methods: string[];
  script: string;
  function: string | null;
  at: { entry: Pos; path: Pos; script: Pos; function: Pos };
}

export interface ScheduleSpec {
  cron: string;
  script: string;
  function: string | null;
  /** false (default): a tick due while the previous run is still running is skipped (and recorded) */
  overlap: boolean;
  at: { entry: Pos; cron: Pos; script: Pos; function: Pos };
}

/** `[[queues]]`: a handler for values sent with queue::send (architecture.md §5). */
export interface QueueSpec {
  name: string;
  script: string;
  function: string | null;
  /** tries before the job becomes a dead letter (1 = never retried) */
  attempts: number;
  /** delay before the 2nd try, doubled for each later one */
  backoffMs: number;
  /** jobs of this queue running at once, platform-wide */
  concurrency: number;
  at: { entry: Pos; name: Pos; script: Pos; function: Pos };
}

export const QUEUE_NAME_RE = /^[a-z][a-z0-9_-]{0,30}$/;
export const QUEUE_DEFAULTS = { attempts: 3, backoffMs: 1000, concurrency: 4 } as const;
/** upper bounds of the [[queues]] numbers */
export const QUEUE_MAX = { attempts: 100, backoffMs: 86_400_000, concurrency: 256 } as const;

/** `[limits]` in camelCase, only the keys the app set (capped by PLATFORM_LIMITS). */
export type AppLimits = Partial<Record<keyof typeof PLATFORM_LIMITS, number>>;

/** `[fetch]` in camelCase, only the keys the app set (allow entries lower-cased). */
export interface AppFetch {
  allow?: string[];
  maxRequests?: number;
  timeoutMs?: number;
}

export interface Manifest {
  productionBranch: string | null;
  env: Record<string, string>;
  limits: AppLimits;
  fetch: AppFetch;
  routes: RouteSpec[];
  schedules: ScheduleSpec[];
  queues: QueueSpec[];
  /** `[preview] schedules`: previews run [[schedules]] only when true */
  previewSchedules: boolean;
}

const LIMIT_KEYS: Record<string, keyof typeof PLATFORM_LIMITS> = {
  max_operations: 'maxOperations',
  timeout_ms: 'timeoutMs',
  max_body_bytes: 'maxBodyBytes',
  max_string_size: 'maxStringSize',
  max_array_size: 'maxArraySize',
  max_map_size: 'maxMapSize',
  max_call_levels: 'maxCallLevels',
  concurrency: 'concurrency',
};

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SEGMENT_RE = /^[A-Za-z0-9._~!$&'()+,;=@%-]+$/;

/** A branch name git would accept as a ref and we can slug. */
const isBranchName = (b: string): boolean => /^[A-Za-z0-9._/-]+$/.test(b) && !b.startsWith('/') && !b.includes('..') && !b.endsWith('/');

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

const HOST_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST_RE = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

/** A `[fetch] allow` entry: `host`, `host:port`, an IP address, or `[ipv6]:port`. Returns a problem or null. */
export function checkAllowEntry(entry: string): string | null {
  const e = entry.toLowerCase();
  if (isIP(e) === 6) return null;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(e);
  const bad = `invalid [fetch] allow entry "${entry}": expected a host name or IP address, optionally with :port`;
  if (!m) return bad;
  const host = m[1]!;
  if (host.startsWith('[') ? isIP(host.slice(1, -1)) !== 6 : !(isIP(host) === 4 || HOST_RE.test(host))) return bad;
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return `invalid [fetch] allow entry "${entry}": port must be 1..65535`;
  return null;
}

/** Route path syntax: `/a/:p/*`. Returns a problem or null. */
export function checkRoutePath(p: string): string | null {
  if (!p.startsWith('/')) return `route path "${p}" must start with "/"`;
  if (p === '/') return null;
  const segs = p.slice(1).split('/');
  const names = new Set<string>();
  for (let k = 0; k < segs.length; k++) {
    const s = segs[k]!;
    if (s === '' && k === segs.length - 1) continue; // trailing slash
    if (s === '') return `route path "${p}" has an empty segment`;
    if (s === '*') {
      if (k !== segs.length - 1) return `route path "${p}": "*" is allowed only as the last segment`;
      continue;
    }
    if (s.startsWith(':')) {
      const name = s.slice(1);
      if (!IDENT_RE.test(name)) return `route path "${p}": invalid parameter name "${name}"`;
      if (names.has(name)) return `route path "${p}": duplicate parameter ":${name}"`;
      names.add(name);
      continue;
    }
    if (s === '.' || s === '..') return `route path "${p}": "${s}" segments are not allowed`;
    if (!SEGMENT_RE.test(s)) return `route path "${p}": invalid characters in segment "${s}"`;
  }
  return null;
}

/** The shape used to detect conflicts: params → ':', trailing slash ignored. */
export const normaliseRoutePath = (p: string): string =>
  (p.length > 1 ? p.replace(/\/$/, '') : p)
    .split('/')
    .map((s) => (s.startsWith(':') ? ':' : s))
    .join('/');

export { checkCron };

/**
 * Parse and validate picloud.toml. The manifest is returned whenever the TOML parsed (with the entries that were
 * well-formed), so later checks (scripts, functions) still run; it is valid only when `diagnostics` is empty.
 */
export function parseManifest(source: string): { manifest: Manifest | null; diagnostics: DeployDiagnostic[]; more: number } {
  const diagnostics = new DiagnosticList();
  let doc: Table;
  try {
    doc = parse(source) as Table;
  } catch (e) {
    if (e instanceof TomlError) {
      const msg = e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      diagnostics.push({ path: MANIFEST_PATH, line: e.line || 1, col: e.column || 1, message: `TOML syntax error: ${msg}` });
    } else diagnostics.push({ path: MANIFEST_PATH, line: 1, col: 1, message: `TOML syntax error: ${(e as Error).message}` });
    return { manifest: null, diagnostics: diagnostics.items, more: 0 };
  }
  const positions = scanTomlPositions(source);
  const posOf = (key: string, value = false): Pos => {
    // fall back to the closest enclosing key that has a position
    let k = key;
    for (;;) {
      const p: KeyPosition | undefined = positions.get(k);
      if (p) return value ? { line: p.valueLine, col: p.valueCol } : { line: p.line, col: p.col };
      const cut = Math.max(k.lastIndexOf('.'), k.lastIndexOf('['));
      if (cut <= 0) return { line: 1, col: 1 };
      k = k.slice(0, cut);
    }
  };
  const err = (key: string, message: string, value = false) => diagnostics.push({ path: MANIFEST_PATH, ...posOf(key, value), message });
  const unknownKeys = (t: Table, prefix: string, allowed: string[]) => {
    for (const k of Object.keys(t)) {
      if (!allowed.includes(k)) {
        const where = prefix ? `${prefix}.${k}` : k;
        err(where, `unknown key "${where.replace(/\[\d+\]/g, '')}"${prefix ? ` in [${prefix.replace(/\[\d+\]$/, '')}]` : ''} (allowed: ${allowed.join(', ')})`);
      }
    }
  };
  const str = (t: Table, prefix: string, key: string, required: boolean): string | null => {
    const v = t[key];
    if (v === undefined) {
      if (required) err(prefix, `[${prefix.replace(/\[\d+\]$/, '')}] entry is missing required key "${key}"`);
      return null;
    }
    if (typeof v !== 'string') {
      err(`${prefix}.${key}`, `"${key}" must be a string`, true);
      return null;
    }
    return v;
  };
  const fnName = (t: Table, prefix: string): string | null => {
    const f = str(t, prefix, 'function', false);
    if (f !== null && !IDENT_RE.test(f)) {
      err(`${prefix}.function`, `"function" must be a function name, got "${f}"`, true);
      return null;
    }
    return f;
  };
  const bool = (t: Table, prefix: string, key: string): boolean | null => {
    const v = t[key];
    if (v === undefined) return null;
    if (typeof v !== 'boolean') {
      err(`${prefix}.${key}`, `"${key}" must be true or false`, true);
      return null;
    }
    return v;
  };
  /** an optional integer in [min, max]: its value, null when absent, false when invalid (reported) */
  const posInt = (t: Table, prefix: string, key: string, max: number, min: number): number | null | false => {
    const v = t[key];
    if (v === undefined) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      err(`${prefix}.${key}`, `"${key}" must be an integer ≥ ${min}`, true);
      return false;
    }
    if (v > max) {
      err(`${prefix}.${key}`, `"${key}" = ${v} is over the maximum ${max}`, true);
      return false;
    }
    return v;
  };
  const arrayOfTables = (key: string): Table[] => {
    const v = doc[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every(isTable)) {
      err(key, `"${key}" must be an array of tables ([[${key}]])`);
      return [];
    }
    return v as Table[];
  };

  unknownKeys(doc, '', ['app', 'env', 'routes', 'schedules', 'queues', 'limits', 'fetch', 'preview']);

  let productionBranch: string | null = null;
  if (doc.app !== undefined) {
    if (!isTable(doc.app)) err('app', '[app] must be a table');
    else {
      unknownKeys(doc.app, 'app', ['production_branch']);
      productionBranch = str(doc.app, 'app', 'production_branch', false);
      if (productionBranch !== null && !isBranchName(productionBranch)) {
        err('app.production_branch', `invalid branch name "${productionBranch}"`, true);
        productionBranch = null;
      }
    }
  }

  // no prototype: an env name __proto__ is a plain key (an assignment on {} would set the prototype instead)
  const env = Object.create(null) as Record<string, string>;
  if (doc.env !== undefined) {
    if (!isTable(doc.env)) err('env', '[env] must be a table');
    else {
      for (const [k, v] of Object.entries(doc.env)) {
        if (!ENV_KEY_RE.test(k)) err(`env.${k}`, `invalid env name "${k}" (letters, digits and _, not starting with a digit)`);
        else if (typeof v !== 'string') err(`env.${k}`, `env value "${k}" must be a string`, true);
        else env[k] = v;
      }
    }
  }

  const limits: AppLimits = {};
  if (doc.limits !== undefined) {
    if (!isTable(doc.limits)) err('limits', '[limits] must be a table');
    else {
      unknownKeys(doc.limits, 'limits', Object.keys(LIMIT_KEYS));
      for (const [k, v] of Object.entries(doc.limits)) {
        const name = LIMIT_KEYS[k];
        if (!name) continue;
        const max = PLATFORM_LIMITS[name];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) err(`limits.${k}`, `"${k}" must be a positive integer`, true);
        else if (v > max) err(`limits.${k}`, `"${k}" = ${v} is over the platform maximum ${max}`, true);
        else limits[name] = v;
      }
    }
  }

  const fetch: AppFetch = {};
  if (doc.fetch !== undefined) {
    if (!isTable(doc.fetch)) err('fetch', '[fetch] must be a table');
    else {
      const f = doc.fetch;
      unknownKeys(f, 'fetch', ['allow', 'max_requests', 'timeout_ms']);
      if (f.allow !== undefined) {
        if (!Array.isArray(f.allow) || !f.allow.every((x) => typeof x === 'string')) err('fetch.allow', '"allow" must be an array of strings ("host" or "host:port")', true);
        else {
          const problems = (f.allow as string[]).map(checkAllowEntry).filter((p) => p !== null);
          for (const p of problems) err('fetch.allow', p, true);
          // lower-case, a bare IPv6 address in brackets: the form executor/fetch.ts compares URL hosts with
          if (problems.length === 0) fetch.allow = (f.allow as string[]).map((x) => (isIP(x) === 6 ? `[${x}]` : x).toLowerCase());
        }
      }
      const int = (key: 'max_requests' | 'timeout_ms', max: number): number | undefined => {
        const v = f[key];
        if (v === undefined) return undefined;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) err(`fetch.${key}`, `"${key}" must be a positive integer`, true);
        else if (v > max) err(`fetch.${key}`, `"${key}" = ${v} is over the platform maximum ${max}`, true);
        else return v;
        return undefined;
      };
      const maxRequests = int('max_requests', FETCH_LIMITS.maxRequestsCap);
      if (maxRequests !== undefined) fetch.maxRequests = maxRequests;
      const timeoutMs = int('timeout_ms', PLATFORM_LIMITS.timeoutMs);
      if (timeoutMs !== undefined) fetch.timeoutMs = timeoutMs;
    }
  }

  const routes: RouteSpec[] = [];
  arrayOfTables('routes').forEach((t, idx) => {
    const prefix = `routes[${idx}]`;
    unknownKeys(t, prefix, ['path', 'method', 'script', 'function']);
    const p = str(t, prefix, 'path', true);
    const script = str(t, prefix, 'script', true);
    const fn = fnName(t, prefix);
    let methods: string[] | null = ['GET'];
    const m = t.method;
    if (m !== undefined) {
      const list = typeof m === 'string' ? [m] : Array.isArray(m) && m.every((x) => typeof x === 'string') ? (m as string[]) : null;
      if (!list || list.length === 0) {
        err(`${prefix}.method`, '"method" must be a string or a non-empty array of strings', true);
        methods = null;
      } else {
        methods = [];
        for (const raw of list) {
          const up = raw.toUpperCase();
          if (up !== '*' && !(HTTP_METHODS as readonly string[]).includes(up)) {
            err(`${prefix}.method`, `unknown HTTP method "${raw}" (allowed: ${HTTP_METHODS.join(', ')}, or "*")`, true);
            methods = null;
            break;
          }
          if (!methods.includes(up)) methods.push(up);
        }
        if (methods?.includes('*')) methods = ['*'];
      }
    }
    if (p !== null) {
      const problem = checkRoutePath(p);
      if (problem) err(`${prefix}.path`, problem, true);
    }
    if (p !== null && script !== null && methods) {
      routes.push({
        path: p,
        methods,
        script,
        function: fn,
        at: { entry: posOf(prefix), path: posOf(`${prefix}.path`, true), script: posOf(`${prefix}.script`, true), function: posOf(`${prefix}.function`, true) },
      });
    }
  });

  routeConflicts(routes, diagnostics);

  const schedules: ScheduleSpec[] = [];
  arrayOfTables('schedules').forEach((t, idx) => {
    const prefix = `schedules[${idx}]`;
    unknownKeys(t, prefix, ['cron', 'script', 'function', 'overlap']);
    const cron = str(t, prefix, 'cron', true);
    const script = str(t, prefix, 'script', true);
    const fn = fnName(t, prefix);
    const overlap = bool(t, prefix, 'overlap');
    if (cron !== null) {
      const problem = checkCron(cron);
      if (problem) err(`${prefix}.cron`, problem, true);
    }
    if (cron !== null && script !== null) {
      schedules.push({
        cron,
        script,
        function: fn,
        overlap: overlap ?? false,
        at: { entry: posOf(prefix), cron: posOf(`${prefix}.cron`, true), script: posOf(`${prefix}.script`, true), function: posOf(`${prefix}.function`, true) },
      });
    }
  });

  const queues: QueueSpec[] = [];
  const queueAt = new Map<string, number>();
  arrayOfTables('queues').forEach((t, idx) => {
    const prefix = `queues[${idx}]`;
    unknownKeys(t, prefix, ['name', 'script', 'function', 'attempts', 'backoff_ms', 'concurrency']);
    const name = str(t, prefix, 'name', true);
    const script = str(t, prefix, 'script', true);
    const fn = fnName(t, prefix);
    const attempts = posInt(t, prefix, 'attempts', QUEUE_MAX.attempts, 1);
    const backoffMs = posInt(t, prefix, 'backoff_ms', QUEUE_MAX.backoffMs, 0);
    const concurrency = posInt(t, prefix, 'concurrency', QUEUE_MAX.concurrency, 1);
    let nameOk = name !== null;
    if (name !== null && !QUEUE_NAME_RE.test(name)) {
      err(`${prefix}.name`, `invalid queue name "${name}" (${QUEUE_NAME_RE.source}: lower-case letter, then up to 30 of a-z 0-9 _ -)`, true);
      nameOk = false;
    } else if (name !== null && queueAt.has(name)) {
      err(`${prefix}.name`, `queue "${name}" is declared twice (first at line ${queueAt.get(name)})`, true);
      nameOk = false;
    }
    if (name !== null && nameOk) queueAt.set(name, posOf(`${prefix}.name`, true).line);
    if (nameOk && script !== null && attempts !== false && backoffMs !== false && concurrency !== false) {
      queues.push({
        name: name!,
        script,
        function: fn,
        attempts: attempts ?? QUEUE_DEFAULTS.attempts,
        backoffMs: backoffMs ?? QUEUE_DEFAULTS.backoffMs,
        concurrency: concurrency ?? QUEUE_DEFAULTS.concurrency,
        at: { entry: posOf(prefix), name: posOf(`${prefix}.name`, true), script: posOf(`${prefix}.script`, true), function: posOf(`${prefix}.function`, true) },
      });
    }
  });

  let previewSchedules = false;
  if (doc.preview !== undefined) {
    if (!isTable(doc.preview)) err('preview', '[preview] must be a table');
    else {
      unknownKeys(doc.preview, 'preview', ['schedules']);
      previewSchedules = bool(doc.preview, 'preview', 'schedules') ?? false;
    }
  }

  const kept = diagnostics.items.sort((a, b) => a.line - b.line || a.col - b.col);
  return { manifest: { productionBranch, env, limits, fetch, routes, schedules, queues, previewSchedules }, diagnostics: kept, more: diagnostics.more };
}

/**
 * Conflicts: the same normalised pattern with overlapping methods. Routes are grouped by their normalised path
 * (each path normalised once), and each route is compared with the first earlier route of its group per method,
 * not with every earlier route: linear in the number of routes, at most one diagnostic per (route, method).
 */
function routeConflicts(routes: RouteSpec[], diagnostics: DiagnosticList): void {
  const groups = new Map<string, Map<string, RouteSpec>>();
  for (const ra of routes) {
    if (checkRoutePath(ra.path)) continue;
    const key = normaliseRoutePath(ra.path);
    let firstOf = groups.get(key);
    if (!firstOf) groups.set(key, (firstOf = new Map()));
    // the earlier routes this one overlaps: the first declarer of each of its methods (any, for "*"), and the first "*"
    const earlier = new Set<RouteSpec>();
    if (ra.methods.includes('*')) for (const rb of firstOf.values()) earlier.add(rb);
    else {
      for (const m of ra.methods) {
        const rb = firstOf.get(m);
        if (rb) earlier.add(rb);
      }
      const star = firstOf.get('*');
      if (star) earlier.add(star);
    }
    for (const rb of earlier) {
      if (diagnostics.full) {
        diagnostics.skip(1);
        continue;
      }
      const overlap = ra.methods.includes('*') ? rb.methods : rb.methods.includes('*') ? ra.methods : ra.methods.filter((x) => rb.methods.includes(x));
      diagnostics.push({
        path: MANIFEST_PATH,
        ...ra.at.path,
        message: `route ${overlap.join(',')} ${ra.path} conflicts with the route ${rb.path} declared at line ${rb.at.path.line}`,
      });
    }
    for (const m of ra.methods) if (!firstOf.has(m)) firstOf.set(m, ra);
  }
}
