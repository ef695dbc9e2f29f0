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
  const r = new ManifestReader(doc, scanTomlPositions(source), diagnostics);
  r.unknownKeys(doc, '', ['app', 'env', 'routes', 'schedules', 'queues', 'limits', 'fetch', 'preview']);
  const productionBranch = readApp(r);
  const env = readEnv(r);
  const limits = readLimits(r);
  const fetch = readFetch(r);
  const routes = readRoutes(r);
  routeConflicts(routes, diagnostics);
  const schedules = readSchedules(r);
  const queues = readQueues(r);
  const previewSchedules = readPreview(r);
  const kept = diagnostics.items.sort((a, b) => a.line - b.line || a.col - b.col);
  return { manifest: { productionBranch, env, limits, fetch, routes, schedules, queues, previewSchedules }, diagnostics: kept, more: diagnostics.more };
}

/** One parsed picloud.toml and its key positions: typed getters that report each problem at the key (or value) at fault. */
class ManifestReader {
  constructor(
    readonly doc: Table,
    private readonly positions: Map<string, KeyPosition>,
    private readonly diagnostics: DiagnosticList,
  ) {}

  /** The position of `key` (`routes[2].path`), else of the closest enclosing key that has one. */
  posOf(key: string, value = false): Pos {
    let k = key;
    for (;;) {
      const p: KeyPosition | undefined = this.positions.get(k);
      if (p) return value ? { line: p.valueLine, col: p.valueCol } : { line: p.line, col: p.col };
      const cut = Math.max(k.lastIndexOf('.'), k.lastIndexOf('['));
      if (cut <= 0) return { line: 1, col: 1 };
      k = k.slice(0, cut);
    }
  }

  err(key: string, message: string, value = false): void {
    this.diagnostics.push({ path: MANIFEST_PATH, ...this.posOf(key, value), message });
  }

  unknownKeys(t: Table, prefix: string, allowed: string[]): void {
    for (const k of Object.keys(t)) {
      if (!allowed.includes(k)) {
        const where = prefix ? `${prefix}.${k}` : k;
        this.err(where, `unknown key "${where.replace(/\[\d+\]/g, '')}"${prefix ? ` in [${prefix.replace(/\[\d+\]$/, '')}]` : ''} (allowed: ${allowed.join(', ')})`);
      }
    }
  }

  /** `[key]`: the table, null when absent or not a table (reported). */
  table(key: string): Table | null {
    const v = this.doc[key];
    if (v === undefined) return null;
    if (!isTable(v)) {
      this.err(key, `[${key}] must be a table`);
      return null;
    }
    return v;
  }

  /** `[[key]]`: its tables, none when absent or malformed (reported). */
  arrayOfTables(key: string): Table[] {
    const v = this.doc[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every(isTable)) {
      this.err(key, `"${key}" must be an array of tables ([[${key}]])`);
      return [];
    }
    return v as Table[];
  }

  str(t: Table, prefix: string, key: string, required: boolean): string | null {
    const v = t[key];
    if (v === undefined) {
      if (required) this.err(prefix, `[${prefix.replace(/\[\d+\]$/, '')}] entry is missing required key "${key}"`);
      return null;
    }
    if (typeof v !== 'string') {
      this.err(`${prefix}.${key}`, `"${key}" must be a string`, true);
      return null;
    }
    return v;
  }

  /** The optional `function` key: a Rhai identifier. */
  fnName(t: Table, prefix: string): string | null {
    const f = this.str(t, prefix, 'function', false);
    if (f !== null && !IDENT_RE.test(f)) {
      this.err(`${prefix}.function`, `"function" must be a function name, got "${f}"`, true);
      return null;
    }
    return f;
  }

  bool(t: Table, prefix: string, key: string): boolean | null {
    const v = t[key];
    if (v === undefined) return null;
    if (typeof v !== 'boolean') {
      this.err(`${prefix}.${key}`, `"${key}" must be true or false`, true);
      return null;
    }
    return v;
  }

  /** An optional integer in [min, max]: its value, null when absent, false when invalid (reported). */
  posInt(t: Table, prefix: string, key: string, max: number, min: number): number | null | false {
    const v = t[key];
    if (v === undefined) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      this.err(`${prefix}.${key}`, `"${key}" must be an integer ≥ ${min}`, true);
      return false;
    }
    if (v > max) {
      this.err(`${prefix}.${key}`, `"${key}" = ${v} is over the maximum ${max}`, true);
      return false;
    }
    return v;
  }
}

