/**
 * `npm run bench:queue [-- --json] [--jobs N]`: background jobs from queue::send to handler done, at `[[queues]]`
 * concurrency 4, in one run:
 *   queue          — Redis mode (executor processes; jobs in PostgreSQL, tries dispatched over Redis)
 *   bullmq_floor   — BullMQ alone on the same Redis: an empty job through Queue.add + a Worker at concurrency 4
 *   embedded_queue — the embedded mode (executor threads in-process, jobs in PostgreSQL)
 * each as { jobs_per_s (N jobs sent at once, until all done), p50_ms (send → handler start, one job at a time) }.
 * Uses the test PostgreSQL and Redis (DATABASE_URL / REDIS_URL or the local defaults), a throwaway database and a
 * random Redis prefix.
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { redisConnection } from '../../src/queue/bullmq.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { startTestPlane, type Mode } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

const argv = process.argv.slice(2);
const asJson = argv.includes('--json');
const ji = argv.indexOf('--jobs');
const N = ji >= 0 ? Number(argv[ji + 1]) : 400;
const LATENCY_SAMPLES = 30;
const say = (s: string) => (asJson ? process.stderr : process.stdout).write(`${s}\n`);

interface Result {
  jobs_per_s: number;
  p50_ms: number;
}

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
    });
    await waitFor(async () => (await fetch(`${t.base}/apps/qbench/ping`).catch(() => null))?.status === 200, 60_000, 'executors up');
    const doneCount = async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE app_id = $1 AND state = 'done'`, [appId])).rows[0].n as number;
    // latency: one job at a time
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      await fetch(`${t.base}/apps/qbench/send?n=1`, { method: 'POST' });
      await waitFor(async () => (await doneCount()) >= i + 1, 30_000, 'job done');
    }
    await waitFor(async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM invocations WHERE app_id = $1 AND trigger = 'queue'`, [appId])).rows[0].n >= LATENCY_SAMPLES, 10_000, 'log rows');
    const { rows } = await t.db.pool.query<{ logs: { msg: string }[] }>(`SELECT logs FROM invocations WHERE app_id = $1 AND trigger = 'queue'`, [appId]);
    const lat = rows.map((r) => Number(r.logs[0]?.msg)).filter((x) => Number.isFinite(x));
    // throughput: N jobs sent by one request, until all are done
    const start = performance.now();
    const r = await fetch(`${t.base}/apps/qbench/send?n=${N}`, { method: 'POST' });
    if (r.status !== 200) throw new Error(`send answered ${r.status}: ${await r.text()}`);
    await waitFor(async () => (await doneCount()) >= LATENCY_SAMPLES + N, 300_000, `${N} jobs`);
    const s = (performance.now() - start) / 1000;
    return { jobs_per_s: Math.round(N / s), p50_ms: median(lat) };
  } finally {
    await t.close();
  }
}

async function bullmqFloor(): Promise<Result> {
  const prefix = `pcb${randomBytes(5).toString('hex')}`;
  const conn = redisConnection(TEST_REDIS_URL);
  const queue = new Queue('floor', { connection: conn, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  let started: ((at: number) => void) | null = null;
  let done = 0;
  const worker = new Worker('floor', async (job) => {
    started?.(Date.now() - (job.data as { t: number }).t);
    done++;
  }, { connection: redisConnection(TEST_REDIS_URL), prefix, concurrency: 4, drainDelay: 5 });
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
    await queue.addBulk(Array.from({ length: N }, () => ({ name: 'j', data: { t: Date.now() } })));
    await waitFor(() => done - base >= N, 120_000, 'bullmq floor jobs');
    return { jobs_per_s: Math.round(N / ((performance.now() - t0) / 1000)), p50_ms: median(lat) };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    conn.disconnect();
  }
}

say(`bench:queue: ${N} jobs at concurrency 4, p50 over ${LATENCY_SAMPLES} jobs sent one at a time`);
const out = { queue: await platform('bullmq'), bullmq_floor: await bullmqFloor(), embedded_queue: await platform('embedded') };
if (asJson) process.stdout.write(`${JSON.stringify(out)}\n`);
else for (const [k, v] of Object.entries(out)) say(`${k.padEnd(15)} ${String(v.jobs_per_s).padStart(6)} jobs/s   p50 send→start ${v.p50_ms} ms`);
process.exit(0);
