/**
 * The in-memory route table: (app, branch slug) → live release, its routes (pre-compiled matchers), schedules,
 * effective env and limits. Loaded fully at start, reloaded per (app, branch) on NOTIFY 'picloud_releases'
 * and fully whenever the LISTEN connection is (re)established. Never queried per request.
 */
import type { Logger } from '../common/log.ts';
import { branchSlug } from '../common/names.ts';
import { DEFAULT_APP_LIMITS, FETCH_LIMITS, PLATFORM_LIMITS } from '../common/config.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import { loadLiveBranches, type LiveBranch, type LiveQueue, type LiveSchedule } from '../db/routing.ts';
import type { FetchPolicy, InvocationLimits, InvocationTarget } from '../queue/jobs.ts';

type Segment = { kind: 'static'; value: string } | { kind: 'param'; name: string };

export interface CompiledRoute {
  pattern: string;
  methods: ReadonlySet<string> | '*';
  segments: Segment[];
  rest: boolean;
  scriptPath: string;
  scriptHash: string;
  fn: string | null;
}

export interface BranchEntry {
  appId: number;
  app: string;
  branch: string;
  slug: string;
  releaseId: number;
  version: number;
  env: Record<string, string>;
  limits: InvocationLimits;
  fetch: FetchPolicy;
  /** script path → the modules it reaches (import path → hash); scripts that import nothing are absent */
  modules: Record<string, Record<string, string>>;
  routes: CompiledRoute[];
  schedules: LiveSchedule[];
  /** `[[queues]]` of the live release */
  queues: LiveQueue[];
  /** the app's production branch (previews run schedules only with `[preview] schedules = true`) */
  productionBranch: string;
  previewSchedules: boolean;
  /** queue name → retry policy, for queue::send (part of every target of this entry) */
  queuePolicy: Readonly<Record<string, { attempts: number; backoffMs: number }>>;
}

/** The schedules a branch runs: all of its release's on the production branch, a preview's only with `[preview] schedules = true`. */
export function runningSchedules(e: BranchEntry): LiveSchedule[] {
  return e.branch !== e.productionBranch && !e.previewSchedules ? [] : e.schedules;
}

interface AppEntry {
  productionBranch: string;
  bySlug: Map<string, BranchEntry>;
}

export type RouteMatch =
  | { kind: 'ok'; route: CompiledRoute; params: Record<string, string> }
  | { kind: 'not_found' }
  | { kind: 'method_not_allowed'; allow: string[] };

/** Compile '/hello/:name' or '/files/*' into a matcher. */
export function compileRoute(pattern: string): { segments: Segment[]; rest: boolean } {
  const parts = pattern.split('/').filter((s) => s !== '');
  let rest = false;
  if (parts[parts.length - 1] === '*') {
    rest = true;
    parts.pop();
  }
  return {
    rest,
    segments: parts.map((p) => (p.startsWith(':') ? { kind: 'param', name: p.slice(1) } : { kind: 'static', value: p })),
  };
}

/** Specificity order: static before param before rest, segment by segment; longer before shorter. */
function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const sa = a.segments[i];
    const sb = b.segments[i];
    const ra = sa ? (sa.kind === 'static' ? 0 : 1) : a.rest ? 2 : 3;
    const rb = sb ? (sb.kind === 'static' ? 0 : 1) : b.rest ? 2 : 3;
    if (ra !== rb) return ra - rb;
  }
  return (a.rest ? 1 : 0) - (b.rest ? 1 : 0);
}

function matchPath(route: CompiledRoute, segs: string[]): Record<string, string> | null {
  const n = route.segments.length;
  if (route.rest ? segs.length < n : segs.length !== n) return null;
  let params: Record<string, string> | null = null;
  for (let i = 0; i < n; i++) {
    const s = route.segments[i]!;
    if (s.kind === 'static') {
      if (s.value !== segs[i]) return null;
    } else {
      // null prototype: a parameter named __proto__ or constructor is a plain key
      (params ??= Object.create(null) as Record<string, string>)[s.name] = segs[i]!;
    }
  }
  params ??= Object.create(null) as Record<string, string>;
  if (route.rest) params['*'] = segs.slice(n).join('/');
  return params;
}

