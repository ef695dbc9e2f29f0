/**
 * Cluster role: `picloud manager [--port N]` — the control plane without ingress: git smart HTTP + pre-receive
 * (release switch), the API, the dashboard, /metrics, and the schedules owner (BullMQ job schedulers, reconciled
 * from the live releases through the route table's LISTEN). Needs DATABASE_URL and REDIS_URL; app traffic goes to
 * `picloud orchestrator` nodes (Caddy: `*.<domain>` → orchestrators, the bare domain → this process).
 * Applies migrations and creates the admin token on first start (printed once, saved in
 * $PICLOUD_HOME/admin-token, mode 600). Stops on SIGINT/SIGTERM (or io.signal).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/log.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { countTokens, insertToken, newToken } from '../../db/tokens.ts';
import { buildServer } from '../../manager/server.ts';
import { startInvocationPlane } from '../../orchestrator/index.ts';
import { parseArgs, UsageError } from '../client/args.ts';
import type { CliIO } from '../client/io.ts';

const USAGE = 'usage: picloud manager [--port N]\n\n  Cluster role: git, API, dashboard, metrics and schedules (needs DATABASE_URL and REDIS_URL).\n';

export async function managerCommand(argv: string[], io: CliIO): Promise<number> {
  let port: number | undefined;
  try {
    const p = parseArgs(argv, { values: { port: 'p' }, bools: { help: 'h' } });
    if (p.flags.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (p.positionals.length) throw new UsageError(`unexpected argument ${p.positionals[0]}`);
    if (typeof p.flags.port === 'string') {
      port = Number(p.flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port needs an integer in 0..65535');
    }
  } catch (e) {
    io.stderr.write(`picloud manager: ${(e as Error).message}\n${USAGE}`);
    return 64;
  }
  const env = io.env ?? process.env;
  const config = loadConfig(env, port !== undefined ? { port } : {});
  if (!config.databaseUrl || !config.redisUrl) {
    io.stderr.write('picloud manager needs DATABASE_URL and REDIS_URL (for a single machine, use `picloud up`)\n');
    return 64;
  }
  const log = createLogger(config.logLevel, Boolean(io.stdout.isTTY) && !env.PICLOUD_LOG_JSON);
  mkdirSync(config.paths.repos, { recursive: true });
  const pool = createPool(config.databaseUrl, 20);
  let plane: Awaited<ReturnType<typeof startInvocationPlane>> | null = null;
  let server: Awaited<ReturnType<typeof buildServer>> | null = null;
  const shutdown = async () => {
    await server?.close().catch((err: unknown) => log.warn({ err }, 'server close failed'));
    await plane?.close().catch((err: unknown) => log.warn({ err }, 'schedules close failed'));
    await pool.end().catch(() => {});
  };
  try {
    const applied = await migrate(pool);
    if (applied.length) log.info({ applied }, 'migrations applied');
    if ((await countTokens(pool)) === 0) {
      const token = newToken();
      await insertToken(pool, 'admin', token, 'admin');
      mkdirSync(config.home, { recursive: true });
      writeFileSync(config.paths.adminTokenFile, `${token}\n`, { mode: 0o600 });
      io.stdout.write(`Admin token (shown once; also saved in ${config.paths.adminTokenFile}, mode 600):\n  ${token}\n`);
    }
    // The plane here owns schedules only: no executors are spawned and its ingress is not mounted.
    plane = await startInvocationPlane({ config, pool, log, spawnExecutors: 0 });
    server = await buildServer({ config, pool, log, plane });
    await server.listen({ host: config.host, port: config.port });
  } catch (e) {
    await shutdown();
    if ((e as { code?: string }).code === 'EADDRINUSE') {
      io.stderr.write(`picloud manager: port ${config.port} is in use\n`);
      return 1;
    }
    throw e;
  }
  const addr = server.server.address();
  const actual = addr && typeof addr === 'object' ? addr.port : config.port;
  io.stdout.write(`PiCloud manager listening on http://${config.host}:${actual} (git, API, dashboard, metrics, schedules)\n`);
  let stop = (): void => {};
  await new Promise<void>((resolve) => {
    stop = resolve;
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener('abort', stop, { once: true });
  });
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await shutdown();
  return 0;
}
