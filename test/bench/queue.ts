/**
 * `npm run bench:queue [-- --json] [--jobs N] [--samples N] [--only CASE]`: background jobs from queue::send to handler done, at `[[queues]]`
 * concurrency 4, in one run:
 *   queue          — Redis mode (executor processes; jobs in PostgreSQL, tries dispatched over Redis)
 *   bullmq_floor   — BullMQ alone on the same Redis: an empty job through Queue.add + a Worker at concurrency 4
 *                    (the N jobs added by one addBulk call)
 *   bullmq_floor_sequential — the same, the N jobs added one `await queue.add` after another, as the platform's
 *                    case sends them (a script's loop of queue::send, each answered before the next)
 *   bullmq_floor_durable — that sequential case on a private redis-server started by the bench with
 *                    `appendonly yes`, `appendfsync always`: each add is on disk before Redis answers, as each
 *                    queue::send is committed (synchronous_commit) before it returns
 *   embedded_queue — the embedded mode (executor threads in-process, jobs in PostgreSQL)
 * each as { jobs_per_s (N jobs sent by one request, each queue::send a durable insert, until all done), p50_ms
 * (send → handler start, one job at a time) }, and for the platform cases also drain_jobs_per_s (N jobs already in
 * the store, inserted by one statement, until all done) and cpu_us_per_job (of the jobs_per_s run: this process, its
 * executor processes and the PostgreSQL backends of the bench database; Redis's CPU is not counted), and
 * senders_jobs_per_s / senders_cpu_us_per_job: the same with the N jobs sent by 8 concurrent requests;
 * cpu_us_by_process splits cpu_us_per_job: `platform` (this process: the orchestrator, in the embedded mode its
 * threads too, and the bench's own polling), each executor process, `postgres` (the bench database's backends).
 * Uses the test PostgreSQL and Redis (DATABASE_URL / REDIS_URL or the local defaults), a throwaway database and a
 * random Redis prefix.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { redisConnection } from '../../src/queue/bullmq.ts';
import { createPool } from '../../src/db/pool.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { startTestPlane, type Mode } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

const argv = process.argv.slice(2);
const asJson = argv.includes('--json');
const ji = argv.indexOf('--jobs');
const N = ji >= 0 ? Number(argv[ji + 1]) : 400;
const si = argv.indexOf('--samples');
const LATENCY_SAMPLES = si >= 0 ? Number(argv[si + 1]) : 30;
const SENDERS = 8;
// --only queue|bullmq_floor|bullmq_floor_sequential|bullmq_floor_durable|embedded_queue: one case (A/B runs of one path on a shared machine)
const oi = argv.indexOf('--only');
const only = oi >= 0 ? argv[oi + 1] : null;
const say = (s: string) => (asJson ? process.stderr : process.stdout).write(`${s}\n`);

interface Result {
  jobs_per_s: number;
  p50_ms: number;
  drain_jobs_per_s?: number;
  cpu_us_per_job?: number;
  /** PostgreSQL connection checkouts of the bench's own process per job (its statements, less LISTEN's): the
   * embedded mode's round trips per job; in Redis mode the runner's only (executor processes have their own pools) */
  pg_checkouts_per_job?: number;
  /** the same N jobs sent by SENDERS concurrent requests: jobs/s until all are done, and CPU per job */
  senders_jobs_per_s?: number;
  senders_cpu_us_per_job?: number;
  cpu_us_by_process?: Record<string, number>;
}

/** CPU ticks (1/100 s) of a process, 0 once it is gone. */
const ticksOf = (pid: string) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
};
const childPids = () => {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]! * 100) / 100;
};

