/**
 * `npm run bench:http [-- --json] [--seconds N] [--connections N] [--only case,case]`: in one run, with wrk (Debian package),
 *   ceiling  — a plain fastify hello-world (the machine's ceiling), in its own process
 *   embedded — a trivial route through the embedded mode (in-process worker-thread pool)
 *   bullmq   — the same through BullMQ with 2 executor processes (REDIS_URL or redis://127.0.0.1:6379)
 *   kv       — a route doing one kv::get, embedded mode
 *   bullmq-floor — the BullMQ transport alone (same ingress, batching, queue and reply lists; 2 executor processes
 *              that answer at once: no thread, script or log): the most the bullmq case can reach on this machine
 * Each case: req/s at c50 (default) and p50/p99 latency at c1; ratios to the ceiling. `--json` prints one object
 * { "<case>": { "rps", "p50_ms", "p99_ms" } } (rps at c50, latencies at c1; the table also shows c50 latencies).
 * Targets: embedded ≥ 50 % of the ceiling, bullmq ≥ 25 %; p50 < 1 ms (embedded), < 2 ms (bullmq) at c1.
 * bullmq-floor is in the table only, followed by BullMQ's own per-job cost (empty jobs, no HTTP); not in --json.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { createTestDatabase } from '../helpers/db.ts';
import { pushRelease } from '../helpers/releases.ts';
import { bullmqFloor, hasWrk, runWrk, spawnReady, stopChild, type LoadResult } from './lib.ts';
import { redisConnection } from '../../src/queue/bullmq.ts';

const argv = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const asJson = argv.includes('--json');
const seconds = opt('--seconds', 5);
const connections = opt('--connections', 50);
const latencySeconds = opt('--latency-seconds', 3);
const only = argv.includes('--only') ? new Set(argv[argv.indexOf('--only') + 1]!.split(',')) : null;
const say = (s: string) => (asJson ? process.stderr : process.stdout).write(`${s}\n`);

if (!hasWrk()) {
  process.stderr.write('bench:http needs wrk (apt-get install -y wrk)\n');
  process.exit(1);
}

const db = await createTestDatabase();
const prefix = `pcbench${randomBytes(4).toString('hex')}`;
await pushRelease(db.pool, {
  app: 'bench',
  scripts: { 'hello.rhai': '"hello"', 'kv.rhai': 'let v = kv::get("greeting"); v' },
  routes: [{ path: '/hello', script: 'hello.rhai' }, { path: '/kv', script: 'kv.rhai' }],
});
await db.pool.query(`INSERT INTO kv (app_id, branch, key, value) SELECT id, 'main', 'greeting', '"hello"' FROM apps WHERE name = 'bench'`);

const results: Record<string, { c50: LoadResult; c1: LoadResult }> = {};
const children: ChildProcess[] = [];
let floor: Awaited<ReturnType<typeof bullmqFloor>> | null = null;

async function measure(name: string, url: string): Promise<void> {
  if (only && !only.has(name)) return;
  say(`-- ${name}: ${url}`);
  await runWrk(url, 4, 1); // warm-up
  const c50 = await runWrk(url, connections, seconds);
  const c1 = await runWrk(url, 1, latencySeconds);
  results[name] = { c50, c1 };
  say(`   c${connections}: ${c50.rps.toFixed(0)} req/s p50 ${c50.p50_ms.toFixed(2)} ms p99 ${c50.p99_ms.toFixed(2)} ms errors ${c50.errors}; c1: p50 ${c1.p50_ms.toFixed(3)} ms p99 ${c1.p99_ms.toFixed(3)} ms`);
}

async function withServer(mode: string, f: (port: number) => Promise<void>): Promise<void> {
  if (only && !only.has(mode) && !(mode === 'embedded' && only.has('kv'))) return;
  const { child, port } = await spawnReady(['test/bench/lib.ts', 'serve', mode, db.url, prefix]);
  children.push(child);
  try {
    await f(port);
  } finally {
    await stopChild(child);
  }
}

try {
  await withServer('ceiling', (port) => measure('ceiling', `http://127.0.0.1:${port}/`));
  await withServer('embedded', async (port) => {
    await measure('embedded', `http://127.0.0.1:${port}/apps/bench/hello`);
    await measure('kv', `http://127.0.0.1:${port}/apps/bench/kv`);
  });
  await withServer('bullmq', (port) => measure('bullmq', `http://127.0.0.1:${port}/apps/bench/hello`));
  await withServer('bullmq-floor', (port) => measure('bullmq-floor', `http://127.0.0.1:${port}/apps/bench/hello`));
  // What BullMQ alone costs per job here (no HTTP, no executor): why invocations travel in batches (bullmq.ts).
  if (!only || only.has('bullmq-floor')) floor = await bullmqFloor(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
} finally {
  for (const c of children) await stopChild(c);
  const r = redisConnection(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  const keys = await r.keys(`${prefix}:*`).catch(() => [] as string[]);
  if (keys.length) await r.del(...keys);
  r.disconnect();
  await db.drop();
}

const ceiling = results.ceiling?.c50.rps ?? NaN;
if (asJson) {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(results)) if (k !== 'bullmq-floor') out[k] = { rps: Math.round(v.c50.rps), p50_ms: v.c1.p50_ms, p99_ms: v.c1.p99_ms };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} else {
  const targets: Record<string, string> = { embedded: '≥50%, p50<1ms', bullmq: '≥25%, p50<2ms', kv: '', ceiling: '', 'bullmq-floor': 'bound for bullmq' };
  say('');
  say(`case         req/s (c${connections})  ratio   p50 c1 ms  p99 c1 ms  p50 c${connections} ms  p99 c${connections} ms  target`);
  for (const [k, v] of Object.entries(results)) {
    say(
      `${k.padEnd(12)} ${v.c50.rps.toFixed(0).padStart(12)}  ${((v.c50.rps / ceiling) * 100).toFixed(0).padStart(4)}%  ${v.c1.p50_ms.toFixed(3).padStart(9)}  ${v.c1.p99_ms.toFixed(3).padStart(9)}  ${v.c50.p50_ms.toFixed(2).padStart(10)}  ${v.c50.p99_ms.toFixed(2).padStart(10)}  ${targets[k] ?? ''}`,
    );
  }
  if (floor) {
    say('');
    say(`bullmq floor (empty jobs, Queue.add + Worker in one process, no HTTP): ${floor.jobsPerSec.toFixed(0)} jobs/s, CPU ${floor.nodeUsPerJob.toFixed(0)} µs node + ${floor.redisUsPerJob.toFixed(0)} µs redis per job; ceiling CPU budget per request ≈ ${((2e6 / ceiling)).toFixed(0)} µs (2 cores)`);
  }
}
