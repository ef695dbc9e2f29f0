/**
 * kv::incr: an atomic increment, so concurrent invocations each count (a kv::get then kv::set of one counter lets
 * several read the same value). Both of an executor's kv paths: the thread's own connections (thread-kv.ts) and
 * host calls to the parent thread (a pool built from connection fields gives its threads no database URL).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, poolFromFields, type TestDatabase } from '../helpers/db.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

const SCRIPTS = {
  'hit.rhai': 'kv::incr("hits")',
  'by.rhai': 'kv::incr(ctx.query.key, ctx.query.by.parse_int())',
  'racy.rhai': 'let n = (kv::get("racy") ?? 0) + 1; kv::set("racy", n); n',
  'bad.rhai': `
    kv::set("text", "seven");
    kv::set("edge", 9007199254740990);
    let errors = [];
    for key in ["text", "edge", "edge"] {
        try { kv::incr(key); } catch (e) { errors.push(e.message); }
    }
    #{ errors: errors, text: kv::get("text"), edge: kv::get("edge") }`,
};
const ROUTES = [
  { path: '/hit', script: 'hit.rhai' },
  { path: '/by', script: 'by.rhai' },
  { path: '/racy', script: 'racy.rhai' },
  { path: '/bad', script: 'bad.rhai' },
];

for (const path of ['thread', 'host calls'] as const) {
  describe(`kv::incr (${path})`, () => {
    let db: TestDatabase;
    let fields: pg.Pool | null = null;
    let t: TestPlane;

    beforeAll(async () => {
      db = await createTestDatabase();
      if (path === 'host calls') fields = poolFromFields(db.url);
      t = await startTestPlane('embedded', { db: fields ? { ...db, pool: fields } : db });
      await pushRelease(db.pool, { app: 'ctr', scripts: SCRIPTS, routes: ROUTES });
      await waitFor(() => t.plane.routes.size() === 1, 5000, 'route table');
    }, 120_000);
    afterAll(async () => {
      await t?.close();
      await fields?.end();
      await db?.drop();
    });

    const get = async (p: string) => {
      const r = await fetch(`${t.base}/apps/ctr${p}`);
      return { status: r.status, body: (await r.json()) as unknown };
    };

    it('should count every one of 60 concurrent increments, each answered with its own new value', async () => {
      const rs = await Promise.all(Array.from({ length: 60 }, () => get('/hit')));
      expect(rs.map((r) => r.status)).toEqual(rs.map(() => 200));
      expect(rs.map((r) => r.body as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      const { rows } = await db.pool.query<{ value: number }>(`SELECT value FROM kv WHERE key = 'hits'`);
      expect(rows[0]!.value).toBe(60);
    });

    it('should count increments of many keys sent at once (one statement for the lot), each key its own', async () => {
      const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => get(`/by?key=many${i % 8}&by=${1 + (i % 3)}`)));
      expect(rs.map((r) => r.status)).toEqual(rs.map(() => 200));
      const { rows } = await db.pool.query<{ key: string; value: number }>(`SELECT key, value FROM kv WHERE key LIKE 'many%' ORDER BY key`);
      const want = Array.from({ length: 8 }, (_, k) => Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 8 === k).reduce((s, i) => s + 1 + (i % 3), 0));
      expect(rows.map((r) => r.value)).toEqual(want);
    });

    it('should lose updates with get then set under the same load (why kv::incr exists)', async () => {
      const rs = await Promise.all(Array.from({ length: 60 }, () => get('/racy')));
      expect(rs.map((r) => r.status)).toEqual(rs.map(() => 200));
      const { rows } = await db.pool.query<{ value: number }>(`SELECT value FROM kv WHERE key = 'racy'`);
      // the invocations' kv:: calls interleave: fewer than 60 increments survive
      expect(rows[0]!.value).toBeLessThan(60);
    });

    it('should add any integer amount, start an absent key at 0, and go below zero', async () => {
      expect((await get('/by?key=a&by=5')).body).toBe(5);
      expect((await get('/by?key=a&by=-7')).body).toBe(-2);
      expect((await get('/by?key=b&by=0')).body).toBe(0);
    });

    it('should refuse a value that is not an integer or a result past 2^53 - 1, as a catchable error, and change nothing', async () => {
      const r = await get('/bad');
      expect(r.status).toBe(200);
      const b = r.body as { errors: string[]; text: string; edge: number };
      expect(b.errors).toHaveLength(2);
      expect(b.errors[0]).toMatch(/kv::incr: the value of "text" is not an integer/);
      expect(b.errors[1]).toMatch(/kv::incr: the value of "edge" would pass ±9007199254740991/);
      expect(b.text).toBe('seven');
      expect(b.edge).toBe(9007199254740991);
    });
  });
}