async function platform(mode: Mode): Promise<Result> {
  const t = await startTestPlane(mode, { executors: 2 });
  try {
    const { appId } = await pushRelease(t.db.pool, {
      app: 'qbench',
      scripts: {
        'send.rhai': 'let n = parse_int(ctx.query.n); for i in 0..n { queue::send("q", now()); } n',
        'ping.rhai': '"pong"',
        // the job's value is its send time: the handler logs send → start
        'work.rhai': 'print(now() - ctx.json);',
      },
      routes: [{ path: '/send', method: 'POST', script: 'send.rhai' }, { path: '/ping', script: 'ping.rhai' }],
      queues: [{ name: 'q', script: 'work.rhai', concurrency: 4 }],
      // N sends in one request: on a loaded machine they take longer than the default 5 s
      limits: { timeout_ms: 30_000 },
    });
    await waitFor(async () => (await fetch(`${t.base}/apps/qbench/ping`).catch(() => null))?.status === 200, 60_000, 'executors up');
    // the bench's own queries on a pool of their own, so the plane's are counted alone
    const bp = createPool(t.db.url, 2);
    let checkouts = 0;
    t.db.pool.on('acquire', () => checkouts++);
    const doneCount = async () => (await bp.query(`SELECT count(*)::int AS n FROM jobs WHERE app_id = $1 AND state = 'done'`, [appId])).rows[0].n as number;
    // latency: one job at a time
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      await fetch(`${t.base}/apps/qbench/send?n=1`, { method: 'POST' });
      await waitFor(async () => (await doneCount()) >= i + 1, 30_000, 'job done');
    }
    await waitFor(async () => (await bp.query(`SELECT count(*)::int AS n FROM invocations WHERE app_id = $1 AND trigger = 'queue'`, [appId])).rows[0].n >= LATENCY_SAMPLES, 10_000, 'log rows');
    const { rows } = await bp.query<{ logs: { msg: string }[] }>(`SELECT logs FROM invocations WHERE app_id = $1 AND trigger = 'queue'`, [appId]);
    const lat = rows.map((r) => Number(r.logs[0]?.msg)).filter((x) => Number.isFinite(x));
    const pgPids = async () => (await bp.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)).rows.map((x) => String(x.pid));
    /** CPU ticks by role: this process, each executor process, the PostgreSQL backends together */
    const byRole = async () => {
      const out: Record<string, number> = { platform: ticksOf(String(process.pid)) };
      childPids().forEach((p, i) => (out[`executor${i + 1}`] = ticksOf(p)));
      out.postgres = (await pgPids()).reduce((a, p) => a + ticksOf(p), 0);
      return out;
    };
    const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    const cpu = async () => total(await byRole());
    // throughput: N jobs sent by one request, until all are done
    const r0 = await byRole();
    const k0 = checkouts;
    const start = performance.now();
    const r = await fetch(`${t.base}/apps/qbench/send?n=${N}`, { method: 'POST' });
    if (r.status !== 200) throw new Error(`send answered ${r.status}: ${await r.text()}`);
    await waitFor(async () => (await doneCount()) >= LATENCY_SAMPLES + N, 300_000, `${N} jobs`);
    const s = (performance.now() - start) / 1000;
    const r1 = await byRole();
    const cpuUs = (total(r1) - total(r0)) * 10_000 / N;
    const cpuByProcess = Object.fromEntries(Object.entries(r1).map(([k, v]) => [k, Math.round((v - (r0[k] ?? 0)) * 10_000 / N)]));
    const perJob = (checkouts - k0) / N;
    // drain: N jobs already in the store (one INSERT, one NOTIFY), until all are done
    const d0 = performance.now();
    await bp.query(
      `WITH j AS (INSERT INTO jobs (app_id, branch, queue, payload, max_attempts, backoff_ms) SELECT $1, 'main', 'q', '0', 3, 1000 FROM generate_series(1, $2) RETURNING 1)
       SELECT pg_notify('picloud_jobs', '0') FROM (SELECT count(*) FROM j) c`, [appId, N]);
    await waitFor(async () => (await doneCount()) >= LATENCY_SAMPLES + 2 * N, 300_000, `${N} stored jobs`);
    const drain = Math.round(N / ((performance.now() - d0) / 1000));
    // N jobs sent by SENDERS concurrent requests (N / SENDERS each): sends of several invocations share commits
    const m0 = await cpu();
    const ms0 = performance.now();
    const each = Math.ceil(N / SENDERS);
    const answers = await Promise.all(Array.from({ length: SENDERS }, () => fetch(`${t.base}/apps/qbench/send?n=${each}`, { method: 'POST' })));
    for (const a of answers) if (a.status !== 200) throw new Error(`send answered ${a.status}: ${await a.text()}`);
    await waitFor(async () => (await doneCount()) >= LATENCY_SAMPLES + 2 * N + each * SENDERS, 300_000, `${each * SENDERS} jobs of ${SENDERS} senders`);
    const multi = Math.round((each * SENDERS) / ((performance.now() - ms0) / 1000));
    const multiCpu = Math.round(((await cpu()) - m0) * 10_000 / (each * SENDERS));
    await bp.end();
    return {
      jobs_per_s: Math.round(N / s), p50_ms: median(lat), drain_jobs_per_s: drain, cpu_us_per_job: Math.round(cpuUs), pg_checkouts_per_job: Math.round(perJob * 100) / 100,
      senders_jobs_per_s: multi, senders_cpu_us_per_job: multiCpu, cpu_us_by_process: cpuByProcess,
    };
  } finally {
    await t.close();
  }
}

