/**
 * Apps and their releases over the API (api.ts lists every route):
 *   GET    /api/v1/apps                              POST /api/v1/apps {name}
 *   GET    /api/v1/apps/:app                         DELETE /api/v1/apps/:app
 *   GET    /api/v1/apps/:app/previews
 *   GET    /api/v1/apps/:app/releases?branch=&limit=
 *   POST   /api/v1/apps/:app/rollback {version, branch?}
 * `appDetail` and `performRollback` serve the dashboard too.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../common/config.ts';
import { AppError } from '../common/errors.ts';
import {
  createApp,
  destroyApp,
  findReleaseByVersion,
  getRelease,
  listApps,
  listBranches,
  listReleases,
  listRoutes,
  listSchedules,
  liveReleaseId,
  type AppRow,
} from '../db/dashboard.ts';
import type { Pool } from '../db/pool.ts';
import { badRequest, intParam, namesOnly, principal, type ApiContext, type AppParams, type BranchQuery } from './api-shared.ts';
import { branchSlug, branchUrls, gitUrl, isValidAppName, type PublicOrigin } from './urls.ts';

/** `rollbackRelease` from src/deploy/release.ts (platform-deploy): a new release copying vN, switched live. */
export type RollbackFn = (
  pool: Pool,
  args: { app: string; branch: string; version: number; pusher: string },
) => Promise<unknown>;

/** Resolve platform-deploy's rollbackRelease lazily, so the API loads even while deploy/ is being built. */
async function loadRollback(): Promise<RollbackFn> {
  const spec = '../deploy/release.ts';
  const mod = (await import(spec)) as { rollbackRelease?: RollbackFn };
  if (typeof mod.rollbackRelease !== 'function') throw new AppError('INTERNAL', 'rollback is not available in this build');
  return mod.rollbackRelease;
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

function parseVersion(v: unknown): number {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.replace(/^v/i, '') : '';
  if (!/^[1-9]\d{0,8}$/.test(s)) throw badRequest('version must be a release number such as 3 or "v3"');
  return Number(s);
}

export interface AppRoutesOptions extends ApiContext {
  /** override for tests; defaults to rollbackRelease from src/deploy/release.ts */
  rollback?: RollbackFn;
}

export async function appRoutes(api: FastifyInstance, opts: AppRoutesOptions): Promise<void> {
  const { config, pool, log, requireApp, branchOf, originOf } = opts;

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
    log.info({ app: name, by: principal(req).name }, 'app created');
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
    log.info({ app: name, by: principal(req).name }, 'app destroyed');
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
    if (principal(req).role !== 'admin') for (const r of releases) if (r.config.env) r.config.env = namesOnly(r.config.env) as never;
    return { app: app.name, branch, releases };
  });

  api.post<{ Params: AppParams }>('/apps/:app/rollback', async (req, reply) => {
    const app = await requireApp(req.params.app);
    const body = (req.body ?? {}) as { version?: unknown; branch?: unknown };
    const version = parseVersion(body.version);
    const branch = branchOf(app, { branch: typeof body.branch === 'string' ? body.branch : undefined });
    const pusher = principal(req).name;
    const result = await performRollback(pool, opts.rollback, app, branch, version, pusher);
    log.info({ app: app.name, branch, from: version, release: result.release.version, by: pusher }, 'rolled back');
    return reply.code(201).send({ app: app.name, branch, ...result });
  });
}