/** `[app] production_branch`, null when not set (or invalid, reported). */
function readApp(r: ManifestReader): string | null {
  const app = r.table('app');
  if (!app) return null;
  r.unknownKeys(app, 'app', ['production_branch']);
  const productionBranch = r.str(app, 'app', 'production_branch', false);
  if (productionBranch !== null && !isBranchName(productionBranch)) {
    r.err('app.production_branch', `invalid branch name "${productionBranch}"`, true);
    return null;
  }
  return productionBranch;
}

function readEnv(r: ManifestReader): Record<string, string> {
  // no prototype: an env name __proto__ is a plain key (an assignment on {} would set the prototype instead)
  const env = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(r.table('env') ?? {})) {
    if (!ENV_KEY_RE.test(k)) r.err(`env.${k}`, `invalid env name "${k}" (letters, digits and _, not starting with a digit)`);
    else if (typeof v !== 'string') r.err(`env.${k}`, `env value "${k}" must be a string`, true);
    else env[k] = v;
  }
  return env;
}

function readLimits(r: ManifestReader): AppLimits {
  const limits: AppLimits = {};
  const t = r.table('limits');
  if (!t) return limits;
  r.unknownKeys(t, 'limits', Object.keys(LIMIT_KEYS));
  for (const [k, v] of Object.entries(t)) {
    const name = LIMIT_KEYS[k];
    if (!name) continue;
    const max = PLATFORM_LIMITS[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) r.err(`limits.${k}`, `"${k}" must be a positive integer`, true);
    else if (v > max) r.err(`limits.${k}`, `"${k}" = ${v} is over the platform maximum ${max}`, true);
    else limits[name] = v;
  }
  return limits;
}

function readFetch(r: ManifestReader): AppFetch {
  const fetch: AppFetch = {};
  const f = r.table('fetch');
  if (!f) return fetch;
  r.unknownKeys(f, 'fetch', ['allow', 'max_requests', 'timeout_ms']);
  if (f.allow !== undefined) {
    if (!Array.isArray(f.allow) || !f.allow.every((x) => typeof x === 'string')) r.err('fetch.allow', '"allow" must be an array of strings ("host" or "host:port")', true);
    else {
      const problems = (f.allow as string[]).map(checkAllowEntry).filter((p) => p !== null);
      for (const p of problems) r.err('fetch.allow', p, true);
      // lower-case, a bare IPv6 address in brackets: the form executor/fetch.ts compares URL hosts with
      if (problems.length === 0) fetch.allow = (f.allow as string[]).map((x) => (isIP(x) === 6 ? `[${x}]` : x).toLowerCase());
    }
  }
  const int = (key: 'max_requests' | 'timeout_ms', max: number): number | undefined => {
    const v = f[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) r.err(`fetch.${key}`, `"${key}" must be a positive integer`, true);
    else if (v > max) r.err(`fetch.${key}`, `"${key}" = ${v} is over the platform maximum ${max}`, true);
    else return v;
    return undefined;
  };
  const maxRequests = int('max_requests', FETCH_LIMITS.maxRequestsCap);
  if (maxRequests !== undefined) fetch.maxRequests = maxRequests;
  const timeoutMs = int('timeout_ms', PLATFORM_LIMITS.timeoutMs);
  if (timeoutMs !== undefined) fetch.timeoutMs = timeoutMs;
  return fetch;
}

/** A route's `method`: GET when absent, upper-case and deduplicated, ['*'] for any; null when invalid (reported). */
function readMethods(r: ManifestReader, t: Table, prefix: string): string[] | null {
  const m = t.method;
  if (m === undefined) return ['GET'];
  const list = typeof m === 'string' ? [m] : Array.isArray(m) && m.every((x) => typeof x === 'string') ? (m as string[]) : null;
  if (!list || list.length === 0) {
    r.err(`${prefix}.method`, '"method" must be a string or a non-empty array of strings', true);
    return null;
  }
  const methods: string[] = [];
  for (const raw of list) {
    const up = raw.toUpperCase();
    if (up !== '*' && !(HTTP_METHODS as readonly string[]).includes(up)) {
      r.err(`${prefix}.method`, `unknown HTTP method "${raw}" (allowed: ${HTTP_METHODS.join(', ')}, or "*")`, true);
      return null;
    }
    if (!methods.includes(up)) methods.push(up);
  }
  return methods.includes('*') ? ['*'] : methods;
}

