/**
 * `picloud up [--port N] [--executors N]` (= `npm start`): manager + orchestrator + executors in one process tree on
 * 127.0.0.1:8080. Without DATABASE_URL an embedded PostgreSQL runs under PICLOUD_HOME (state survives restarts).
 * First start creates the admin token (printed once, stored in $PICLOUD_HOME/admin-token, mode 600).
 * Stops gracefully on SIGINT/SIGTERM/SIGHUP (also during startup): server, invocation plane, pool (waiting until its
 * connections are closed), embedded PostgreSQL; exit code 0. A second signal while stopping exits 130 at once.
 */
import path from 'node:path';
import { tokenFileHelper } from './git-credential.ts';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/log.ts';
import type { CliIO } from '../client/io.ts';
import { runPlatform } from '../platform.ts';

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

  return runPlatform({
    name: 'up',
    config,
    log,
    io,
    onStarted: async ({ base, port, firstToken }) => {
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
    },
  });
}