/** Match decoded path segments and a method against a branch's routes. */
export function matchRoute(routes: CompiledRoute[], method: string, segs: string[]): RouteMatch {
  let allow: Set<string> | null = null;
  for (const r of routes) {
    const params = matchPath(r, segs);
    if (!params) continue;
    if (r.methods === '*' || r.methods.has(method) || (method === 'HEAD' && r.methods.has('GET'))) return { kind: 'ok', route: r, params };
    allow ??= new Set();
    for (const m of r.methods) allow.add(m);
  }
  return allow ? { kind: 'method_not_allowed', allow: [...allow].sort() } : { kind: 'not_found' };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

/** Effective limits: release [limits] (snake_case or camelCase keys) over defaults, capped by the platform maxima. */
export function effectiveLimits(raw: Record<string, unknown> | undefined): InvocationLimits {
  const l = raw ?? {};
  const pick = (snake: string, camel: string, def: number, max: number) => Math.min(num(l[snake]) ?? num(l[camel]) ?? def, max);
  return {
    maxOperations: pick('max_operations', 'maxOperations', DEFAULT_APP_LIMITS.maxOperations, PLATFORM_LIMITS.maxOperations),
    timeoutMs: pick('timeout_ms', 'timeoutMs', DEFAULT_APP_LIMITS.timeoutMs, PLATFORM_LIMITS.timeoutMs),
    maxBodyBytes: pick('max_body_bytes', 'maxBodyBytes', DEFAULT_APP_LIMITS.maxBodyBytes, PLATFORM_LIMITS.maxBodyBytes),
    maxStringSize: pick('max_string_size', 'maxStringSize', PLATFORM_LIMITS.maxStringSize, PLATFORM_LIMITS.maxStringSize),
    maxArraySize: pick('max_array_size', 'maxArraySize', PLATFORM_LIMITS.maxArraySize, PLATFORM_LIMITS.maxArraySize),
    maxMapSize: pick('max_map_size', 'maxMapSize', PLATFORM_LIMITS.maxMapSize, PLATFORM_LIMITS.maxMapSize),
    maxCallLevels: pick('max_call_levels', 'maxCallLevels', PLATFORM_LIMITS.maxCallLevels, PLATFORM_LIMITS.maxCallLevels),
    concurrency: pick('concurrency', 'concurrency', PLATFORM_LIMITS.concurrency, PLATFORM_LIMITS.concurrency),
  };
}

/** Effective `[fetch]`: the release's keys over the defaults, capped by the platform (allow entries as deploy normalised them). */
export function effectiveFetch(raw: Record<string, unknown> | undefined): FetchPolicy {
  const f = raw ?? {};
  const allow = Array.isArray(f.allow) ? f.allow.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase()) : [];
  return Object.freeze({
    allow: Object.freeze(allow) as string[],
    maxRequests: Math.min(num(f.maxRequests) ?? FETCH_LIMITS.maxRequests, FETCH_LIMITS.maxRequestsCap),
    timeoutMs: Math.min(num(f.timeoutMs) ?? FETCH_LIMITS.timeoutMs, PLATFORM_LIMITS.timeoutMs),
  });
}

/** Build a branch entry from its live DB state. */
export function toBranchEntry(b: LiveBranch): BranchEntry {
  // no prototype, and no Object.assign: a config key named __proto__ is a plain key
  const env = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(b.config.env ?? {})) env[k] = typeof v === 'string' ? v : JSON.stringify(v);
  for (const [k, v] of Object.entries(b.vars)) env[k] = v;
  const routes: CompiledRoute[] = b.routes.map((r) => {
    const methods = r.methods.map((m) => m.toUpperCase());
    return {
      pattern: r.path,
      methods: methods.includes('*') ? '*' : new Set(methods),
      ...compileRoute(r.path),
      scriptPath: r.scriptPath,
      scriptHash: r.scriptHash,
      fn: r.fn,
    };
  });
  routes.sort(compareSpecificity);
  const queues = Array.isArray(b.config.queues) ? b.config.queues : [];
  const queuePolicy: Record<string, { attempts: number; backoffMs: number }> = {};
  for (const q of queues) queuePolicy[q.name] = { attempts: q.attempts, backoffMs: q.backoffMs };
  return {
    appId: b.appId, app: b.app, branch: b.branch, slug: branchSlug(b.branch), releaseId: b.releaseId, version: b.version,
    env, limits: effectiveLimits(b.config.limits), fetch: effectiveFetch(b.config.fetch), modules: b.config.modules ?? {}, routes, schedules: b.schedules, queues,
    productionBranch: b.productionBranch, previewSchedules: b.config.previewSchedules === true, queuePolicy: Object.freeze(queuePolicy),
  };
}