async function bullmqFloor(how: 'bulk' | 'sequential' = 'bulk', redisUrl = TEST_REDIS_URL): Promise<Result> {
  const prefix = `pcb${randomBytes(5).toString('hex')}`;
  const conn = redisConnection(redisUrl);
  const queue = new Queue('floor', { connection: conn, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  let started: ((at: number) => void) | null = null;
  let done = 0;
  const worker = new Worker('floor', async (job) => {
    started?.(Date.now() - (job.data as { t: number }).t);
    done++;
  }, { connection: redisConnection(redisUrl), prefix, concurrency: 4, drainDelay: 5 });
  await worker.waitUntilReady();
  try {
    const lat: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const p = new Promise<number>((res) => (started = res));
      await queue.add('j', { t: Date.now() });
      lat.push(await p);
    }
    started = null;
    const base = done;
    const t0 = performance.now();
    if (how === 'bulk') await queue.addBulk(Array.from({ length: N }, () => ({ name: 'j', data: { t: Date.now() } })));
    else for (let i = 0; i < N; i++) await queue.add('j', { t: Date.now() });
    await waitFor(() => done - base >= N, 120_000, 'bullmq floor jobs');
    return { jobs_per_s: Math.round(N / ((performance.now() - t0) / 1000)), p50_ms: median(lat) };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    conn.disconnect();
  }
}

/** A free loopback port (the OS picks it; released for the redis-server that follows). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

/** BullMQ's sequential floor on a private redis-server that fsyncs every write before answering. */
async function durableFloor(): Promise<Result> {
  const dir = mkdtempSync(path.join(tmpdir(), 'picloud-bench-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  try {
    const probe = redisConnection(url);
    try {
      await waitFor(async () => (await probe.ping().catch(() => '')) === 'PONG', 10_000, 'private redis-server');
      const cfg = await probe.config('GET', 'appendfsync');
      if ((cfg as string[])[1] !== 'always') throw new Error(`private redis-server: appendfsync is ${String(cfg)}`);
    } finally {
      probe.disconnect();
    }
    return await bullmqFloor('sequential', url);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

say(`bench:queue: ${N} jobs at concurrency 4, p50 over ${LATENCY_SAMPLES} jobs sent one at a time`);
const cases: Record<string, () => Promise<Result>> = {
  queue: () => platform('bullmq'),
  bullmq_floor: () => bullmqFloor('bulk'),
  bullmq_floor_sequential: () => bullmqFloor('sequential'),
  bullmq_floor_durable: durableFloor,
  embedded_queue: () => platform('embedded'),
};
const out: Record<string, Result> = {};
for (const [k, run] of Object.entries(cases)) if (only === null || only === k) out[k] = await run();
if (asJson) process.stdout.write(`${JSON.stringify(out)}\n`);
else {
  for (const [k, v] of Object.entries(out)) {
    const extra = v.drain_jobs_per_s === undefined ? '' : `   drain ${v.drain_jobs_per_s} jobs/s   ${v.cpu_us_per_job} CPU-µs/job   ${SENDERS} senders ${v.senders_jobs_per_s} jobs/s ${v.senders_cpu_us_per_job} CPU-µs/job`;
    say(`${k.padEnd(24)} ${String(v.jobs_per_s).padStart(6)} jobs/s   p50 send→start ${v.p50_ms} ms${extra}`);
    if (v.cpu_us_by_process) say(`${''.padEnd(24)} CPU-µs/job by process: ${Object.entries(v.cpu_us_by_process).map(([p, us]) => `${p} ${us}`).join(', ')}`);
  }
  const q = out.queue?.jobs_per_s;
  if (q !== undefined) {
    const ratio = (k: string) => (out[k] ? `${Math.round((100 * q) / out[k]!.jobs_per_s)}% of ${k}` : null);
    say(`queue (Redis mode): ${['bullmq_floor', 'bullmq_floor_sequential', 'bullmq_floor_durable'].map(ratio).filter(Boolean).join(', ')}`);
  }
}
process.exit(0);
