/**
 * An app's config vars over the API (`picloud config:*`), per branch:
 *   GET    /api/v1/apps/:app/config?branch=&reveal=   {app, branch, values, vars, releaseEnv, effective}
 *   PUT    /api/v1/apps/:app/config?branch=   body: {KEY: "value" | null, …}   (null unsets)
 *   DELETE /api/v1/apps/:app/config?branch=&keys=A,B
 * Values are secrets: only admin tokens see them (a read token gets the names with null values, and 403 when it
 * asks for ?reveal=1), and the log records keys, never values.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../common/errors.ts';
import { CONFIG_KEY_RE, CONFIG_VALUE_MAX, listConfigVars, setConfigVars, unsetConfigVars } from '../db/config-vars.ts';
import { getRelease, liveReleaseId, type AppRow } from '../db/dashboard.ts';
import { badRequest, flag, namesOnly, principal, type ApiContext, type AppParams, type BranchQuery } from './api-shared.ts';

export async function configRoutes(api: FastifyInstance, opts: ApiContext): Promise<void> {
  const { pool, log, requireApp, branchOf } = opts;

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
    const p = principal(req);
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
}
