/**
 * What an app serves and what it did, over the API:
 *   GET    /api/v1/apps/:app/routes?branch=          GET /api/v1/apps/:app/schedules?branch=   (the live release's)
 *   GET    /api/v1/apps/:app/invocations?branch=&status=&limit=&before=    GET .../invocations/:id
 *   GET    /api/v1/apps/:app/logs?tail=1&branch=     (server-sent events with tail=1; else like invocations)
 *   GET    /api/v1/apps/:app/stats
 * A tail replays what it missed since Last-Event-ID when the client reconnects; closing the server ends every tail.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import {
  getInvocation,
  getRelease,
  invocationRate,
  listInvocations,
  listRoutes,
  listSchedules,
  liveReleaseId,
  type AppRow,
  type InvocationView,
} from '../db/dashboard.ts';
import { flag, intParam, MAX_ID, statusParam, type ApiContext, type AppParams, type BranchQuery } from './api-shared.ts';
import { InvocationHub } from './invocation-hub.ts';
import { holdSseStream } from './sse.ts';

export interface InvocationRoutesOptions extends ApiContext {
  /** shared with the dashboard when both are registered; created on the first tail otherwise (and closed here) */
  hub?: InvocationHub;
  /** the server's logger, for a hub created here */
  rootLog: Logger;
}

type InvQuery = BranchQuery & { status?: string; limit?: string; before?: string; tail?: string };

export async function invocationRoutes(api: FastifyInstance, opts: InvocationRoutesOptions): Promise<void> {
  const { pool, log, requireApp, branchOf } = opts;
  let hub = opts.hub;
  const ownsHub = !hub;
  const streams = new Set<FastifyReply>();

  api.addHook('preClose', async () => {
    for (const r of streams) r.raw.end();
    streams.clear();
  });
  api.addHook('onClose', async () => {
    if (ownsHub && hub) await hub.close();
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
    hub ??= new InvocationHub(pool, opts.rootLog.child({ component: 'invocation-hub' }));
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
}
