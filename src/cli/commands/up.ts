/**
 * `picloud up [--port N] [--executors N]` (= `npm start`): manager + orchestrator + executors in one process tree on
 * 127.0.0.1:8080. Without DATABASE_URL an embedded PostgreSQL runs under PICLOUD_HOME (state survives restarts).
 * First start creates the admin token (printed once, stored in $PICLOUD_HOME/admin-token, mode 600).
 * Stops gracefully on SIGINT/SIGTERM/SIGHUP (also during startup): server, invocation plane, pool (waiting until its
 * connections are closed), embedded PostgreSQL; exit code 0. A second signal while stopping exits 130 at once.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tokenFileHelper } from './git-credential.ts';
import { loadConfig, type Config } from '../../common/config.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../db/embedded.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool, type Pool } from '../../db/pool.ts';
import { countTokens, insertToken, newToken } from '../../db/tokens.ts';
import { buildServer } from '../../manager/server.ts';
import { startInvocationPlane, type InvocationPlane } from '../../orchestrator/index.ts';
import type { CliIO } from '../client/io.ts';

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

function parseFlags(argv: string[]): { port?: number; executors?: number; help?: boolean; error?: string } {
  const out: { port?: number; executors?: number; help?: boolean; error?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag === '-h' || flag === '--help') out.help = true;
    else if (flag === '--port' || flag === '--executors') {
      const raw = inline ?? argv[++i];
      const n = Number(raw);
      const [min, max] = flag === '--port' ? [0, 65535] : [1, 64];
      if (raw === undefined || !Number.isInteger(n) || n < min || n > max) return { error: `${flag} needs an integer in ${min}..${max}` };
      if (flag === '--port') out.port = n;
      else out.executors = n;
    } else return { error: `unknown option ${a}` };
  }
  return out;
}

function startPlane(config: Config, pool: Pool, log: Logger): Promise<InvocationPlane> {
  return startInvocationPlane({ config, pool, log, spawnExecutors: config.redisUrl ? config.executors : undefined });
}

/** pino-pretty is a dev dependency: use it only when installed. */
function canPrettyPrint(): boolean {
  try {
    import.meta.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

export async function upCommand(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags(argv);
  if (flags.help || flags.error) {
    if (flags.error) io.stderr.write(`picloud up: ${flags.error}\n`);
    io.stdout.write('usage: picloud up [--port N] [--executors N]\n\n  Run PiCloud on one machine (env: PORT, HOST, PICLOUD_HOME, PICLOUD_DOMAIN, DATABASE_URL, REDIS_URL).\n');
    return flags.error ? 64 : 0;
  }
  const env = io.env ?? process.env;
  const config = loadConfig(env, { port: flags.port, executors: flags.executors });
  const log = createLogger(config.logLevel, Boolean(io.stdout.isTTY) && !env.PICLOUD_LOG_JSON && canPrettyPrint());
  const say = (s = '') => io.stdout.write(`${s}\n`);

  mkdirSync(config.home, { recursive: true, mode: 0o755 });
  mkdirSync(config.paths.repos, { recursive: true });

  let embedded: EmbeddedPostgres | null = null;
  let pool: Pool | null = null;
  let plane: InvocationPlane | null = null;
  let server: Awaited<ReturnType<typeof buildServer>> | null = null;
  let firstToken: string | null = null;
  // Signals are taken from the start: an interrupt during startup must still stop what has started (above all the
  // embedded PostgreSQL, which would otherwise outlive us and block the next `picloud up` on this PICLOUD_HOME).
  let stopRequested = false;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = () => {
    if (stopRequested) {
      // a second Ctrl-C while stopping: give up waiting (the embedded PostgreSQL gets SIGINT from its exit hook)
      io.stderr.write('picloud up: stopping now\n');
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

    if ((await countTokens(pool)) === 0) {
      firstToken = newToken();
      await insertToken(pool, 'admin', firstToken, 'admin');
      writeFileSync(config.paths.adminTokenFile, `${firstToken}\n`, { mode: 0o600 });
    }

    // the plane reads config.databaseUrl for spawned executors; give it the effective one
    const effective = Object.freeze({ ...config, databaseUrl }) as Config;
    if (stopRequested) throw new StopRequested();
    plane = await startPlane(effective, pool, log);
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
      io.stderr.write(`picloud up: port ${config.port} is in use (another picloud running?). Use --port N or PORT=N.\n`);
      return 1;
    }
    if (err.code === 'CONFIG_INVALID' || err.code === 'DB_UNAVAILABLE') {
      io.stderr.write(`picloud up: ${err.message}\n`);
      return err.code === 'CONFIG_INVALID' ? 78 : 69;
    }
    throw e;
  }

  const addr = server.server.address();
  const port = addr && typeof addr === 'object' ? addr.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const base = `http://${host}:${port}`;
  const rel = path.relative(process.cwd(), config.paths.adminTokenFile);
  const tokenFile = rel && !rel.startsWith('..') ? rel : config.paths.adminTokenFile;
  say();
  say(`PiCloud is running on ${base}`);
  say();
  const tokenPath = path.resolve(config.paths.adminTokenFile);
  if (firstToken) {
    say(`  Admin token (shown once; also saved in ${tokenFile}, mode 600):`);
    say(`    ${firstToken}`);
    say();
  }
  say('  Deploy an app (any name matching ^[a-z][a-z0-9-]{0,30}$) from its git repository:');
  say(`    git remote add picloud ${base}/git/<app>.git`);
  say(`    ${tokenFileHelper(base, tokenPath)}`);
  say(`  (the credential helper reads the token from ${tokenFile} when git asks; nothing secret goes into .git/config)`);
  say('    git push picloud main');
  say();
  say(`  Dashboard: ${base}/`);
  say(`  Apps:      http://<app>.${config.domain}:${port}/  or  ${base}/apps/<app>/`);
  say();

  await stopped;
  say('-----> Stopping');
  await shutdown();
  unhook();
  return 0;
}
