/**
 * `npm run bench:http [-- --json] [--seconds N] [--warmup-seconds N] [--connections N] [--only case,case]`: in one
 * run, with wrk (Debian package),
 *   ceiling  — a plain fastify hello-world (the machine's ceiling), in its own process, measured first and again
 *              last (`ceiling_end`); every ratio is to the faster of the two (the host's speed drifts within minutes,
 *              and a ceiling measured in a slow minute made every share look better than it was)
 *   embedded — a trivial route through the embedded mode (in-process worker-thread pool)
 *   kv       — a route doing one kv::get and one kv::set, embedded mode
 *   kvread   — a route doing ten kv::get of one key, embedded mode (what the kv read cache saves)
 *   kvincr   — a route doing one kv::incr of one key (a hot counter: increments pending together are one update)
 *   fetch    — a route doing one http::fetch of a local upstream that answers at once, embedded mode (issue 9:
 *              fetch ≥ 20 % and kv ≥ 35 % of the ceiling)
 *   redis    — the trivial route through an orchestrator with no executor threads and 2 executor processes, which
 *              find it in Redis (REDIS_URL or redis://127.0.0.1:6379) and dial its direct lanes (queue/lanes.ts)
 *   redis_lists — the same over the Redis lists alone (PICLOUD_LANES=off: the lanes' fallback path)
 *   lanes_floor, lists_floor — the transport alone, over the lanes or the lists: the same orchestrator and 2
 *              processes running the same list worker (redis-lists.ts) that answer each invocation at once (no
 *              threads, no interpreter, no invocation log); redis minus lanes_floor is what the executor processes add
 *   node     — the same through an orchestrator with its own executor threads, Redis (1 executor process) for overflow
 * Each case, after a warm-up (1 s at c4, then --warmup-seconds, default 3, at c50; not counted): req/s at c50
 * (default) and p50/p99 latency at c1; ratios to the ceiling, and the share paired with it (`share_paired`: the
 * median of --pair-rounds, default 5, one-second slices of the case each divided by the mean of the one-second
 * ceiling slices measured just before and after it, the ceiling's server running throughout: a ratio of the
 * same minute, where the host's drift between the ceiling and a case minutes later moved `share` by tens of
 * percent); the CPU µs per request at c50 summed over every process (bench server and its executor processes,
 * redis-server, PostgreSQL: run it on a quiet machine, these are shared), and per process (`cpu_us_by_process`:
 * orchestrator, each executor process, the redis-server of REDIS_URL, the bench database's PostgreSQL backends;
 * exact on a busy machine with a private REDIS_URL). `--json` prints one object { "<case>": { "rps", "share" (of
 * the ceiling), "share_paired", "p50_ms", "p99_ms", "cpu_us", "cpu_us_by_process" } }.
 * Every case but the ceiling runs the platform as it ships: dist/ (built first) with npm start's node flags, and
 * executor processes started the same way (BENCH_SRC=1: src/ through tsx, as the tests run it; ~10 % slower, its
 * transform adds a `__name` call per closure created).
 * Goals (issue 11): embedded ≥ 60 % of the ceiling, node ≥ 50 %, redis ≥ 35 % with p50 < 1 ms at c1.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase } from '../helpers/db.ts';
import { pushRelease } from '../helpers/releases.ts';
import { CLK_TCK, REPO, caseTicks, hasWrk, median, ticksBetween, processTree, readProc, runWrk, spawnReady, stopChild, type LoadResult } from './lib.ts';
import { redisConnection } from '../../src/queue/redis-util.ts';
import { NODE_FLAGS } from '../../src/common/runtime.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const asJson = argv.includes('--json');
const seconds = opt('--seconds', 5);
const connections = opt('--connections', 50);
const latencySeconds = opt('--latency-seconds', 3);
const warmupSeconds = opt('--warmup-seconds', 3);
/** one-second case slices measured in alternation with the ceiling (pairedShares) */
const PAIR_ROUNDS = opt('--pair-rounds', 5);
const only = argv.includes('--only') ? new Set(argv[argv.indexOf('--only') + 1]!.split(',')) : null;
const say = (s: string) => (asJson ? process.stderr : process.stdout).write(`${s}\n`);

if (!hasWrk()) {
  process.stderr.write('bench:http needs wrk (apt-get install -y wrk)\n');
  process.exit(1);
}

// the cases run the platform as it ships (dist/, with npm start's node flags: lib.ts `shipped`): build it now, so
// what is measured is the sources as they are (BENCH_SRC=1: the sources through tsx instead)
if (!process.env.BENCH_SRC) {
  say('building dist/ (tsc -p tsconfig.build.json) …');
  execFileSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' });
}

const db = await createTestDatabase();
const prefix = `pcbench${randomBytes(4).toString('hex')}`;
await pushRelease(db.pool, {
  app: 'bench',
  scripts: {
    'hello.rhai': '"hello"',
    'kv.rhai': 'let v = kv::get("greeting"); kv::set("last", v); v',
    'kvread.rhai': 'let n = 0; for i in 0..10 { if kv::get("greeting") != () { n += 1; } } n',
    'kvincr.rhai': 'kv::incr("hits")',
  },
  routes: [{ path: '/hello', script: 'hello.rhai' }, { path: '/kv', script: 'kv.rhai' }, { path: '/kvread', script: 'kvread.rhai' }, { path: '/kvincr', script: 'kvincr.rhai' }],
});
await db.pool.query(`INSERT INTO kv (app_id, branch, key, value) SELECT id, 'main', 'greeting', '"hello"' FROM apps WHERE name = 'bench'`);

