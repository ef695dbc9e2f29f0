/**
 * kv:: through the parent thread (host calls), the path a pool takes when its threads serve no kv themselves (more
 * than THREAD_KV_MAX_THREADS threads, or a database pool given without a connection string): here a pool built from
 * connection fields, so the threads get no database URL (executor/thread-kv.ts, pool.ts threadKvUrl).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, poolFromFields, type TestDatabase } from '../helpers/db.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

describe('kv through host calls', () => {
  let db: TestDatabase;
  let fields: pg.Pool;
  let t: TestPlane;

  beforeAll(async () => {
    db = await createTestDatabase();
    fields = poolFromFields(db.url);
    expect(fields.options.connectionString).toBeUndefined();
    t = await startTestPlane('embedded', { db: { ...db, pool: fields } });
    await pushRelease(db.pool, {
      app: 'hc',
      scripts: { 'count.rhai': 'let n = kv::get("n") ?? 0; kv::set("n", n + 1); kv::delete("gone"); #{ n: n + 1, keys: kv::keys("") }' },
      routes: [{ path: '/count', script: 'count.rhai' }],
    });
    await waitFor(() => t.plane.routes.size() === 1, 5000, 'route table');
  });
  afterAll(async () => {
    await t?.close();
    await fields?.end();
    await db?.drop();
  });

  it('should read, write, delete and list keys, each request seeing the previous one\'s write', async () => {
    for (let i = 1; i <= 3; i++) {
      const r = await fetch(`${t.base}/apps/hc/count`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ n: i, keys: ['n'] });
    }
    const { rows } = await db.pool.query<{ value: number }>(`SELECT value FROM kv WHERE key = 'n'`);
    expect(rows[0]!.value).toBe(3);
  });
});
