/**
 * Cluster role: `picloud orchestrator [--port N] [--executors N]` — ingress only (`/apps/*`, host form
 * `<app>.<domain>` and `<b>--<app>.<domain>` rewritten to it) plus /healthz, /readyz and /metrics. Invocations run on the N executor
 * threads of this process first (default: the cores + 1; 0 = none) and spill over to `picloud executor` processes
 * when those are saturated, on the direct lanes those dial (PICLOUD_LANES) or, while none has, the Redis lists. Needs DATABASE_URL and REDIS_URL. Stops on SIGTERM/SIGINT.
 */
import Fastify from 'fastify';
import { defaultThreads, loadConfig } from '../../common/config.ts';
import { rewriteHostUrl } from '../../common/host-routing.ts';
import { httpServerOptions } from '../../common/server-options.ts';
import { createLogger } from '../../common/log.ts';
import { createPool } from '../../db/pool.ts';
import { startInvocationPlane } from '../../orchestrator/index.ts';
import { metricsPlugin } from '../../manager/metrics.ts';
import type { CliIO } from '../client/io.ts';

export async function orchestratorCommand(argv: string[], io: CliIO): Promise<number> {
  const i = argv.indexOf('--port');
  const port = i >= 0 ? Number(argv[i + 1]) : undefined;
  const e = argv.indexOf('--executors');
  const localThreads = e >= 0 ? Number(argv[e + 1]) : Math.min(64, defaultThreads());
  if (!Number.isInteger(localThreads) || localThreads < 0 || localThreads > 64) {
    io.stderr.write('--executors must be an integer in 0..64\n');
    return 64;
  }
  const config = loadConfig(io.env ?? process.env, port !== undefined ? { port } : {});
  if (!config.databaseUrl || !config.redisUrl) {
    io.stderr.write('picloud orchestrator needs DATABASE_URL and REDIS_URL\n');
    return 64;
  }
  const log = createLogger(config.logLevel);
  const pool = createPool(config.databaseUrl, Math.max(10, localThreads * 2));
  // schedules are owned by `picloud manager` in a cluster; orchestrators only serve and dispatch
  const plane = await startInvocationPlane({ config, pool, log, schedules: false, localThreads });
  const app = Fastify({
    ...httpServerOptions(config),
    // the same host-form routing as `picloud up`: an app's host never serves another app's path
    rewriteUrl: (req) => rewriteHostUrl(req.headers.host, req.url ?? '/', config.domain),
  });
  app.get('/healthz', async () => ({ ok: true }));
  // real readiness (database, route table, Redis): a load balancer's health check takes this node out when it fails
  app.get('/readyz', async (_req, reply) => {
    const r = await plane.ready();
    return reply.code(r.ok ? 200 : 503).send({ ...r, ...plane.stats() });
  });
  // /metrics: the manager's exposition and token rule, with this node's plane stats
  await app.register(metricsPlugin, { config, pool, log, plane });
  await app.register(plane.ingressPlugin);
  await app.listen({ port: config.port, host: config.host });
  log.info({ port: config.port }, 'orchestrator listening');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await app.close();
  await plane.close();
  await pool.end();
  return 0;
}
