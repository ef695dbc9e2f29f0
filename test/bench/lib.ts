/**
 * Helpers for the HTTP and idle benchmarks: the wrk runner and parser, child-process bookkeeping, /proc readers
 * (CPU ticks, RSS/PSS of a process tree, CPU of a case across every process), and the bench server entry
 * (`node --import tsx test/bench/lib.ts serve <mode> <databaseUrl> <queuePrefix>` prints `READY <port>`): `redis` =
 * an orchestrator with no executor threads and 2 executor processes (direct lanes; `redis_lists`: the Redis lists
 * alone; `lanes_floor` / `lists_floor`: the transport alone), `node` = an orchestrator with its own executor threads (the cores + 1) and 1 executor process for overflow.
 * BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to the spawned bench servers' node.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/common/runtime.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: number;
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined; // wrk --version exits 1 but exists
  }
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 'ms' ? n : unit === 's' ? n * 1000 : n / 1e6;
}

/** Parse `wrk --latency` output. */
export function parseWrk(out: string): LoadResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const lat = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50_ms: lat('50'), p99_ms: lat('99'), requests, errors };
}

/** Run wrk against `url` with `connections` for `seconds`. */
export function runWrk(url: string, connections: number, seconds: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(parseWrk(out)) : reject(new Error(`wrk failed (${code}): ${out}`))));
  });
}

/** Spawn a TS entry with tsx; resolves with the child and the port it prints as `READY <port>`. */
export function spawnReady(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000, nodeArgs: readonly string[] = []): Promise<{ child: ChildProcess; port: number }> {
  return spawnNodeReady([...nodeArgs, ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), '--import', 'tsx', ...args], args.join(' '), env, timeoutMs);
}

/** Spawn node with `argv` as given (no tsx, no BENCH_NODE_ARGS); resolves with the child and the port it prints as `READY <port>`. */
export function spawnNodeReady(argv: string[], what: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO });
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what}: not ready after ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /READY (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

export async function stopChild(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((res) => {
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('exit', () => {
      clearTimeout(t);
      res();
    });
    c.kill(signal);
  });
}

// ---------------------------------------------------------------- /proc

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime in clock ticks */
  ticks: number;
  /** cutime + cstime: the CPU of its children that have exited (a PostgreSQL backend closed by an idle pool) */
  reaped: number;
}

export const CLK_TCK = 100;

export function readProc(pid: number): ProcInfo | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    // fields after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

/** CPU ticks per thread of one process (tid → comm, ticks). */
export function threadTicks(pid: number): Map<number, { comm: string; ticks: number }> {
  const out = new Map<number, { comm: string; ticks: number }>();
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      const f = s.slice(close + 2).split(' ');
      out.set(Number(t), { comm: s.slice(s.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    }
  } catch {
    /* gone */
  }
  return out;
}

/** All live descendants of `root` (including root). */
export function processTree(root: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = readProc(Number(d));
    if (p) all.push(p);
  }
  const keep = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!keep.has(p.pid) && keep.has(p.ppid)) {
        keep.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => keep.has(p.pid));
}

/** RSS in kB from /proc/<pid>/status (cheap: no page-table walk, unlike smaps_rollup); 0 when gone. */
export function rssKb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** PSS (proportional set size) in kB from smaps_rollup, falling back to RSS from status. */
export function memKb(pid: number): { pssKb: number; rssKb: number } {
  const rss = rssKb(pid);
  let pssKb = 0;
  try {
    pssKb = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    pssKb = rss;
  }
  return { pssKb, rssKb: rss };
}

export const isPostgres = (p: ProcInfo) => p.comm === 'postgres' || p.comm === 'postmaster' || p.comm.startsWith('postgres');

/**
 * CPU ticks per process of a bench case so far: the bench server's process tree (orchestrator, executor processes)
 * plus every redis-server and PostgreSQL process of the machine (shared: run on a quiet machine). Compare two
 * snapshots with ticksBetween.
 */
export function caseTicks(root: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of processTree(root)) out.set(p.pid, p.ticks);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = readProc(Number(d));
    if (p && (p.comm === 'redis-server' || isPostgres(p))) out.set(p.pid, p.ticks);
  }
  return out;
}

/**
 * Ticks used between two caseTicks snapshots: by the processes alive at the end (one started meanwhile from zero).
 * A process that ended meanwhile counts nothing: summing totals instead subtracted its whole lifetime (on a shared
 * machine, another user's PostgreSQL backend closing during a case made the total smaller than one process' part).
 */
export function ticksBetween(before: Map<number, number>, after: Map<number, number>): number {
  let t = 0;
  for (const [pid, ticks] of after) t += Math.max(0, ticks - (before.get(pid) ?? 0));
  return t;
}

// ---------------------------------------------------------------- bench server entry

/**
 * A module of the platform as it ships: dist/ (what `npm start` runs, built by bench:http before it starts), not
 * src/ through tsx, whose transform (esbuild keepNames) adds a `__name` call per closure created: a few per
 * request. BENCH_SRC=1 measures src/ instead.
 */
