/**
 * The control-plane HTTP API: `/api/v1/...`, JSON in and out, Bearer token on every route except the TLS ask
 * endpoint (Caddy on-demand TLS). Errors are JSON `{ error, code }` with codes from common/errors.ts.
 *
 *   GET    /api/v1/whoami
 *   GET    /api/v1/apps                              POST /api/v1/apps {name}
 *   GET    /api/v1/apps/:app                         DELETE /api/v1/apps/:app
 *   GET    /api/v1/apps/:app/previews
 *   GET    /api/v1/apps/:app/releases?branch=
 *   POST   /api/v1/apps/:app/rollback {version, branch?}
 *   GET    /api/v1/apps/:app/config?branch=&reveal=  PUT {K: "v"|null, ...}   DELETE ?keys=A,B
 *                                                    (values for admin tokens only: a read token gets names with
 *                                                    null values, and 403 when it asks for ?reveal=1)
 *   GET    /api/v1/apps/:app/routes?branch=          GET /api/v1/apps/:app/schedules?branch=
 *   GET    /api/v1/apps/:app/invocations?branch=&status=&limit=&before=    GET .../invocations/:id
 *   GET    /api/v1/apps/:app/logs?tail=1&branch=     (server-sent events with tail=1; else like invocations)
 *   GET    /api/v1/apps/:app/stats
 *   GET    /api/v1/apps/:app/kv?branch=&prefix=      GET|PUT|DELETE /api/v1/apps/:app/kv/<key>   (api-kv.ts)
 *   GET    /api/v1/apps/:app/jobs?branch=&queue=&state=   POST /api/v1/apps/:app/jobs/retry   (api-jobs.ts)
 *   GET    /api/v1/tokens                            POST /api/v1/tokens {name, role?}   DELETE /api/v1/tokens/:id
 *                                                    (admin only; the last admin token cannot be deleted)
 *   GET    /api/v1/tls-ask?domain=                   (no auth; 200 only for known hosts)
 *
 * Roles: 'admin' may do anything; 'read' may only use GET routes.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../common/config.ts';
import { AppError, isAppError } from '../common/errors.ts';
import { parseClientJson } from '../common/json.ts';
import type { Logger } from '../common/log.ts';
import { listConfigVars, setConfigVars, unsetConfigVars, CONFIG_KEY_RE, CONFIG_VALUE_MAX } from '../db/config-vars.ts';
import {
  createApp,
  deleteToken,
  destroyApp,
  findApp,
  findReleaseByVersion,
  getInvocation,
  getRelease,
  invocationRate,
  listApps,
  listBranches,
  listInvocations,
  listReleases,
  listRoutes,
  listSchedules,
  listTokens,
  liveBranchesOf,
  liveReleaseId,
  type AppRow,
  type InvocationView,
} from '../db/dashboard.ts';
import type { Pool } from '../db/pool.ts';
import { insertToken, newToken } from '../db/tokens.ts';
import { TokenVerifier, verifierFor, type Principal } from './auth.ts';
import { holdSseStream } from './sse.ts';
import { kvRoutes } from './api-kv.ts';
import { jobRoutes } from './api-jobs.ts';
import { InvocationHub } from './invocation-hub.ts';
import { branchSlug, branchUrls, gitUrl, isValidAppName, publicOrigin, type PublicOrigin } from './urls.ts';

/** `rollbackRelease` from src/deploy/release.ts (platform-deploy): a new release copying vN, switched live. */
export type RollbackFn = (
  pool: Pool,
  args: { app: string; branch: string; version: number; pusher: string },
) => Promise<unknown>;

export interface ApiPluginOptions {
  config: Config;
  pool: Pool;
  log: Logger;
  /** the invocation plane, for live stats (optional) */
  plane?: { stats(): unknown };
  verifier?: TokenVerifier;
  /** shared with the dashboard when both are registered; created on demand otherwise */
  hub?: InvocationHub;
  /** override for tests; defaults to rollbackRelease from src/deploy/release.ts */
  rollback?: RollbackFn;
}

const ROLES = ['admin', 'read'] as const;