function readRoutes(r: ManifestReader): RouteSpec[] {
  const routes: RouteSpec[] = [];
  r.arrayOfTables('routes').forEach((t, idx) => {
    const prefix = `routes[${idx}]`;
    r.unknownKeys(t, prefix, ['path', 'method', 'script', 'function']);
    const p = r.str(t, prefix, 'path', true);
    const script = r.str(t, prefix, 'script', true);
    const fn = r.fnName(t, prefix);
    const methods = readMethods(r, t, prefix);
    if (p !== null) {
      const problem = checkRoutePath(p);
      if (problem) r.err(`${prefix}.path`, problem, true);
    }
    if (p !== null && script !== null && methods) {
      routes.push({
        path: p,
        methods,
        script,
        function: fn,
        at: { entry: r.posOf(prefix), path: r.posOf(`${prefix}.path`, true), script: r.posOf(`${prefix}.script`, true), function: r.posOf(`${prefix}.function`, true) },
      });
    }
  });
  return routes;
}

function readSchedules(r: ManifestReader): ScheduleSpec[] {
  const schedules: ScheduleSpec[] = [];
  r.arrayOfTables('schedules').forEach((t, idx) => {
    const prefix = `schedules[${idx}]`;
    r.unknownKeys(t, prefix, ['cron', 'script', 'function', 'overlap']);
    const cron = r.str(t, prefix, 'cron', true);
    const script = r.str(t, prefix, 'script', true);
    const fn = r.fnName(t, prefix);
    const overlap = r.bool(t, prefix, 'overlap');
    if (cron !== null) {
      const problem = checkCron(cron);
      if (problem) r.err(`${prefix}.cron`, problem, true);
    }
    if (cron !== null && script !== null) {
      schedules.push({
        cron,
        script,
        function: fn,
        overlap: overlap ?? false,
        at: { entry: r.posOf(prefix), cron: r.posOf(`${prefix}.cron`, true), script: r.posOf(`${prefix}.script`, true), function: r.posOf(`${prefix}.function`, true) },
      });
    }
  });
  return schedules;
}

function readQueues(r: ManifestReader): QueueSpec[] {
  const queues: QueueSpec[] = [];
  const queueAt = new Map<string, number>();
  r.arrayOfTables('queues').forEach((t, idx) => {
    const prefix = `queues[${idx}]`;
    r.unknownKeys(t, prefix, ['name', 'script', 'function', 'attempts', 'backoff_ms', 'concurrency']);
    const name = r.str(t, prefix, 'name', true);
    const script = r.str(t, prefix, 'script', true);
    const fn = r.fnName(t, prefix);
    const attempts = r.posInt(t, prefix, 'attempts', QUEUE_MAX.attempts, 1);
    const backoffMs = r.posInt(t, prefix, 'backoff_ms', QUEUE_MAX.backoffMs, 0);
    const concurrency = r.posInt(t, prefix, 'concurrency', QUEUE_MAX.concurrency, 1);
    let nameOk = name !== null;
    if (name !== null && !QUEUE_NAME_RE.test(name)) {
      r.err(`${prefix}.name`, `invalid queue name "${name}" (${QUEUE_NAME_RE.source}: lower-case letter, then up to 30 of a-z 0-9 _ -)`, true);
      nameOk = false;
    } else if (name !== null && queueAt.has(name)) {
      r.err(`${prefix}.name`, `queue "${name}" is declared twice (first at line ${queueAt.get(name)})`, true);
      nameOk = false;
    }
    if (name !== null && nameOk) queueAt.set(name, r.posOf(`${prefix}.name`, true).line);
    if (nameOk && script !== null && attempts !== false && backoffMs !== false && concurrency !== false) {
      queues.push({
        name: name!,
        script,
        function: fn,
        attempts: attempts ?? QUEUE_DEFAULTS.attempts,
        backoffMs: backoffMs ?? QUEUE_DEFAULTS.backoffMs,
        concurrency: concurrency ?? QUEUE_DEFAULTS.concurrency,
        at: { entry: r.posOf(prefix), name: r.posOf(`${prefix}.name`, true), script: r.posOf(`${prefix}.script`, true), function: r.posOf(`${prefix}.function`, true) },
      });
    }
  });
  return queues;
}

/** `[preview] schedules`: false unless set. */
function readPreview(r: ManifestReader): boolean {
  const t = r.table('preview');
  if (!t) return false;
  r.unknownKeys(t, 'preview', ['schedules']);
  return r.bool(t, 'preview', 'schedules') ?? false;
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