function shipped<T>(rel: string): Promise<T> {
  return import(process.env.BENCH_SRC ? `../../src/${rel}.ts` : `../../dist/${rel}.js`) as Promise<T>;
}

async function serve(mode: string, dbUrl: string, prefix: string): Promise<void> {
  const Fastify = (await import('fastify')).default;
  if (mode === 'ceiling') {
    const app = Fastify();
    app.get('/', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('hello'));
    await app.listen({ port: 0, host: '127.0.0.1' });
    process.stdout.write(`READY ${(app.server.address() as { port: number }).port}\n`);
    return;
  }
  const { defaultThreads, loadConfig } = await shipped<typeof import('../../src/common/config.ts')>('common/config');
  const { createLogger } = await shipped<typeof import('../../src/common/log.ts')>('common/log');
  const { createPool } = await shipped<typeof import('../../src/db/pool.ts')>('db/pool');
  const { startInvocationPlane } = await shipped<typeof import('../../src/orchestrator/index.ts')>('orchestrator/index');
  const config = loadConfig({
    // executor threads: the platform default (cores + 1, an app holding all but one) unless PICLOUD_EXECUTORS is set
    DATABASE_URL: dbUrl, PICLOUD_LOG_LEVEL: 'warn', PICLOUD_EXECUTORS: process.env.PICLOUD_EXECUTORS, PICLOUD_APP_SHARE: process.env.PICLOUD_APP_SHARE,
    ...(mode !== 'embedded' ? { REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379' } : {}),
    // the Redis-list path alone: no direct lanes (the orchestrator registers none, so executors dial none)
    ...(mode === 'redis_lists' || mode === 'lists_floor' ? { PICLOUD_LANES: 'off' } : {}),
  });
  const log = createLogger('warn');
  const pool = createPool(dbUrl);
  const plane = await startInvocationPlane({ config, pool, log, queuePrefix: prefix, spawnExecutors: mode === 'redis' || mode === 'redis_lists' ? 2 : mode === 'node' ? 1 : 0, localThreads: mode === 'node' ? defaultThreads() : 0, databaseUrl: dbUrl, schedules: false, executorThreads: Number(process.env.BENCH_EXECUTOR_THREADS) || undefined });
  // the transport's floor: the same orchestrator, and 2 processes taking invocations with the same list worker (over
  // the lanes, or the lists alone), answering each at once (no thread pool, no interpreter, no invocation log)
  if (mode === 'lists_floor' || mode === 'lanes_floor') {
    // stdin a pipe from this process: each ends when it closes, as `picloud executor --exit-with-parent` does
    for (let i = 0; i < 2; i++) spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), 'floor-exec', config.redisUrl!, prefix, mode === 'lanes_floor' ? 'lanes' : 'lists'], { stdio: ['pipe', 'inherit', 'inherit'] });
  }
  const app = Fastify();
  await app.register(plane.ingressPlugin);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  // Redis modes: wait until the executor processes take invocations (each sets its heartbeat key at start)
  if (config.redisUrl) {
    const { redisConnection } = await shipped<typeof import('../../src/queue/redis-util.ts')>('queue/redis-util');
    const r = redisConnection(config.redisUrl);
    const want = mode === 'node' ? 1 : 2;
    for (let i = 0; i < 600 && (await r.keys(`${prefix}:exec:*`)).length < want; i++) await new Promise((res) => setTimeout(res, 100));
    r.disconnect();
    // and, with lanes, until each has dialed this orchestrator
    if (config.lanes) for (let i = 0; i < 300 && (plane.dispatcher.stats().lanes ?? 0) < want; i++) await new Promise((res) => setTimeout(res, 100));
  }
  // warm: wait until a request is served
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/apps/bench/hello`);
      if (r.status === 200) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`READY ${port}\n`);
  process.once('SIGTERM', () => {
    void (async () => {
      await app.close();
      await plane.close();
      await pool.end();
      process.exit(0);
    })();
  });
}

/** A lists_floor / lanes_floor executor: the production list worker (redis-lists.ts) whose run answers "hello" at once. */
async function floorExecutor(redisUrl: string, prefix: string, lanes: boolean): Promise<void> {
  const { createLogger } = await shipped<typeof import('../../src/common/log.ts')>('common/log');
  const { startListWorker } = await shipped<typeof import('../../src/queue/redis-lists.ts')>('queue/redis-lists');
  const hello = { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'hello', error: null, durationMs: 0, operations: 0, cold: false, logs: [] };
  await startListWorker({ redisUrl, prefix, log: createLogger('warn'), capacity: 16, lanes, run: async () => hello });
  process.stdin.on('close', () => process.exit(0)); // ends with the bench server
  process.stdin.resume();
}

/** Run as a process of its own: `serve <mode> <db url> <prefix>` or `floor-exec <redis url> <prefix> lanes|lists`. */
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [role, a, b, c] = process.argv.slice(2);
  const main = role === 'serve' ? serve(a ?? 'ceiling', b ?? '', c ?? 'picloud') : role === 'floor-exec' ? floorExecutor(a!, b!, c === 'lanes') : null;
  main?.catch((err) => {
    process.stderr.write(`bench ${role} failed: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
