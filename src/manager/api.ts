/**
 * The control-plane HTTP API: `/api/v1/...`, JSON in and out, Bearer token on every route except the TLS ask
 * endpoint (Caddy on-demand TLS). Errors are JSON `{ error, code }` with codes from common/errors.ts.
 *
 *   GET    /api/v1/whoami
 *   GET    /api/v1/apps                              POST /api/v1/apps {name}                  (api-apps.ts)
 *   GET    /api/v1/apps/:app                         DELETE /api/v1/apps/:app
 *   GET    /api/v1/apps/:app/previews
 *   GET    /api/v1/apps/:app/releases?branch=
 *   POST   /api/v1/apps/:app/rollback {version, branch?}
 *   GET    /api/v1/apps/:app/config?branch=&reveal=  PUT {K: "v"|null, ...}   DELETE ?keys=A,B   (api-config.ts)
 *                                                    (values for admin tokens only: a read token gets names with
 *                                                    null values, and 403 when it asks for ?reveal=1)
 *   GET    /api/v1/apps/:app/routes?branch=          GET /api/v1/apps/:app/schedules?branch=   (api-invocations.ts)
 *   GET    /api/v1/apps/:app/invocations?branch=&status=&limit=&before=    GET .../invocations/:id
 *   GET    /api/v1/apps/:app/logs?tail=1&branch=     (server-sent events with tail=1; else like invocations)
 *   GET    /api/v1/apps/:app/stats
 *   GET    /api/v1/apps/:app/kv?branch=&prefix=      GET|PUT|DELETE /api/v1/apps/:app/kv/<key>   (api-kv.ts)
 *   GET    /api/v1/apps/:app/jobs?branch=&queue=&state=   POST /api/v1/apps/:app/jobs/retry   (api-jobs.ts)
 *   GET    /api/v1/tokens                            POST /api/v1/tokens {name, role?}   DELETE /api/v1/tokens/:id
 *                                                    (admin only; the last admin token cannot be deleted; api-tokens.ts)
 *   GET    /api/v1/tls-ask?domain=                   (no auth; 200 only for known hosts)
 *
 * Roles: 'admin' may do anything; 'read' may only use GET routes. This file holds what every route shares (the
 * token check, error bodies, JSON parsing, single-valued query parameters) and registers the route modules, each
 * with the same context (api-shared.ts).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../common/config.ts';
import { AppError, isAppError } from '../common/errors.ts';
import { parseClientJson } from '../common/json.ts';
import type { Logger } from '../common/log.ts';
import { findApp, liveBranchesOf, type AppRow } from '../db/dashboard.ts';
import type { Pool } from '../db/pool.ts';
import { appRoutes, type RollbackFn } from './api-apps.ts';
import { configRoutes } from './api-config.ts';
import { invocationRoutes } from './api-invocations.ts';
import { jobRoutes } from './api-jobs.ts';
import { kvRoutes } from './api-kv.ts';
import { badRequest, principal, setPrincipal, type ApiContext, type BranchQuery } from './api-shared.ts';
import { tokenRoutes } from './api-tokens.ts';
import { TokenVerifier, verifierFor } from './auth.ts';
import type { InvocationHub } from './invocation-hub.ts';
import { branchSlug, isValidAppName, publicOrigin } from './urls.ts';

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

export const apiPlugin: FastifyPluginAsync<ApiPluginOptions> = async (fastify, opts) => {
  await fastify.register(async (api: FastifyInstance) => {
    const { config, pool } = opts;
    const log = opts.log.child({ component: 'api' });
    const verifier = verifierFor(api, pool, opts.verifier);

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
      setPrincipal(req, p);
    });

    // every query parameter of the API is single-valued: `?before=1&before=2` is a 400, never a 500 in a handler
    api.addHook('preHandler', async (req) => {
      for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
        if (Array.isArray(v)) throw badRequest(`query parameter ${k} is given more than once`);
      }
    });

    const ctx: ApiContext = {
      config,
      pool,
      log,
      originOf: (req: FastifyRequest) => publicOrigin(config, req.headers.host, req.headers['x-forwarded-proto']),
      requireApp: async (name: string): Promise<AppRow> => {
        const app = isValidAppName(name) ? await findApp(pool, name) : null;
        if (!app) throw new AppError('APP_NOT_FOUND', `no app named "${name}"`, { app: name });
        return app;
      },
      branchOf: (app: AppRow, q: BranchQuery): string => {
        const b = q.branch?.trim();
        if (b === undefined || b === '') return app.productionBranch;
        // oxlint-disable-next-line no-control-regex -- rejecting control characters is the point
        if (b.length > 255 || /[\x00-\x20\x7f]/.test(b)) throw badRequest('invalid branch name');
        return b;
      },
    };

    await api.register(appRoutes, { ...ctx, rollback: opts.rollback });
    await api.register(configRoutes, ctx);
    await api.register(invocationRoutes, { ...ctx, hub: opts.hub, rootLog: opts.log });
    await api.register(kvRoutes, ctx);
    await api.register(jobRoutes, ctx);
    await api.register(tokenRoutes, { ...ctx, verifier });

    api.get('/tls-ask', { config: { public: true } }, async (req, reply) => {
      const domain = (req.query as { domain?: string }).domain ?? '';
      if (await tlsAllowed(config, pool, domain)) return reply.code(200).send({ ok: true });
      return reply.code(404).send({ error: `unknown host ${domain}`, code: 'APP_NOT_FOUND' });
    });

    api.get('/whoami', async (req) => {
      const p = principal(req);
      return { name: p.name, role: p.role };
    });
  }, { prefix: '/api/v1' });
};
