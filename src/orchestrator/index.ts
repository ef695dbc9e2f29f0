/**
 * The invocation plane: route table (LISTEN 'picloud_releases'), dispatch (in-process worker-thread pool without
 * REDIS_URL; BullMQ to executor processes with it, optionally spawning them), schedules, and the ingress plugin
 * bound to them. `picloud up` and `picloud orchestrator` call `startInvocationPlane`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { FastifyPluginAsync } from 'fastify';
import { defaultThreads, type Config } from '../common/config.ts';
import { nodeArgsFor } from '../common/runtime.ts';
import type { Logger } from '../common/log.ts';
import type { Pool } from '../db/pool.ts';
import { createLocalDispatcher, createNodeDispatcher, type Dispatcher } from '../queue/dispatch.ts';
import { ExecutorPool } from '../executor/pool.ts';
import { createBullmqSchedules, createTimerSchedules, type ScheduleDriver, type ScheduleSpec } from '../manager/schedules.ts';
import { ingressPlugin } from './ingress.ts';
import { InvocationLog } from '../db/invocations.ts';
import { JobSends } from '../db/job-sends.ts';
import { JobRunner } from './job-runner.ts';
import { RouteTable, runningSchedules, targetOf, type BranchEntry } from './route-table.ts';

export interface InvocationPlaneDeps {
  config: Config;
  pool: Pool;
  log: Logger;
  /** BullMQ key prefix (default 'picloud'; tests use a random one) */
  queuePrefix?: string;
  /** BullMQ mode: spawn this many executor processes (default: none; `up` passes config.executors) */
  spawnExecutors?: number;
  /** connection string handed to spawned executors (default: config.databaseUrl) */
  databaseUrl?: string;
  /** run schedules (default true) */
  schedules?: boolean;
  /** run `[[queues]]` jobs (default: where schedules run) */
  jobs?: boolean;
  /** invocations allowed to wait (embedded: per pool; BullMQ: in flight per orchestrator) before 503 */
  maxQueue?: number;
  /** BullMQ mode: worker threads per spawned executor process (default: sharedThreads, the machine's split among them) */
  executorThreads?: number;
  /** V8 heap cap per executor thread in MB (default 256); a script exceeding it crashes its thread → 502 */
  threadHeapMb?: number;
  /** invocation-log rows per app and second of the in-process pool (default LOG_ROWS_PER_SECOND; lower in tests) */
  logRowsPerSecond?: number;
  /**
   * Redis mode: executor threads in this process (`picloud orchestrator --executors N`). Invocations go to them
   * first and spill over to the Redis executors only when they are saturated. Default 0: Redis only.
   */
  localThreads?: number;
}

export interface InvocationPlane {
  ingressPlugin: FastifyPluginAsync;
  routes: RouteTable;
  dispatcher: Dispatcher;
  /** the `[[queues]]` job runner (null where jobs do not run) */
  jobs: JobRunner | null;
  /** resolves once this process's route table serves the release (see RouteTable.waitForRelease) */
  waitForRelease(app: string, branch: string, releaseId: number | null, timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
  stats(): Record<string, unknown>;
  /** readiness: the database answers, the route table is loaded and listening, Redis answers (when used) */
  ready(): Promise<{ ok: boolean; problems: string[] }>;
}

/** The schedules that run for a branch: a preview runs its [[schedules]] only with `[preview] schedules = true`. */
export function specsOf(e: BranchEntry): ScheduleSpec[] {
  return runningSchedules(e).map((s) => ({ idx: s.idx, cron: s.cron, overlap: s.overlap === true, target: targetOf(e, s) }));
}

/**
 * Spawn one `picloud executor` child process. Its stdin is a pipe from this process and `--exit-with-parent`
 * makes it stop when that pipe closes, so executors never outlive `picloud up`, even after a SIGKILL.
 */
export function spawnExecutor(env: NodeJS.ProcessEnv, args: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeArgsFor('cli/main'), 'executor', '--exit-with-parent', ...args], { env, stdio: ['pipe', 'inherit', 'inherit'] });
}

/**
 * Threads of each of `n` executor processes spawned on this machine: they share its cores + 1 (at least 2 each, so
 * an app's fair share, threads − 1, is never 0), rather than each taking cores + 1 as one on a node of its own does.
 * Measured (bench:queue, 2-core VM, 2 executor processes): 3 threads each, 1,790 jobs/s at 800 CPU-µs per job; 2
 * each, 2,570 at 550: six isolates on two cores woke and slept more than four.
 */
export function sharedThreads(n: number): number {
  return Math.max(2, Math.ceil(defaultThreads() / Math.max(1, n)));
}