// the fetch case: its own app and a keep-alive upstream in this process that answers at once
const upstream = createServer((_req, res) => res.end('hello'));
upstream.keepAliveTimeout = 30_000;
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamPort = (upstream.address() as AddressInfo).port;
await pushRelease(db.pool, {
  app: 'benchfetch',
  scripts: { 'fetch.rhai': 'http::fetch(ctx.env.UP).body' },
  routes: [{ path: '/fetch', script: 'fetch.rhai' }],
  env: { UP: `http://127.0.0.1:${upstreamPort}/` },
  toml: `[fetch]\nallow = ["127.0.0.1:${upstreamPort}"]\n`,
});

const results: Record<string, { c50: LoadResult; c1: LoadResult; cpuUs: number; parts: Record<string, number>; paired?: number[] }> = {};
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/**
 * CPU ticks per process of a case, for the breakdown: the bench server (orchestrator), each executor process, the
 * redis-server of REDIS_URL (its pid from INFO: a private one gives exact figures) and the PostgreSQL backends
 * connected to the bench database (pg_stat_activity). The total (`cpuUs`) still counts every redis-server and
 * PostgreSQL process of the machine.
 */
async function partPids(serverPid: number): Promise<Record<string, number[]>> {
  const parts: Record<string, number[]> = { orchestrator: [serverPid] };
  processTree(serverPid).filter((p) => p.pid !== serverPid && p.comm.startsWith('node')).forEach((p, i) => (parts[`executor${i + 1}`] = [p.pid]));
  const r = redisConnection(redisUrl);
  const info = await r.info('server').catch(() => '');
  r.disconnect();
  const rp = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (rp && readProc(rp)) parts.redis = [rp];
  const dbName = new URL(db.url).pathname.slice(1);
  const { rows } = await db.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [dbName]);
  parts.postgres = rows.map((x) => x.pid);
  return parts;
}
/** the CPU ticks of the pids alive now, for ticksBetween (a PostgreSQL backend may exit during a case) */
const ticksOf = (pids: number[]) => new Map(pids.flatMap((pid) => {
  const p = readProc(pid);
  return p ? [[pid, p.ticks] as const] : [];
}));
const children: ChildProcess[] = [];

