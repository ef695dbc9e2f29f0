/**
 * Cluster role: `picloud executor [--threads N (default: the cores + 1)] [--port N] [--prefix P] [--thread-heap-mb N]
 * [--exit-with-parent]` — one executor process: runs invocations from the orchestrators' direct lanes (it finds them
 * in Redis and dials them), the Redis HTTP lists and BullMQ in a pool of worker threads. With `--port N` or PICLOUD_EXECUTOR_PORT it also listens on HOST:N for health checks: `/healthz`
 * (alive), `/readyz` (database, Redis, a ready thread, the release preload listener; 503 with the problems
 * otherwise) and `/metrics` (the manager's exposition and token rule, with this process's pool and list stats);
 * without, it has no listener, and fastify and the metrics module are not even loaded (~1.5 MB of heap each idle GC
 * would mark again). Needs DATABASE_URL and REDIS_URL. Stops on SIGTERM/SIGINT.
 */
import type { FastifyInstance } from 'fastify';
import { fileURLToPath } from 'node:url';
import { defaultThreads, loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/log.ts';
import { createPool } from '../../db/pool.ts';
import { startExecutorProcess } from '../../executor/process.ts';
import { httpServerOptions } from '../../common/server-options.ts';
import type { CliIO } from '../client/io.ts';

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function executorCommand(argv: string[], io: CliIO): Promise<number> {
  const env = io.env ?? process.env;
  const portRaw = flag(argv, '--port');
  const port = portRaw === undefined ? undefined : Number(portRaw);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    io.stderr.write('--port must be an integer in 0..65535\n');
    return 64;
  }
  const config = loadConfig(env, port !== undefined ? { executorPort: port } : {});
  if (!config.databaseUrl || !config.redisUrl) {
    io.stderr.write('picloud executor needs DATABASE_URL and REDIS_URL\n');
    return 64;
  }
  const threadsRaw = flag(argv, '--threads');
  const threads = threadsRaw ? Number(threadsRaw) : Math.min(64, defaultThreads());
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    io.stderr.write('--threads must be an integer in 1..64\n');
    return 64;
  }
  const heapRaw = flag(argv, '--thread-heap-mb');
  const threadHeapMb = heapRaw ? Number(heapRaw) : undefined;
  if (threadHeapMb !== undefined && (!Number.isInteger(threadHeapMb) || threadHeapMb < 16)) {
    io.stderr.write('--thread-heap-mb must be an integer >= 16\n');
    return 64;
  }
  const log = createLogger(config.logLevel).child({ component: 'executor' });
  // + 2: the job runner's and the route table's LISTEN connections
  const pool = createPool(config.databaseUrl, Math.max(4, threads * 2) + 2);
  const ex = await startExecutorProcess({ pool, log, redisUrl: config.redisUrl, prefix: flag(argv, '--prefix'), threads, threadHeapMb, appShare: config.appShare ?? undefined, appQueue: config.appQueue, lanes: config.lanes !== null });
  log.info({ threads }, 'executor started');
  let health: FastifyInstance | null = null;
  if (config.executorPort !== null) {
    const [{ default: Fastify }, { metricsPlugin }] = await Promise.all([import('fastify'), import('../../manager/metrics.ts')]);
    const app = Fastify(httpServerOptions(config));
    app.get('/healthz', async () => ({ ok: true }));
    app.get('/readyz', async (_req, reply) => {
      const r = await ex.ready();
      return reply.code(r.ok ? 200 : 503).send({ ...r, ...ex.stats() });
    });
    await app.register(metricsPlugin, { config, pool, log, plane: ex });
    await app.listen({ port: config.executorPort, host: config.host });
    health = app;
    const addr = app.server.address();
    log.info({ port: addr && typeof addr === 'object' ? addr.port : config.executorPort }, 'executor health listener');
  }
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    if (argv.includes('--exit-with-parent')) {
      // the parent holds our stdin open; EOF means it is gone (however it died)
      process.stdin.on('end', resolve).on('error', resolve).resume();
    }
  });
  if (argv.includes('--exit-with-parent')) process.stdin.destroy();
  await health?.close();
  await ex.close();
  await pool.end();
  log.info('executor stopped');
  // a Redis client still reconnecting to an unreachable Redis (BullMQ's own blocking connection) must not keep
  // a stopped executor alive: exit shortly if something still holds the event loop (unref: never delays a clean exit)
  setTimeout(() => process.exit(0), 500).unref();
  return 0;
}

// Spawned directly (before src/cli/main.ts dispatches to it): run as the main module.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  executorCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`picloud executor: ${(err as Error).message}\n`);
      process.exit(70);
    },
  );
}