/** Resolve platform-deploy's rollbackRelease lazily, so the API loads even while deploy/ is being built. */
async function loadRollback(): Promise<RollbackFn> {
  const spec = '../deploy/release.ts';
  const mod = (await import(spec)) as { rollbackRelease?: RollbackFn };
  if (typeof mod.rollbackRelease !== 'function') throw new AppError('INTERNAL', 'rollback is not available in this build');
  return mod.rollbackRelease;
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** The authenticated principal of a request (set by the API's and dashboard's auth hooks). */
export const principalOf = (req: FastifyRequest): Principal | undefined => principals.get(req);

const badRequest = (message: string, data: Record<string, unknown> = {}): AppError => new AppError('BAD_REQUEST', message, data);

function sendError(reply: FastifyReply, err: unknown, log: Logger, reqId: string): FastifyReply {
  if (isAppError(err)) {
    if (err.code === 'AUTH_REQUIRED') reply.header('www-authenticate', 'Bearer realm="picloud"');
    return reply.code(err.httpStatus).type('application/json').send(err.toJSON());
  }
  const e = err as { statusCode?: number; message?: string; code?: string };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // fastify's own client errors (bad JSON, body too large, wrong content type)
    const code = e.statusCode === 413 ? 'BODY_TOO_LARGE' : 'BAD_REQUEST';
    return reply.code(e.statusCode).send({ error: e.message ?? 'bad request', code });
  }
  log.error({ err, reqId }, 'api request failed');
  return reply.code(500).send({ error: 'internal error', code: 'INTERNAL' });
}

interface AppParams {
  app: string;
}
interface BranchQuery {
  branch?: string;
}

/** Everything an app page needs, shared by the API and the dashboard. */
export async function appDetail(config: Config, pool: Pool, app: AppRow, origin?: PublicOrigin) {
  const branches = await listBranches(pool, app);
  return {
    name: app.name,
    productionBranch: app.productionBranch,
    createdAt: app.createdAt,
    gitUrl: gitUrl(config, app.name, origin),
    branches: branches.map((b) => ({
      branch: b.branch,
      slug: branchSlug(b.branch),
      production: b.production,
      release: b.release,
      updatedAt: b.updatedAt,
      urls: branchUrls(config, app.name, b.branch, b.production, origin),
    })),
  };
}

/** Restore vN of (app, branch) as a new release; returns the new release and what it restored. */
export async function performRollback(
  pool: Pool,
  rollback: RollbackFn | undefined,
  app: AppRow,
  branch: string,
  version: number,
  pusher: string,
) {
  const target = await findReleaseByVersion(pool, app.id, branch, version);
  if (!target) throw new AppError('RELEASE_NOT_FOUND', `${app.name} has no release v${version} on ${branch}`, { app: app.name, branch, version });
  const fn = rollback ?? (await loadRollback());
  const result = (await fn(pool, { app: app.name, branch, version, pusher })) as { id?: unknown } | null;
  const newId = typeof result?.id === 'number' ? result.id : await liveReleaseId(pool, app.id, branch);
  const release = newId === null ? null : await getRelease(pool, newId);
  if (!release) throw new AppError('INTERNAL', 'rollback did not produce a release');
  const [routes, schedules] = await Promise.all([listRoutes(pool, release.id), listSchedules(pool, release.id)]);
  return {
    release,
    restored: {
      from: version,
      commit: target.commit,
      scripts: Object.keys(target.scripts).length,
      routes: routes.length,
      schedules: schedules.length,
      envKeys: Object.keys(target.config.env ?? {}).sort(),
    },
  };
}

/** Whether Caddy may get a certificate for `domain`: the bare domain, an app, or a live preview. */
export async function tlsAllowed(config: Config, pool: Pool, domainRaw: string): Promise<boolean> {
  const domain = domainRaw.toLowerCase().replace(/\.$/, '');
  if (domain === config.domain) return true;
  const suffix = `.${config.domain}`;
  if (!domain.endsWith(suffix)) return false;
  const label = domain.slice(0, -suffix.length);
  if (!label || label.includes('.')) return false;
  const i = label.lastIndexOf('--');
  const appName = i >= 0 ? label.slice(i + 2) : label;
  const slug = i >= 0 ? label.slice(0, i) : null;
  if (!isValidAppName(appName)) return false;
  const app = await liveBranchesOf(pool, appName);
  if (!app) return false;
  if (slug === null) return true;
  return app.branches.some((b) => b !== app.productionBranch && branchSlug(b) === slug);
}

/** `{K: v}` → `{K: null}`: the names of config values without the values. */
const namesOnly = (o: Record<string, string>): Record<string, null> => Object.fromEntries(Object.keys(o).map((k) => [k, null]));

