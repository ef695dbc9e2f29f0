/**
 * Health endpoints of the cluster roles that had none: an executor process (`picloud executor --port N`) and an
 * orchestrator (`/metrics`). `/healthz` answers while the process lives, `/readyz` says whether it can work
 * (database, Redis, a ready thread, the preload listener; 503 with the problem otherwise), `/metrics` needs a
 * token like the manager's. Uses a redis-server of its own on a free port, stopped to see readiness fail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeArgsFor } from '../../src/common/runtime.ts';
import { insertToken, newToken } from '../../src/db/tokens.ts';
import { spawnExecutor } from '../../src/orchestrator/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { missing } from '../helpers/needs.ts';
import { freePort } from '../helpers/ports.ts';
import { haveRedisServer, startRedis, stopRedis } from '../helpers/private-redis.ts';
import { waitFor } from '../helpers/releases.ts';

const skip = missing('redis-server', haveRedisServer, 'apt-get install -y redis-server');

async function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: r.status, body: await r.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

function stop(c: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (c.exitCode !== null || c.signalCode !== null) return res();
    c.once('exit', () => res());
    c.kill('SIGKILL');
  });
}

describe.skipIf(skip)('health endpoints of executor processes and orchestrators', () => {
  let db: TestDatabase;
  let redis: ChildProcess;
  let executor: ChildProcess;
  let orchestrator: ChildProcess;
  let execPort: number;
  let orchPort: number;
  const token = newToken();

  beforeAll(async () => {
    db = await createTestDatabase();
    await insertToken(db.pool, 'monitor', token, 'read');
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    execPort = await freePort();
    orchPort = await freePort();
    const env = { ...process.env, REDIS_URL: `redis://127.0.0.1:${redisPort}`, DATABASE_URL: db.url, PICLOUD_LOG_LEVEL: 'error', PICLOUD_METRICS_PUBLIC: '' };
    executor = spawnExecutor(env, ['--prefix', `pceh${randomBytes(4).toString('hex')}`, '--threads', '1', '--thread-heap-mb', '64', '--port', String(execPort)]);
    orchestrator = spawn(process.execPath, [...nodeArgsFor('cli/main'), 'orchestrator', '--executors', '0'], { env: { ...env, PORT: String(orchPort) }, stdio: 'ignore' });
    await waitFor(async () => (await get(execPort, '/readyz')).status === 200, 90_000, 'executor ready');
    await waitFor(async () => (await get(orchPort, '/readyz')).status === 200, 90_000, 'orchestrator ready');
  }, 200_000);
  afterAll(async () => {
    for (const c of [executor, orchestrator, redis]) if (c) await stop(c);
    await db?.drop();
  });

  it('should answer /healthz and a /readyz that checks the database, Redis, the threads and the preload listener', async () => {
    expect(await get(execPort, '/healthz')).toEqual({ status: 200, body: '{"ok":true}' });
    const ready = JSON.parse((await get(execPort, '/readyz')).body) as Record<string, unknown>;
    expect(ready).toMatchObject({ ok: true, problems: [], mode: 'executor', pool: { threads: 1 } });
  });

  it('should serve /metrics with a token only, on an executor and on an orchestrator', async () => {
    for (const port of [execPort, orchPort]) {
      expect((await get(port, '/metrics')).status).toBe(401);
      const m = await get(port, '/metrics', token);
      expect(m.status).toBe(200);
      expect(m.body).toMatch(/^process_cpu_seconds_total \d/m);
      expect(m.body).toMatch(/^picloud_db_up 1$/m);
    }
    expect((await get(execPort, '/metrics', token)).body).toMatch(/^picloud_plane_pool_threads 1$/m);
    expect((await get(execPort, '/metrics', token)).body).toMatch(/^picloud_plane_pool_unlogged 0$/m);
    expect((await get(orchPort, '/metrics', token)).body).toMatch(/^picloud_plane_dispatch_in_flight \d+$/m);
  });

  it('should answer /readyz 503 naming Redis while Redis is down, and /healthz 200', async () => {
    await stopRedis(redis);
    for (const port of [execPort, orchPort]) {
      await waitFor(async () => (await get(port, '/readyz')).status === 503, 15_000, 'not ready without Redis');
      expect(JSON.parse((await get(port, '/readyz')).body)).toMatchObject({ ok: false, problems: expect.arrayContaining(['redis unavailable']) });
      expect((await get(port, '/healthz')).status).toBe(200);
    }
  }, 60_000);
});
