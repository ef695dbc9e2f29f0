/**
 * A real PiCloud server for integration tests: `buildServer` on 127.0.0.1:0 with a fresh migrated database
 * (createTestDatabase), a temp PICLOUD_HOME and an admin token, and the invocation plane (ingress) unless
 * `ingress: false`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/common/config.ts';
import { silentLogger, type Logger } from '../../src/common/log.ts';
import type { Pool } from '../../src/db/pool.ts';
import { insertToken, newToken } from '../../src/db/tokens.ts';
import type { KeyedMutex } from '../../src/git/push-lock.ts';
import { buildServer } from '../../src/manager/server.ts';
import { startInvocationPlane, type InvocationPlane } from '../../src/orchestrator/index.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';
import { dropPrefix, waitForExecutors } from './plane.ts';

export interface TestServer {
  url: string;
  port: number;
  token: string;
  pool: Pool;
  config: Config;
  app: FastifyInstance;
  db: TestDatabase;
  /** the invocation plane (null with `ingress: false`) */
  plane: InvocationPlane | null;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** extra environment for loadConfig (e.g. PICLOUD_REQUEST_TIMEOUT_MS) */
  env?: Record<string, string>;
  /** mount the invocation plane (default true); a plane that fails to start fails the test */
  ingress?: boolean;
  onPush?(e: { app: string; start: number; end: number; ok: boolean }): void;
  pushLock?: KeyedMutex;
  /** override the git hooks directory */
  hooksDir?: string;
  /** run `[[queues]]` jobs (default false) */
  jobs?: boolean;
  /** a logger for the server (default: silent) */
  log?: Logger;
  /** with REDIS_URL in `env`: executor processes to spawn on a random key prefix (default none) */
  spawnExecutors?: number;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const db = await createTestDatabase();
  const home = mkdtempSync(path.join(tmpdir(), 'picloud-home-'));
  const config = loadConfig({ PICLOUD_HOME: home, PORT: '0', HOST: '127.0.0.1', PICLOUD_DOMAIN: 'localhost', PICLOUD_LOG_LEVEL: 'silent', PICLOUD_EXECUTORS: '1', ...opts.env });
  const token = newToken();
  await insertToken(db.pool, 'test-admin', token);

  const spawn = config.redisUrl ? (opts.spawnExecutors ?? 0) : 0;
  const queuePrefix = `pct${randomBytes(5).toString('hex')}`;
  const plane: InvocationPlane | null = opts.ingress === false
    ? null
    : await startInvocationPlane({ config, pool: db.pool, log: silentLogger, schedules: false, jobs: opts.jobs ?? false, ...(spawn ? { spawnExecutors: spawn, queuePrefix, databaseUrl: db.url } : {}) });
  if (plane && spawn) await waitForExecutors(config.redisUrl!, queuePrefix, spawn);
  const app = await buildServer({
    config,
    pool: db.pool,
    log: opts.log ?? silentLogger,
    ingressPlugin: plane?.ingressPlugin,
    plane: plane ?? undefined,
    onPush: opts.onPush,
    pushLock: opts.pushLock,
    hooksDir: opts.hooksDir,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    pool: db.pool,
    config,
    app,
    db,
    plane,
    async close() {
      await app.close().catch(() => {});
      await plane?.close().catch(() => {});
      if (plane && spawn) await dropPrefix(config.redisUrl!, queuePrefix);
      await db.drop();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