const targets = new WeakMap<object, { entry: BranchEntry; target: InvocationTarget }>();

/**
 * The target of a route or schedule of a branch entry. Entries are immutable (a reload builds new ones), so the
 * target is built once per (entry, route) and shared, frozen, by every job of that route: the executor pool caches
 * its JSON per target object instead of encoding it for every request.
 */
export function targetOf(e: BranchEntry, s: { scriptPath: string; scriptHash: string; fn: string | null }): InvocationTarget {
  const hit = targets.get(s);
  if (hit && hit.entry === e) return hit.target;
  const modules = e.modules[s.scriptPath];
  const target: InvocationTarget = Object.freeze({
    appId: e.appId, app: e.app, branch: e.branch, releaseId: e.releaseId, version: e.version,
    scriptPath: s.scriptPath, scriptHash: s.scriptHash, fn: s.fn, env: e.env, limits: e.limits, fetch: e.fetch, queues: e.queuePolicy,
    ...(modules ? { modules } : {}),
  });
  targets.set(s, { entry: e, target });
  return target;
}

export type BranchChange = { app: string; branch: string; entry: BranchEntry | null };

export class RouteTable {
  private apps = new Map<string, AppEntry>();
  private listener: PoolClient | null = null;
  private detachListener: ((err?: Error) => void) | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly changeHandlers: ((changes: BranchChange[], full: boolean) => void)[] = [];
  private readonly waiters = new Set<{ check: () => boolean }>();
  /** incremented on every applied change (tests wait on it) */
  generation = 0;

  constructor(private readonly pool: Pool, private readonly log: Logger) {}

  /** Loaded at least once and listening for changes (readiness). */
  live(): boolean {
    return this.generation > 0 && this.listener !== null && !this.closed;
  }

  /** Connect the LISTEN client and load everything. */
  async start(): Promise<void> {
    await this.connectListener();
  }

  onChange(h: (changes: BranchChange[], full: boolean) => void): void {
    this.changeHandlers.push(h);
  }

  /** Live entry for a URL app segment ('app' or 'b--app'), or null. */
  resolve(seg: string): BranchEntry | null {
    const i = seg.indexOf('--');
    if (i < 0) {
      const a = this.apps.get(seg);
      return a ? (a.bySlug.get(branchSlug(a.productionBranch)) ?? null) : null;
    }
    const a = this.apps.get(seg.slice(i + 2));
    return a?.bySlug.get(seg.slice(0, i)) ?? null;
  }