/** Start the route table, dispatch and schedules; returns the bound ingress plugin. */
export async function startInvocationPlane(deps: InvocationPlaneDeps): Promise<InvocationPlane> {
  const { config, pool } = deps;
  const log = deps.log.child({ component: 'orchestrator' });
  const routes = new RouteTable(pool, log);
  let dispatcher: Dispatcher;
  let schedules: ScheduleDriver | null = null;
  let execPool: ExecutorPool | null = null;
  const children: ChildProcess[] = [];
  let onRedisReconnect: ((f: () => void) => void) | null = null;
  let scheduleQueue: { close(): Promise<void> } | null = null;
  // queue::send from this process's executor threads: the job runner below is told of each commit directly
  const jobSends = new JobSends({ pool });

  if (config.redisUrl) {
    // loaded only with Redis: the embedded mode never pays for bullmq + ioredis. HTTP invocations travel on plain
    // lists (redis-lists.ts); BullMQ carries the schedules only.
    const { createListDispatcher } = await import('../queue/redis-lists.ts');
    const remote = await createListDispatcher({ redisUrl: config.redisUrl, prefix: deps.queuePrefix, log, maxInFlight: deps.maxQueue, lanes: config.lanes });
    dispatcher = remote;
    onRedisReconnect = (f) => remote.onReconnect(f);
    if (deps.localThreads && deps.localThreads > 0) {
      const p = new ExecutorPool({ pool, log: log.child({ component: 'executor' }), threads: deps.localThreads, maxQueue: deps.maxQueue, maxHeapMb: deps.threadHeapMb, appShare: config.appShare ?? undefined, appQueue: config.appQueue, jobSends, logRowsPerSecond: deps.logRowsPerSecond });
      await p.start();
      execPool = p;
      dispatcher = createNodeDispatcher((job) => p.tryRun(job), remote, () => p.close());
    }
    if (deps.schedules !== false) {
      const { createScheduleQueue } = await import('../queue/bullmq.ts');
      const q = await createScheduleQueue({ redisUrl: config.redisUrl, prefix: deps.queuePrefix, log });
      scheduleQueue = q;
      schedules = createBullmqSchedules(q.queue, log);
    }
    const n = deps.spawnExecutors ?? 0;
    const dbUrl = deps.databaseUrl ?? config.databaseUrl;
    for (let i = 0; i < n; i++) {
      const env = { ...process.env, REDIS_URL: config.redisUrl, DATABASE_URL: dbUrl ?? '', PICLOUD_LOG_LEVEL: config.logLevel };
      const args = [...(deps.queuePrefix ? ['--prefix', deps.queuePrefix] : []), ...(deps.threadHeapMb ? ['--thread-heap-mb', String(deps.threadHeapMb)] : []), '--threads', String(deps.executorThreads ?? sharedThreads(n))];
      children.push(spawnExecutor(env, args));
    }
  } else {
    const p = new ExecutorPool({ pool, log: log.child({ component: 'executor' }), threads: config.executors, maxQueue: deps.maxQueue, maxHeapMb: deps.threadHeapMb, appShare: config.appShare ?? undefined, appQueue: config.appQueue, jobSends, logRowsPerSecond: deps.logRowsPerSecond });
    await p.start();
    execPool = p;
    dispatcher = createLocalDispatcher((job) => p.run(job), () => p.close());
    if (deps.schedules !== false) schedules = createTimerSchedules(dispatcher, log, (row) => p.invocationLog?.add(row));
  }

  if (schedules) {
    const s = schedules;
    const all = () => routes.entries().map((e) => ({ app: e.app, branch: e.branch, specs: specsOf(e) }));
    routes.onChange((changes, full) => {
      if (full) void s.replaceAll(all());
      else for (const c of changes) void s.replace(c.app, c.branch, c.entry ? specsOf(c.entry) : []);
    });
    // a restarted Redis may have come back empty: re-create every job scheduler
    onRedisReconnect?.(() => void s.replaceAll(all()).catch(() => {}));
  }
  // with Redis, executor processes run `[[queues]]` jobs (executor/process.ts: local-first, no Redis hop per job);
  // an orchestrator runs them too only on threads of its own (a node), spilling over as its invocations do
  const jobs = (deps.jobs ?? deps.schedules !== false) && (!config.redisUrl || execPool)
    ? new JobRunner({ pool, routes, dispatcher, log: log.child({ component: 'jobs' }), exclusive: !config.redisUrl, sends: jobSends })
    : null;
  await routes.start();
  await jobs?.start();

  // requests the ingress answers itself (no route, wrong method, body too large) are logged from here
  const ingressLog = new InvocationLog(pool, { onError: (err) => log.error({ err }, 'invocation log flush failed') });
  const plugin: FastifyPluginAsync = async (app) => {
    await app.register(ingressPlugin, { routes, dispatcher, log, record: (row) => ingressLog.add(row) });
  };

  return {
    ingressPlugin: plugin,
    routes,
    dispatcher,
    waitForRelease: (app, branch, releaseId, timeoutMs) => routes.waitForRelease(app, branch, releaseId, timeoutMs),
    jobs,
    async ready() {
      const problems: string[] = [];
      const db = await Promise.race([
        pool.query('SELECT 1').then(() => true, () => false),
        new Promise<boolean>((res) => setTimeout(() => res(false), 2000).unref()),
      ]);
      if (!db) problems.push('database unavailable');
      if (!routes.live()) problems.push('route table not loaded');
      if (dispatcher.ping && !(await dispatcher.ping())) problems.push('redis unavailable');
      return { ok: problems.length === 0, problems };
    },
    stats: () => ({
      mode: dispatcher.mode,
      ...(jobs ? { jobs: jobs.stats() } : {}),
      branches: routes.size(),
      schedules: schedules?.count() ?? 0,
      dispatch: dispatcher.stats(),
      ...(execPool ? { pool: execPool.stats() } : {}),
      executorProcesses: children.length,
    }),
    async close() {
      // executors close within a few seconds even with Redis gone (in parallel with the rest); one that does not
      // is killed
      const stopping = Promise.all(children.map((c) => new Promise<void>((res) => {
        if (c.exitCode !== null || c.signalCode !== null) return res();
        const kill = setTimeout(() => c.kill('SIGKILL'), 8000);
        c.once('exit', () => {
          clearTimeout(kill);
          res();
        });
        c.kill('SIGTERM');
      })));
      await schedules?.close();
      await jobs?.close();
      await routes.close();
      await dispatcher.close();
      await scheduleQueue?.close();
      await ingressLog.close();
      await stopping;
    },
  };
}