/** A boolean query flag: absent, 1/true or 0/false; anything else is a 400. */
function flag(v: string | undefined, name: string): boolean {
  if (v === undefined || v === '' || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  throw badRequest(`${name} must be 1, true, 0 or false`);
}

/** An optional integer query parameter in min..max (digits only: `1e308`, `-1`, `0x10` are a 400, never a 500). */
export function intParam(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw badRequest(`${name} must be an integer from ${min} to ${max}`, { [name]: v });
  return n;
}

/** The invocation status filter: error (4xx and 5xx), 2xx…5xx, or one status; anything else is a 400. */
function statusParam(v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^(error|[1-5]xx|[1-5]\d\d)$/i.test(v)) throw badRequest('status must be error, 2xx, 3xx, 4xx, 5xx or a status such as 404', { status: v });
  return v;
}

/** The largest id the API accepts (ids are bigint; beyond this they are not exact as JSON numbers anyway). */
const MAX_ID = Number.MAX_SAFE_INTEGER;

function parseVersion(v: unknown): number {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.replace(/^v/i, '') : '';
  if (!/^[1-9]\d{0,8}$/.test(s)) throw badRequest('version must be a release number such as 3 or "v3"');
  return Number(s);
}

export const apiPlugin: FastifyPluginAsync<ApiPluginOptions> = async (fastify, opts) => {
  await fastify.register(async (api: FastifyInstance) => {
    const { config, pool } = opts;
    const log = opts.log.child({ component: 'api' });
    const verifier = verifierFor(api, pool, opts.verifier);
    let hub = opts.hub;
    const ownsHub = !hub;
    const streams = new Set<FastifyReply>();

    api.setErrorHandler((err, req, reply) => sendError(reply, err, log, req.id));
    // JSON bodies: depth-limited (a 500,000-deep body made handlers overflow the stack: 500) and plain JSON.parse,
    // so `__proto__`/`constructor` are ordinary keys (fastify's parser refused them as "not valid JSON")
    api.removeContentTypeParser('application/json');
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, body === '' ? undefined : parseClientJson(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    api.setNotFoundHandler((req, reply) =>
      reply.code(404).send({ error: `no API route ${req.method} ${req.url.split('?')[0]}`, code: 'ROUTE_NOT_FOUND' }),
    );

    api.addHook('onRequest', async (req) => {
      if (req.routeOptions.config && (req.routeOptions.config as { public?: boolean }).public) return;
      const token = TokenVerifier.tokenFromHeader(req.headers.authorization);
      const p = token ? await verifier.verify(token) : null;
      if (!p) throw new AppError('AUTH_REQUIRED', 'missing or invalid API token (Authorization: Bearer <token>)');
      if (req.method !== 'GET' && req.method !== 'HEAD' && p.role !== 'admin') {
        throw new AppError('AUTH_FORBIDDEN', `token "${p.name}" (role ${p.role}) may only read`);
      }
      principals.set(req, p);
    });

    // every query parameter of the API is single-valued: `?before=1&before=2` is a 400, never a 500 in a handler
    api.addHook('preHandler', async (req) => {
      for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
        if (Array.isArray(v)) throw badRequest(`query parameter ${k} is given more than once`);
      }
    });

    api.addHook('preClose', async () => {
      for (const r of streams) r.raw.end();
      streams.clear();
    });
    api.addHook('onClose', async () => {
      if (ownsHub && hub) await hub.close();
    });

    const originOf = (req: FastifyRequest) => publicOrigin(config, req.headers.host, req.headers['x-forwarded-proto']);
    const requireApp = async (name: string): Promise<AppRow> => {
      const app = isValidAppName(name) ? await findApp(pool, name) : null;
      if (!app) throw new AppError('APP_NOT_FOUND', `no app named "${name}"`, { app: name });
      return app;
    };
    const branchOf = (app: AppRow, q: BranchQuery): string => {
      const b = q.branch?.trim();
      if (b === undefined || b === '') return app.productionBranch;
      // oxlint-disable-next-line no-control-regex -- rejecting control characters is the point
      if (b.length > 255 || /[\x00-\x20\x7f]/.test(b)) throw badRequest('invalid branch name');
      return b;
    };

    await api.register(kvRoutes, { pool, requireApp, branchOf });
    await api.register(jobRoutes, { pool, requireApp, branchOf });

    api.get('/tls-ask', { config: { public: true } }, async (req, reply) => {
      const domain = (req.query as { domain?: string }).domain ?? '';
      if (await tlsAllowed(config, pool, domain)) return reply.code(200).send({ ok: true });
      return reply.code(404).send({ error: `unknown host ${domain}`, code: 'APP_NOT_FOUND' });
    });

    api.get('/whoami', async (req) => {
      const p = principals.get(req)!;
      return { name: p.name, role: p.role };
    });

    api.get('/apps', async (req) => {
      const apps = await listApps(pool);
      return {
        apps: apps.map((a) => ({
          name: a.name,
          productionBranch: a.productionBranch,
          branches: a.branches,
          productionVersion: a.productionVersion,
          lastDeployAt: a.lastDeployAt,
          createdAt: a.createdAt,
          urls: branchUrls(config, a.name, a.productionBranch, true, originOf(req)),
          gitUrl: gitUrl(config, a.name, originOf(req)),
        })),
      };
    });

    api.post('/apps', async (req, reply) => {
      const name = (req.body as { name?: unknown } | null)?.name;
      if (typeof name !== 'string' || !isValidAppName(name)) {
        throw new AppError('APP_NAME_INVALID', `invalid app name ${JSON.stringify(name ?? null)}: use ^[a-z][a-z0-9-]{0,30}$ without "--"`);
      }
      const app = await createApp(pool, name);
      if (!app) throw new AppError('APP_EXISTS', `an app named "${name}" exists`, { app: name });
      log.info({ app: name, by: principals.get(req)?.name }, 'app created');
      return reply.code(201).send({ app: await appDetail(config, pool, app, originOf(req)) });
    });

    api.get<{ Params: AppParams }>('/apps/:app', async (req) => {
      const app = await requireApp(req.params.app);
      return { app: await appDetail(config, pool, app, originOf(req)) };
    });

    api.delete<{ Params: AppParams }>('/apps/:app', async (req) => {
      const name = req.params.app;
      await requireApp(name);
      const r = await destroyApp(pool, name);
      if (!r) throw new AppError('APP_NOT_FOUND', `no app named "${name}"`, { app: name });
      // The name is validated above, so these paths stay inside the repos directory.
      await rm(path.join(config.paths.repos, `${name}.git`), { recursive: true, force: true });
      log.info({ app: name, by: principals.get(req)?.name }, 'app destroyed');
      return { destroyed: name, branches: r.branches };
    });

    api.get<{ Params: AppParams }>('/apps/:app/previews', async (req) => {
      const app = await requireApp(req.params.app);
      const d = await appDetail(config, pool, app, originOf(req));
      return { previews: d.branches.filter((b) => !b.production) };
    });

    api.get<{ Params: AppParams; Querystring: BranchQuery & { limit?: string } }>('/apps/:app/releases', async (req) => {
      const app = await requireApp(req.params.app);
      const branch = branchOf(app, req.query);
      const limit = intParam(req.query.limit, 'limit', 1, 500) ?? 50;
      const releases = await listReleases(pool, app.id, branch, limit);
      // [env] values are config values too: a read token sees their names only
      if (principals.get(req)?.role !== 'admin') for (const r of releases) if (r.config.env) r.config.env = namesOnly(r.config.env) as never;
      return { app: app.name, branch, releases };
    });

    api.post<{ Params: AppParams }>('/apps/:app/rollback', async (req, reply) => {
      const app = await requireApp(req.params.app);
      const body = (req.body ?? {}) as { version?: unknown; branch?: unknown };
      const version = parseVersion(body.version);
      const branch = branchOf(app, { branch: typeof body.branch === 'string' ? body.branch : undefined });
      const pusher = principals.get(req)?.name ?? 'api';
      const result = await performRollback(pool, opts.rollback, app, branch, version, pusher);
      log.info({ app: app.name, branch, from: version, release: result.release.version, by: pusher }, 'rolled back');
      return reply.code(201).send({ app: app.name, branch, ...result });
    });

    /** Config of (app, branch); values only when `values` (admin tokens): a read token sees names, never values. */
    const configView = async (app: AppRow, branch: string, values = true) => {
      const [vars, liveId] = await Promise.all([listConfigVars(pool, app.id, branch), liveReleaseId(pool, app.id, branch)]);
      const live = liveId === null ? null : await getRelease(pool, liveId);
      const releaseEnv = (live?.config.env ?? {}) as Record<string, string>;
      const overrides = Object.fromEntries(vars.map((v) => [v.key, v.value]));
      const effective = { ...releaseEnv, ...overrides };
      if (values) return { app: app.name, branch, values: true, vars: overrides, releaseEnv, effective };
      return { app: app.name, branch, values: false, vars: namesOnly(overrides), releaseEnv: namesOnly(releaseEnv), effective: namesOnly(effective) };
    };

    api.get<{ Params: AppParams; Querystring: BranchQuery & { reveal?: string } }>('/apps/:app/config', async (req) => {
      const app = await requireApp(req.params.app);
      const branch = branchOf(app, req.query);
      const p = principals.get(req)!;
      const reveal = flag(req.query.reveal, 'reveal');
      if (reveal && p.role !== 'admin') {
        throw new AppError('AUTH_FORBIDDEN', `token "${p.name}" (role ${p.role}) may see config names, not values`);
      }
      return configView(app, branch, p.role === 'admin');
    });

    api.put<{ Params: AppParams; Querystring: BranchQuery }>('/apps/:app/config', async (req) => {
      const app = await requireApp(req.params.app);
      const branch = branchOf(app, req.query);
      const body = req.body;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be a JSON object {"KEY": "value" | null}');
      const set = Object.create(null) as Record<string, string>;
      const unset: string[] = [];
      const problems: string[] = [];
      for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
        if (!CONFIG_KEY_RE.test(k)) problems.push(`invalid key ${JSON.stringify(k)}: use letters, digits and _ (not first)`);
        else if (v === null) unset.push(k);
        else if (typeof v !== 'string') problems.push(`value of ${k} must be a string`);
        else if (Buffer.byteLength(v) > CONFIG_VALUE_MAX) problems.push(`value of ${k} is over ${CONFIG_VALUE_MAX} bytes`);
        else set[k] = v;
      }
      if (problems.length) throw badRequest(problems.join('; '), { problems });
      if (!Object.keys(set).length && !unset.length) throw badRequest('nothing to set');
      if (Object.keys(set).length) await setConfigVars(pool, app, branch, set);
      if (unset.length) await unsetConfigVars(pool, app, branch, unset);
      // keys only: values are secrets and never logged
      log.info({ app: app.name, branch, set: Object.keys(set), unset }, 'config changed');
      return configView(app, branch);
    });

    api.delete<{ Params: AppParams; Querystring: BranchQuery & { keys?: string } }>('/apps/:app/config', async (req) => {
      const app = await requireApp(req.params.app);
      const branch = branchOf(app, req.query);
      const keys = (req.query.keys ?? '').split(',').map((k) => k.trim()).filter(Boolean);
      if (!keys.length) throw badRequest('give the keys to unset: ?keys=A,B');
      const bad = keys.filter((k) => !CONFIG_KEY_RE.test(k));
      if (bad.length) throw badRequest(`invalid keys: ${bad.join(', ')}`);
      const removed = await unsetConfigVars(pool, app, branch, keys);
      log.info({ app: app.name, branch, unset: removed }, 'config changed');
      return { ...(await configView(app, branch)), removed };
    });

    const liveOrNull = async (app: AppRow, branch: string) => {
      const id = await liveReleaseId(pool, app.id, branch);
      return id === null ? null : getRelease(pool, id);
    };

    api.get<{ Params: AppParams; Querystring: BranchQuery }>('/apps/:app/routes', async (req) => {
      const app = await requireApp(req.params.app);
      const branch = branchOf(app, req.query);
      const rel = await liveOrNull(app, branch);
      const [routes, schedules] = rel ? await Promise.all([listRoutes(pool, rel.id), listSchedules(pool, rel.id)]) : [[], []];
      return { app: app.name, branch, release: rel ? { id: rel.id, version: rel.version, commit: rel.commit } : null, routes, schedules };
    });

    api.get<{ Params: AppParams; Querystring: BranchQuery }>('/apps/:app/schedules', async (req) => {
      const app = await requireApp(req.params.app);
      const branch = branchOf(app, req.query);
      const rel = await liveOrNull(app, branch);
      return {
        app: app.name,
        branch,
        release: rel ? { id: rel.id, version: rel.version, commit: rel.commit } : null,
        schedules: rel ? await listSchedules(pool, rel.id) : [],
      };
    });

    type InvQuery = BranchQuery & { status?: string; limit?: string; before?: string; tail?: string };
    const recent = async (app: AppRow, q: InvQuery) => {
      return listInvocations(pool, app.id, {
        branch: q.branch || undefined,
        status: statusParam(q.status),
        before: intParam(q.before, 'before', 1, MAX_ID),
        limit: intParam(q.limit, 'limit', 1, 500) ?? 50,
      });
    };

    api.get<{ Params: AppParams; Querystring: InvQuery }>('/apps/:app/invocations', async (req) => {
      const app = await requireApp(req.params.app);
      return { app: app.name, invocations: await recent(app, req.query) };
    });

    api.get<{ Params: AppParams & { id: string } }>('/apps/:app/invocations/:id', async (req) => {
      const app = await requireApp(req.params.app);
      const id = /^\d{1,16}$/.test(req.params.id) ? Number(req.params.id) : NaN;
      const row = id >= 1 && id <= MAX_ID ? await getInvocation(pool, id) : null;
      if (!row || row.app !== app.name) throw new AppError('INVOCATION_NOT_FOUND', `no invocation ${req.params.id} in ${app.name}`);
      return { invocation: row };
    });

    api.get<{ Params: AppParams }>('/apps/:app/stats', async (req) => {
      const app = await requireApp(req.params.app);
      return { app: app.name, ...(await invocationRate(pool, app.id)) };
    });

    api.get<{ Params: AppParams; Querystring: InvQuery }>('/apps/:app/logs', async (req, reply) => {
      const app = await requireApp(req.params.app);
      const q = req.query;
      if (!flag(q.tail, 'tail')) return { app: app.name, invocations: await recent(app, q) };
      hub ??= new InvocationHub(pool, opts.log.child({ component: 'invocation-hub' }));
      const lastEventId = req.headers['last-event-id'];
      const lastId = typeof lastEventId === 'string' && /^\d{1,16}$/.test(lastEventId) ? Math.min(Number(lastEventId), MAX_ID) : 0;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      streams.add(reply);
      let seen = lastId;
      const send = (row: InvocationView): void => {
        if (row.id <= seen) return;
        seen = row.id;
        res.write(`id: ${row.id}\nevent: invocation\ndata: ${JSON.stringify(row)}\n\n`);
      };
      let unsubscribe: () => void;
      try {
        unsubscribe = await hub.subscribe({ appId: app.id, branch: q.branch || undefined, onInvocation: send });
      } catch (err) {
        log.error({ err }, 'log tail: could not LISTEN');
        streams.delete(reply);
        res.end(`event: error\ndata: ${JSON.stringify({ error: 'log stream unavailable', code: 'DB_UNAVAILABLE' })}\n\n`);
        return;
      }
      res.write('retry: 2000\n: tailing\n\n');
      if (seen > 0) {
        // Reconnect: replay what was missed since Last-Event-ID.
        for (const row of await listInvocations(pool, app.id, { branch: q.branch || undefined, after: seen, limit: 500 })) send(row);
      }
      holdSseStream(req, res, () => {
        unsubscribe();
        streams.delete(reply);
      });
    });

    api.get('/tokens', async (req) => {
      if (principals.get(req)?.role !== 'admin') throw new AppError('AUTH_FORBIDDEN', 'only admin tokens may list tokens');
      return { tokens: await listTokens(pool) };
    });

    api.delete<{ Params: { id: string } }>('/tokens/:id', async (req) => {
      const p = principals.get(req)!;
      if (p.role !== 'admin') throw new AppError('AUTH_FORBIDDEN', 'only admin tokens may delete tokens');
      if (!/^\d{1,15}$/.test(req.params.id)) throw badRequest('token id must be a number (see GET /api/v1/tokens)');
      const r = await deleteToken(pool, Number(req.params.id));
      if (r === null) throw new AppError('TOKEN_NOT_FOUND', `no token with id ${req.params.id}`);
      if (r === 'last-admin') throw new AppError('AUTH_FORBIDDEN', 'refusing to delete the last admin token');
      verifier.forgetTokenId(Number(req.params.id));
      log.info({ id: Number(req.params.id), name: r.name, by: p.name }, 'token deleted');
      return { deleted: Number(req.params.id), name: r.name };
    });

    api.post('/tokens', async (req, reply) => {
      const p = principals.get(req)!;
      if (p.role !== 'admin') throw new AppError('AUTH_FORBIDDEN', 'only admin tokens may create tokens');
      const body = (req.body ?? {}) as { name?: unknown; role?: unknown };
      if (typeof body.name !== 'string' || !/^[\w.@-]{1,64}$/.test(body.name)) throw badRequest('name must be 1-64 characters of letters, digits, _ . @ -');
      const role = body.role === undefined ? 'admin' : body.role;
      if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw badRequest(`role must be one of ${ROLES.join(', ')}`);
      const token = newToken();
      await insertToken(pool, body.name, token, role);
      log.info({ name: body.name, role, by: p.name }, 'token created');
      return reply.code(201).send({ name: body.name, role, token });
    });
  }, { prefix: '/api/v1' });
};
