/**
 * The executors' kv store (src/db/kv-store.ts) against real PostgreSQL: group commit (concurrent writes share one
 * statement; the last write of a key wins; each caller gets its own answer; a bad write fails alone) and batched
 * reads. Across processes and through the platform: kv-consistency.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.ts';
import { KV_MAX_VALUE_BYTES, kvGet, kvSet } from '../../src/db/kv.ts';
import { KvStore } from '../../src/db/kv-store.ts';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/** Statements sent through `pool` (counted; each passed on unchanged). */
function countQueries(pool: Pool): { n: number } {
  const c = { n: 0 };
  const orig = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    c.n++;
    return orig(...a);
  };
  return c;
}

describe('kv store', () => {
  let db: TestDatabase;
  let ns: { appId: number; branch: string };
  const pools: Pool[] = [];
  const store = (gather?: 'turn'): { s: KvStore; queries: { n: number } } => {
    const pool = createPool(db.url, 4);
    pools.push(pool);
    const queries = countQueries(pool);
    return { s: new KvStore({ pool, log: silentLogger, gather }), queries };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const id = (await db.pool.query<{ id: number }>(`INSERT INTO apps (name) VALUES ('kvs') RETURNING id`)).rows[0]!.id;
    ns = { appId: id, branch: 'main' };
  });
  afterAll(async () => {
    for (const p of pools) await p.end();
    await db?.drop();
  });

  it('should commit concurrent writes in one statement, the last write of a key winning', async () => {
    const { s, queries } = store();
    const before = queries.n;
    const writes = [];
    for (let i = 0; i < 50; i++) writes.push(s.set(ns, `g${i % 10}`, String(i)));
    await Promise.all(writes);
    expect(queries.n - before).toBe(1);
    for (let k = 0; k < 10; k++) expect(await kvGet(db.pool, ns, `g${k}`)).toBe(String(40 + k));
  });

  it("should gather calls made several awaits apart in one turn into one statement (an executor thread's store)", async () => {
    const { s, queries } = store('turn');
    await s.set(ns, 'turn0', '0');
    const before = queries.n;
    // like invocations resumed by one reply: each reaches its next call after a different number of awaits
    const later = async (i: number) => {
      for (let k = 0; k < i; k++) await Promise.resolve();
      return s.get(ns, 'turn0');
    };
    expect(await Promise.all(Array.from({ length: 8 }, (_, i) => later(i)))).toEqual(Array(8).fill('0'));
    expect(queries.n - before).toBe(1);
    await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      for (let k = 0; k < i; k++) await Promise.resolve();
      return s.set(ns, `turn${i}`, String(i));
    }));
    expect(queries.n - before).toBe(2);
    expect(await kvGet(db.pool, ns, 'turn7')).toBe('7');
  });

  it('should split a large batch into bounded statements', async () => {
    const { s, queries } = store();
    const before = queries.n;
    await Promise.all(Array.from({ length: 2500 }, (_, i) => s.set(ns, `many${i}`, String(i))));
    expect(queries.n - before).toBe(3); // 1000 + 1000 + 500 keys
    const mid = queries.n;
    const got = await Promise.all(Array.from({ length: 2500 }, (_, i) => s.get(ns, `many${i}`)));
    expect(got).toEqual(Array.from({ length: 2500 }, (_, i) => String(i)));
    expect(queries.n - mid).toBe(3);
  });

  it('should answer each delete as if the batch ran one write at a time', async () => {
    const { s, queries } = store();
    await kvSet(db.pool, ns, 'was', '1');
    const before = queries.n;
    const [dMissing, , dAfterSet, dWas, , dTwice, dAgain] = await Promise.all([
      s.delete(ns, 'never'), // absent → false
      s.set(ns, 'fresh', '1'),
      s.delete(ns, 'fresh'), // after a set of the same batch → true
      s.delete(ns, 'was'), // existed before the batch → true
      s.set(ns, 'was', '2'), // and is set again: the key ends up present
      s.delete(ns, 'twice'),
      s.delete(ns, 'twice'),
    ]);
    expect(queries.n - before).toBe(1);
    expect([dMissing, dAfterSet, dWas, dTwice, dAgain]).toEqual([false, true, true, false, false]);
    expect(await kvGet(db.pool, ns, 'fresh')).toBeNull();
    expect(await kvGet(db.pool, ns, 'was')).toBe('2');
  });

  it('should answer the writes of a one-key batch (its own statements) as if they ran one at a time', async () => {
    const { s, queries } = store();
    const before = queries.n;
    expect(await s.delete(ns, 'solo')).toBe(false);
    await s.set(ns, 'solo', '1');
    expect(await kvGet(db.pool, ns, 'solo')).toBe('1');
    // one key written three times in one batch: the last write (a delete) is sent; answers per write
    const [, d1, , d2] = await Promise.all([s.set(ns, 'solo', '2'), s.delete(ns, 'solo'), s.set(ns, 'solo', '3'), s.delete(ns, 'solo')]);
    expect([d1, d2]).toEqual([true, true]);
    expect(await kvGet(db.pool, ns, 'solo')).toBeNull();
    await s.set(ns, 'solo', '4');
    expect(await s.delete(ns, 'solo')).toBe(true);
    expect(queries.n - before).toBe(5);
  });

  it('should fail only the bad write of a batch', async () => {
    const { s } = store();
    // PostgreSQL's jsonb refuses \u0000 in a string: that statement fails, the others are retried alone
    const r = await Promise.allSettled([s.set(ns, 'ok1', '1'), s.set(ns, 'bad', '"\\u0000"'), s.set(ns, 'ok2', '2')]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await kvGet(db.pool, ns, 'ok1')).toBe('1');
    expect(await kvGet(db.pool, ns, 'ok2')).toBe('2');
    expect(await kvGet(db.pool, ns, 'bad')).toBeNull();
  });

  it('should refuse a value over the limit with KV_LIMIT before it reaches a batch', async () => {
    const { s } = store();
    await expect(s.set(ns, 'huge', JSON.stringify('x'.repeat(KV_MAX_VALUE_BYTES)))).rejects.toMatchObject({ code: 'KV_LIMIT' });
  });

  it('should read many keys in one statement', async () => {
    const { s, queries } = store();
    await kvSet(db.pool, ns, 'r1', '"a"');
    const before = queries.n;
    expect(await Promise.all([s.get(ns, 'r1'), s.get(ns, 'r2'), s.get(ns, 'r1')])).toEqual(['"a"', null, '"a"']);
    expect(queries.n - before).toBe(1);
  });
});