async function measure(name: string, url: string, serverPid: number): Promise<void> {
  if (only && !only.has(name) && !(name === 'ceiling_end' && only.has('ceiling'))) return;
  say(`-- ${name}: ${url}`);
  await runWrk(url, 4, 1); // warm-up
  // and at the measured concurrency, not counted: every process's JIT reaches its steady state first (a fresh
  // executor process ran its first 3 s at a quarter of its later rate, and bench:http measured that)
  if (warmupSeconds > 0) await runWrk(url, connections, warmupSeconds);
  const pids = await partPids(serverPid);
  const p0 = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, ticksOf(v)]));
  const t0 = caseTicks(serverPid);
  const c50 = await runWrk(url, connections, seconds);
  const perReq = (ticks: number) => (ticks * (1e6 / CLK_TCK)) / Math.max(1, c50.requests);
  const cpuUs = perReq(ticksBetween(t0, caseTicks(serverPid)));
  const parts = Object.fromEntries(Object.entries(pids).map(([k, v]) => [k, Math.round(perReq(ticksBetween(p0[k]!, ticksOf(v))))]));
  const c1 = await runWrk(url, 1, latencySeconds);
  const paired = name.startsWith('ceiling') || !ceilingUrl ? undefined : await pairedShares(url, ceilingUrl);
  results[name] = { c50, c1, cpuUs, parts, paired };
  say(`   c${connections}: ${c50.rps.toFixed(0)} req/s p50 ${c50.p50_ms.toFixed(2)} ms p99 ${c50.p99_ms.toFixed(2)} ms errors ${c50.errors}, CPU ${cpuUs.toFixed(0)} µs/request; c1: p50 ${c1.p50_ms.toFixed(3)} ms p99 ${c1.p99_ms.toFixed(3)} ms`);
  say(`   CPU µs/request by process: ${Object.entries(parts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (paired) say(`   paired with the ceiling, 1 s slices in turn: ${paired.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')} (median ${(median(paired) * 100).toFixed(0)}%)`);
}

/**
 * The case's share of the ceiling measured in alternation with it: PAIR_ROUNDS one-second slices of the case, each
 * between two one-second slices of the ceiling (its server runs throughout), each case slice divided by the mean
 * of the two ceiling slices around it. The host's speed drifts by tens of percent within minutes; a ratio of two
 * runs minutes apart measures that drift as much as the platform. Both servers are warm (the case's warm-up and
 * c50 run came first), and an idle fastify costs nothing while the other runs.
 */
async function pairedShares(url: string, ceiling: string): Promise<number[]> {
  const out: number[] = [];
  let before = (await runWrk(ceiling, connections, 1)).rps;
  for (let i = 0; i < PAIR_ROUNDS; i++) {
    const rps = (await runWrk(url, connections, 1)).rps;
    const after = (await runWrk(ceiling, connections, 1)).rps;
    out.push(rps / ((before + after) / 2));
    before = after;
  }
  return out;
}


async function withServer(mode: string, f: (port: number, pid: number) => Promise<void>): Promise<void> {
  if (only && !only.has(mode) && !(mode === 'embedded' && (only.has('kv') || only.has('kvread') || only.has('kvincr') || only.has('fetch')))) return;
  // executor processes start in seconds, more on a busy machine
  const { child, port } = await spawnReady(['test/bench/lib.ts', 'serve', mode, db.url, prefix], process.env, 180_000, process.env.BENCH_SRC ? [] : NODE_FLAGS);
  children.push(child);
  try {
    await f(port, child.pid!);
  } finally {
    await stopChild(child);
  }
}

/** the ceiling's server, running from the first case to the last: the paired shares measure against it */
let ceilingUrl: string | null = null;
let ceilingPid = 0;

try {
  {
    const { child, port } = await spawnReady(['test/bench/lib.ts', 'serve', 'ceiling', db.url, prefix], process.env, 60_000);
    children.push(child);
    ceilingUrl = `http://127.0.0.1:${port}/`;
    ceilingPid = child.pid!;
    await measure('ceiling', ceilingUrl, ceilingPid);
  }
  await withServer('embedded', async (port, pid) => {
    await measure('embedded', `http://127.0.0.1:${port}/apps/bench/hello`, pid);
    await measure('kv', `http://127.0.0.1:${port}/apps/bench/kv`, pid);
    await measure('kvread', `http://127.0.0.1:${port}/apps/bench/kvread`, pid);
    await measure('kvincr', `http://127.0.0.1:${port}/apps/bench/kvincr`, pid);
    await measure('fetch', `http://127.0.0.1:${port}/apps/benchfetch/fetch`, pid);
  });
  for (const mode of ['redis', 'redis_lists', 'lanes_floor', 'lists_floor']) await withServer(mode, (port, pid) => measure(mode, `http://127.0.0.1:${port}/apps/bench/hello`, pid));
  await withServer('node', (port, pid) => measure('node', `http://127.0.0.1:${port}/apps/bench/hello`, pid));
  await measure('ceiling_end', ceilingUrl, ceilingPid);
} finally {
  for (const c of children) await stopChild(c);
  const r = redisConnection(redisUrl);
  const keys = await r.keys(`${prefix}:*`).catch(() => [] as string[]);
  if (keys.length) await r.del(...keys);
  r.disconnect();
  await db.drop();
  upstream.closeAllConnections();
  upstream.close();
}

// the faster of the two ceiling runs: the host's speed drifts within minutes, and a slow ceiling flatters every share
const ceiling = Math.max(results.ceiling?.c50.rps ?? NaN, results.ceiling_end?.c50.rps ?? -Infinity);
if (asJson) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(results)) out[k] = { rps: Math.round(v.c50.rps), share: Math.round((v.c50.rps / ceiling) * 1000) / 1000, ...(v.paired ? { share_paired: Math.round(median(v.paired) * 1000) / 1000 } : {}), p50_ms: v.c1.p50_ms, p99_ms: v.c1.p99_ms, cpu_us: Math.round(v.cpuUs), cpu_us_by_process: v.parts };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} else {
  const targets: Record<string, string> = { embedded: '≥60%', node: '≥50%', redis: '≥35%, p50<1ms', kv: '≥35%', fetch: '≥20%', ceiling: '' };
  say('');
  say(`case         req/s (c${connections})  ratio  paired   p50 c1 ms  p99 c1 ms  p50 c${connections} ms  p99 c${connections} ms  CPU µs/req  target`);
  for (const [k, v] of Object.entries(results)) {
    say(
      `${k.padEnd(12)} ${v.c50.rps.toFixed(0).padStart(12)}  ${((v.c50.rps / ceiling) * 100).toFixed(0).padStart(4)}%  ${v.paired ? `${(median(v.paired) * 100).toFixed(0).padStart(5)}%` : '      '}  ${v.c1.p50_ms.toFixed(3).padStart(9)}  ${v.c1.p99_ms.toFixed(3).padStart(9)}  ${v.c50.p50_ms.toFixed(2).padStart(10)}  ${v.c50.p99_ms.toFixed(2).padStart(10)}  ${v.cpuUs.toFixed(0).padStart(10)}  ${targets[k] ?? ''}`,
    );
  }
  const a = results.ceiling?.c50.rps;
  const b = results.ceiling_end?.c50.rps;
  if (a && b && Math.abs(a - b) / Math.max(a, b) > 0.15) {
    say(`note: the ceiling moved from ${a.toFixed(0)} to ${b.toFixed(0)} req/s during this run (the host's speed drifted):`);
    say('      every share above is uncertain by about that much; run it again and compare medians');
  }
}
