/**
 * The platform in one process tree, as `picloud up` and `picloud dev` run it: embedded PostgreSQL (without
 * DATABASE_URL) under the home, migrations, the first admin token, the invocation plane (executor threads, or
 * executor processes with REDIS_URL), the server (manager + ingress) on HOST:PORT. Stops gracefully on
 * SIGINT/SIGTERM/SIGHUP (also during startup): the command's own cleanup, server, invocation plane, pool (waiting
 * until its connections are closed), embedded PostgreSQL; exit code 0. A second signal while stopping exits 130.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/log.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { createPool, type Pool } from '../db/pool.ts';
import { countTokens, insertToken, newToken } from '../db/tokens.ts';
import { buildServer } from '../manager/server.ts';
import { startInvocationPlane, type InvocationPlane } from '../orchestrator/index.ts';
import type { CliIO } from './client/io.ts';

export interface RunningPlatform {
  /** the effective config (databaseUrl filled in when embedded) */
  config: Config;
  pool: Pool;
  plane: InvocationPlane;
  server: Awaited<ReturnType<typeof buildServer>>;
  /** where it answers: http://host:port */
  base: string;
  port: number;
  /** the admin token created by this start (null when one existed) */
  firstToken: string | null;
}

export interface PlatformOptions {
  /** the command, for messages: up, dev */
  name: string;
  config: Config;
  log: Logger;
  io: CliIO;
  /** run schedules (default true) */
  schedules?: boolean;
  /** create the admin token on the first start (default true) */
  adminToken?: boolean;
  /** once it serves: print, start watching…; the returned function runs first when stopping */
  onStarted(p: RunningPlatform): Promise<(() => Promise<void>) | void>;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** how long a stop waits for the database connections to close before stopping the embedded PostgreSQL */
const CONNECTIONS_CLOSE_MS = 10_000;

class StopRequested extends Error {}

/** Counts a pool's open connections (connect → client 'end'), so a stop can wait until they are really closed. */
function trackConnections() {
  let open = 0;
  let onZero: (() => void) | null = null;
  return {
    watch(pool: Pool): Pool {
      pool.on('connect', (client) => {
        open++;
        client.once('end', () => {
          if (--open === 0) onZero?.();
        });
      });
      return pool;
    },
    count: () => open,
    /** resolves true once no connection is open, false after `ms` */
    drained(ms: number): Promise<boolean> {
      if (open === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const t = setTimeout(() => {
          onZero = null;
          resolve(false);
        }, ms);
        onZero = () => {
          clearTimeout(t);
          onZero = null;
          resolve(true);
        };
      });
    },
  };
}

/** Run the platform until a stop signal; resolves the exit code. */
export async function runPlatform(opts: PlatformOptions): Promise<number> {
  const { config, log, io } = opts;
  const say = (s = '') => io.stdout.write(`${s}\n`);
  mkdirSync(config.home, { recursive: true, mode: 0o755 });
  mkdirSync(config.paths.repos, { recursive: true });

  let embedded: EmbeddedPostgres | null = null;
  let pool: Pool | null = null;
  let plane: InvocationPlane | null = null;
  let server: Awaited<ReturnType<typeof buildServer>> | null = null;
  let firstToken: string | null = null;
  let effectiveConfig: Config | null = null;
  // Signals are taken from the start: an interrupt during startup must still stop what has started (above all the
  // embedded PostgreSQL, which would otherwise outlive us and block the next start on this PICLOUD_HOME).
  let stopRequested = false;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = () => {
    if (stopRequested) {
      // a second Ctrl-C while stopping: give up waiting (the embedded PostgreSQL gets SIGINT from its exit hook)
      io.stderr.write(`picloud ${opts.name}: stopping now\n`);
      process.exit(130);
    }
    stopRequested = true;
    wake();
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  const unhook = () => {
    for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
  };

  const openConnections = trackConnections();
  const shutdown = async () => {
    await server?.close().catch((err: unknown) => log.warn({ err }, 'server close failed'));
    await plane?.close().catch((err: unknown) => log.warn({ err }, 'invocation plane close failed'));
    if (pool) {
      await pool.end().catch((err: unknown) => log.warn({ err }, 'database pool close failed'));
      // pool.end() resolves once its clients are told to end, not once their connections are closed: stopping
      // PostgreSQL before then has it terminate them ("terminating connection due to administrator command"),
      // an error event on clients whose owners consider them closed.
      if (!(await openConnections.drained(CONNECTIONS_CLOSE_MS))) log.warn({ open: openConnections.count() }, 'database connections still open; stopping PostgreSQL anyway');
    }
    await embedded?.stop().catch((err: unknown) => log.warn({ err }, 'embedded PostgreSQL stop failed'));
  };

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      say(`-----> Starting the embedded PostgreSQL (data in ${config.paths.pgdata})`);
      embedded = await startEmbeddedPostgres({ home: config.home, dataDir: config.paths.pgdata, log });
      databaseUrl = embedded.url;
    }
    if (stopRequested) throw new StopRequested();
    pool = openConnections.watch(createPool(databaseUrl, 20));
    const applied = await migrate(pool);
    if (applied.length) log.info({ applied }, 'migrations applied');

    if (opts.adminToken !== false && (await countTokens(pool)) === 0) {
      firstToken = newToken();
      await insertToken(pool, 'admin', firstToken, 'admin');
      writeFileSync(config.paths.adminTokenFile, `${firstToken}\n`, { mode: 0o600 });
    }

    // the plane reads config.databaseUrl for spawned executors; give it the effective one
    const effective = Object.freeze({ ...config, databaseUrl }) as Config;
    effectiveConfig = effective;
    if (stopRequested) throw new StopRequested();
    plane = await startInvocationPlane({ config: effective, pool, log, spawnExecutors: effective.redisUrl ? effective.executors : undefined, schedules: opts.schedules });
    if (stopRequested) throw new StopRequested();
    server = await buildServer({ config: effective, pool, log, ingressPlugin: plane?.ingressPlugin, plane: plane ?? undefined });
    await server.listen({ host: config.host, port: config.port });
  } catch (e) {
    await shutdown();
    unhook();
    if (e instanceof StopRequested) {
      say('-----> Stopped before startup completed');
      return 0;
    }
    const err = (e ?? {}) as { code?: string; message?: string };
    if (err.code === 'EADDRINUSE') {
      io.stderr.write(`picloud ${opts.name}: port ${config.port} is in use (another picloud running?). Use --port N or PORT=N.\n`);
      return 1;
    }
    if (err.code === 'CONFIG_INVALID' || err.code === 'DB_UNAVAILABLE') {
      io.stderr.write(`picloud ${opts.name}: ${err.message}\n`);
      return err.code === 'CONFIG_INVALID' ? 78 : 69;
    }
    throw e;
  }


  const addr = server.server.address();
  const port = addr && typeof addr === 'object' ? addr.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  let cleanup: (() => Promise<void>) | void = undefined;
  try {
    cleanup = await opts.onStarted({ config: effectiveConfig!, pool: pool!, plane: plane!, server, base: `http://${host}:${port}`, port, firstToken });
  } catch (e) {
    io.stderr.write(`picloud ${opts.name}: ${(e as Error).message}\n`);
    wake();
  }

  await stopped;
  say('-----> Stopping');
  await cleanup?.().catch((err: unknown) => log.warn({ err }, 'cleanup failed'));
  await shutdown();
  unhook();
  return 0;
}