  /**
   * Resolves once the table serves `releaseId` (or a later release) for (app, branch), or once the branch is
   * gone when `releaseId` is null; false after `timeoutMs`. For callers in the same process as a release switch
   * (the push pipeline of `picloud up`) that must not answer before the new code is live.
   */
  waitForRelease(app: string, branch: string, releaseId: number | null, timeoutMs = 2000): Promise<boolean> {
    const done = () => {
      const e = this.apps.get(app)?.bySlug.get(branchSlug(branch));
      return releaseId === null ? !e : !!e && e.releaseId >= releaseId;
    };
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { check: () => (done() ? (finish(true), true) : false) };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(w);
        resolve(ok);
      };
      this.waiters.add(w);
    });
  }

  /** The live entry of (app, branch), or null. */
  entry(app: string, branch: string): BranchEntry | null {
    return this.apps.get(app)?.bySlug.get(branchSlug(branch)) ?? null;
  }

  /** Every live branch entry. */
  entries(): BranchEntry[] {
    return [...this.apps.values()].flatMap((a) => [...a.bySlug.values()]);
  }

  size(): number {
    let n = 0;
    for (const a of this.apps.values()) n += a.bySlug.size;
    return n;
  }

  private async connectListener(): Promise<void> {
    if (this.closed) return;
    let detach: ((err?: Error) => void) | null = null;
    try {
      const c = await this.pool.connect();
      const onNotification = (msg: { channel: string; payload?: string }) => {
        if (msg.channel !== 'picloud_releases' || !msg.payload) return;
        try {
          const p = JSON.parse(msg.payload) as { app?: unknown; branch?: unknown };
          if (typeof p.app === 'string' && typeof p.branch === 'string') this.enqueueReload({ app: p.app, branch: p.branch });
        } catch {
          this.log.warn({ payload: msg.payload }, 'ignoring malformed picloud_releases payload');
        }
      };
      const onError = (err: Error) => {
        if (this.closed) return; // PostgreSQL going away during shutdown
        this.log.warn({ err }, 'route table LISTEN connection lost; reconnecting');
        detach!(err);
        this.scheduleReconnect();
      };
      // Hand the client back exactly once, without our listeners: a client released twice makes pg-pool throw
      // (from an 'error' event: an uncaught exception), and listeners left on a released client fire for whoever
      // uses or ends it next.
      let released = false;
      detach = (err?: Error) => {
        if (released) return;
        released = true;
        c.removeListener('notification', onNotification);
        c.removeListener('error', onError);
        if (this.listener === c) {
          this.listener = null;
          this.detachListener = null;
        }
        c.release(err ?? true); // a LISTEN connection is not reused
      };
      c.on('notification', onNotification);
      c.on('error', onError);
      await c.query('LISTEN picloud_releases');
      this.listener = c;
      this.detachListener = detach;
      await this.enqueueReload(null);
    } catch (err) {
      detach?.(err as Error);
      if (this.closed) return;
      this.log.warn({ err }, 'route table: cannot LISTEN; retrying');
      this.scheduleReconnect();
      throw err;
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connectListener().catch(() => {});
    }, 1000);
  }

  /** Reload one (app, branch) or (null) everything; reloads apply in order. */
  enqueueReload(only: { app: string; branch: string } | null): Promise<void> {
    const p = this.chain.then(async () => {
      if (this.closed) return;
      // the LISTEN connection is otherwise idle: reloading on it avoids waiting for a pooled connection under load
      const live = await loadLiveBranches(this.listener ?? this.pool, only ?? undefined);
      this.apply(live, only);
    });
    this.chain = p.catch((err) => {
      this.log.error({ err }, 'route table reload failed');
      if (only) this.scheduleFullReloadSoon();
    });
    return p;
  }

  private scheduleFullReloadSoon(): void {
    setTimeout(() => void this.enqueueReload(null).catch(() => {}), 1000).unref();
  }

  private apply(live: LiveBranch[], only: { app: string; branch: string } | null): void {
    const changes: BranchChange[] = [];
    if (!only) {
      const next = new Map<string, AppEntry>();
      for (const b of live) {
        let a = next.get(b.app);
        if (!a) next.set(b.app, (a = { productionBranch: b.productionBranch, bySlug: new Map() }));
        const e = toBranchEntry(b);
        a.bySlug.set(e.slug, e);
        changes.push({ app: b.app, branch: b.branch, entry: e });
      }
      this.apps = next;
    } else {
      const slug = branchSlug(only.branch);
      const b = live[0];
      if (b) {
        let a = this.apps.get(b.app);
        if (!a) this.apps.set(b.app, (a = { productionBranch: b.productionBranch, bySlug: new Map() }));
        a.productionBranch = b.productionBranch;
        const e = toBranchEntry(b);
        a.bySlug.set(slug, e);
        changes.push({ app: b.app, branch: b.branch, entry: e });
      } else {
        const a = this.apps.get(only.app);
        a?.bySlug.delete(slug);
        if (a && a.bySlug.size === 0) this.apps.delete(only.app);
        changes.push({ app: only.app, branch: only.branch, entry: null });
      }
    }
    this.generation++;
    for (const w of [...this.waiters]) w.check();
    for (const h of this.changeHandlers) {
      try {
        h(changes, !only);
      } catch (err) {
        this.log.error({ err }, 'route table change handler failed');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.listener;
    const detach = this.detachListener;
    if (c && detach) {
      await c.query('UNLISTEN *').catch(() => {});
      detach();
    }
    await this.chain.catch(() => {});
  }
}
