/**
 * An app's KV store over the API (`picloud kv`, architecture.md §2), per branch like the scripts see it:
 *   GET    /api/v1/apps/:app/kv?branch=&prefix=&limit=     {app, branch, keys}
 *   GET    /api/v1/apps/:app/kv/<key>?branch=              {key, value}      (404 KV_KEY_NOT_FOUND)
 *   PUT    /api/v1/apps/:app/kv/<key>?branch=   body: any JSON value         {key}
 *   DELETE /api/v1/apps/:app/kv/<key>?branch=              {key, deleted}
 * Registered inside the API plugin, so its token check (read tokens: GET only) applies. Keys are URL-encoded.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../common/errors.ts';
import { parseClientJson } from '../common/json.ts';
import type { AppRow } from '../db/dashboard.ts';
import { kvDelete, kvGet, kvKeys, kvSet } from '../db/kv.ts';
import type { Pool } from '../db/pool.ts';

export interface KvRoutesOptions {
  pool: Pool;
  requireApp(name: string): Promise<AppRow>;
  branchOf(app: AppRow, q: { branch?: string }): string;
}

interface KeyParams {
  app: string;
  '*': string;
}
interface KvQuery {
  branch?: string;
  prefix?: string;
  limit?: string;
}

export async function kvRoutes(api: FastifyInstance, opts: KvRoutesOptions): Promise<void> {
  const { pool, requireApp, branchOf } = opts;
  const target = async (req: { params: KeyParams; query: KvQuery }) => {
    const app = await requireApp(req.params.app);
    const key = req.params['*'];
    if (!key) throw new AppError('BAD_REQUEST', 'missing kv key');
    return { app, key, ns: { appId: app.id, branch: branchOf(app, req.query) } };
  };

  api.get<{ Params: { app: string }; Querystring: KvQuery }>('/apps/:app/kv', async (req) => {
    const app = await requireApp(req.params.app);
    const branch = branchOf(app, req.query);
    const limit = req.query.limit === undefined ? 1000 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new AppError('BAD_REQUEST', 'limit must be an integer from 1 to 10000');
    return { app: app.name, branch, keys: await kvKeys(pool, { appId: app.id, branch }, req.query.prefix ?? '', limit) };
  });

  api.get<{ Params: KeyParams; Querystring: KvQuery }>('/apps/:app/kv/*', async (req) => {
    const { key, ns } = await target(req);
    const v = await kvGet(pool, ns, key);
    if (v === null) throw new AppError('KV_KEY_NOT_FOUND', `no kv key ${JSON.stringify(key)} on ${ns.branch}`, { key });
    return { key, value: JSON.parse(v) as unknown };
  });

  // the body is any JSON value (a bare string or number included), so parse it here
  api.removeContentTypeParser('application/json');
  api.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, { json: body === '' ? undefined : parseClientJson(body as string) });
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  api.put<{ Params: KeyParams; Querystring: KvQuery; Body: { json?: unknown } }>('/apps/:app/kv/*', async (req) => {
    const { key, ns } = await target(req);
    const value = req.body?.json;
    if (value === undefined || value === null) throw new AppError('BAD_REQUEST', 'give the value as a JSON body (null deletes: use DELETE)');
    await kvSet(pool, ns, key, JSON.stringify(value));
    return { key };
  });

  api.delete<{ Params: KeyParams; Querystring: KvQuery }>('/apps/:app/kv/*', async (req) => {
    const { key, ns } = await target(req);
    return { key, deleted: await kvDelete(pool, ns, key) };
  });
}
