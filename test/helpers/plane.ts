/**
 * Start the invocation plane in one mode (embedded worker-thread pool, or BullMQ with N executor processes on a
 * random queue prefix) behind a fastify server on 127.0.0.1:0, against a fresh test database.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/common/config.ts';
import { silentLogger } from '../../src/common/log.ts';
import { startInvocationPlane, type InvocationPlane } from '../../src/orchestrator/index.ts';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from './db.ts';
import { redisConnection, within } from '../../src/queue/bullmq.ts';

export type Mode = 'embedded' | 'bullmq';

export interface TestPlane {
  db: TestDatabase;
  plane: InvocationPlane;
  app: FastifyInstance;
  base: string;
  prefix: string;
  close(): Promise<void>;
}

export async function startTestPlane(mode: Mode, opts: { executors?: number; maxQueue?: number; db?: TestDatabase; /** BullMQ: executor processes to spawn (default executors) */ spawn?: number; /** BullMQ: Redis to use (default TEST_REDIS_URL) */ redisUrl?: string; /** extra environment for the config */ env?: NodeJS.ProcessEnv; /** Redis mode: executor threads in the plane (a node) */ localThreads?: number; /** Redis mode: threads of each spawned executor process (default: the machine's cores shared) */ executorThreads?: number; /** Redis key prefix (default: a fresh one; another plane's: a second orchestrator of its cluster) */ prefix?: string; /** invocation-log rows per app and second of the in-process pool */ logRowsPerSecond?: number } = {}): Promise<TestPlane> {
  const db = opts.db ?? (await createTestDatabase());
  const prefix = opts.prefix ?? `pct${randomBytes(5).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: db.url,
    // 3 threads: an app may hold 2 of them (fair share: threads − 1)
    PICLOUD_EXECUTORS: String(opts.executors ?? 3),
    PICLOUD_LOG_LEVEL: 'warn',
    ...(mode === 'bullmq' ? { REDIS_URL: opts.redisUrl ?? TEST_REDIS_URL } : {}),
    ...opts.env,
  };
  const config = loadConfig(env);
  const plane = await startInvocationPlane({
    config, pool: db.pool, log: silentLogger, queuePrefix: prefix, maxQueue: opts.maxQueue,
    spawnExecutors: mode === 'bullmq' ? (opts.spawn ?? opts.executors ?? 2) : 0, databaseUrl: db.url, threadHeapMb: 96, localThreads: opts.localThreads, executorThreads: opts.executorThreads, logRowsPerSecond: opts.logRowsPerSecond,
  });
  const spawned = mode === 'bullmq' ? (opts.spawn ?? opts.executors ?? 2) : 0;
  if (spawned > 0) await waitForExecutors(opts.redisUrl ?? TEST_REDIS_URL, prefix, spawned);
  const app = Fastify({ bodyLimit: 1024 * 1024 });
  await app.register(plane.ingressPlugin);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  return {
    db, plane, app, prefix, base: `http://127.0.0.1:${addr.port}`,
    async close() {
      await app.close();
      await plane.close();
      // a second orchestrator of another plane's cluster leaves its keys to that plane
      if (mode === 'bullmq' && !opts.prefix) await dropPrefix(opts.redisUrl ?? TEST_REDIS_URL, prefix);
      if (!opts.db) await db.drop();
    },
  };
}

/**
 * Wait until `n` executor processes on `prefix` take invocations: they start in seconds on a busy machine and the
 * first request must not race them (each sets its heartbeat key when it starts taking invocations).
 */
export async function waitForExecutors(redisUrl: string, prefix: string, n: number): Promise<void> {
  const r = redisConnection(redisUrl);
  try {
    const until = Date.now() + 60_000;
    while ((await r.keys(`${prefix}:exec:*`)).length < n) {
      if (Date.now() > until) throw new Error(`${n} executor processes did not start within 60 s`);
      await new Promise((res) => setTimeout(res, 100));
    }
  } finally {
    r.disconnect();
  }
}

/** Delete a test's Redis keys; best effort: a Redis that is down (restart tests) must not hold the close. */
export async function dropPrefix(redisUrl: string, prefix: string): Promise<void> {
  const r = redisConnection(redisUrl);
  const up = await within(new Promise<boolean>((res) => r.once('ready', () => res(true))), 1000, false);
  const keys = up ? await within(r.keys(`${prefix}:*`), 3000, [] as string[]) : [];
  if (keys.length) await within(r.del(...keys), 3000, 0);
  r.disconnect();
}
