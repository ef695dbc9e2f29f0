/** The invocation log: batched writes, one NOTIFY per batch, retention by count per app and by age. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvocationLog, listInvocations, pruneInvocations, type InvocationRow } from '../../src/db/invocations.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

describe('invocation log', () => {
  let db: TestDatabase;
  let appA: number;
  let appB: number;
  const row = (appId: number, app: string, i: number): InvocationRow => ({
    appId, app, branch: 'main', releaseId: null, trigger: 'http', route: '/r', method: 'GET', path: `/r/${i}`, status: 200,
    durationMs: 0.5, operations: 3, cold: false, logs: [{ level: 'print', msg: `line ${i}`, t: 0 }], error: null,
  });
  beforeAll(async () => {
    db = await createTestDatabase();
    appA = (await db.pool.query(`INSERT INTO apps (name) VALUES ('a') RETURNING id`)).rows[0].id;
    appB = (await db.pool.query(`INSERT INTO apps (name) VALUES ('b') RETURNING id`)).rows[0].id;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('should write buffered rows in batches and notify listeners', async () => {
    const listener = await db.pool.connect();
    const seen: string[] = [];
    listener.on('notification', (n) => seen.push(n.payload ?? ''));
    await listener.query('LISTEN picloud_invocations');
    const log = new InvocationLog(db.pool, { flushMs: 20, maxBatch: 50 });
    for (let i = 0; i < 120; i++) log.add(row(appA, 'a', i));
    await log.close();
    const rows = await listInvocations(db.pool, appA, { limit: 500 });
    expect(rows).toHaveLength(120);
    expect(rows[0]).toMatchObject({ path: '/r/119', status: 200, logs: [{ level: 'print', msg: 'line 119' }] });
    await new Promise((r) => setTimeout(r, 100));
    // one notification per batch INSERT, whose id ranges cover exactly the 120 rows
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.length).toBeLessThan(120);
    const ids = new Set(rows.map((r) => r.id));
    let covered = 0;
    for (const p of seen.map((s) => JSON.parse(s) as { first: number; last: number })) {
      for (let id = p.first; id <= p.last; id++) if (ids.has(id)) covered++;
    }
    expect(covered).toBe(120);
    await listener.query('UNLISTEN *');
    listener.release();
  });

  it('should keep at most maxPerApp rows per app and drop rows older than maxAgeMs', async () => {
    const log = new InvocationLog(db.pool);
    for (let i = 0; i < 30; i++) log.add(row(appB, 'b', i));
    await log.close();
    await db.pool.query(`UPDATE invocations SET created_at = now() - interval '2 days' WHERE app_id = $1 AND path = '/r/0'`, [appB]);
    await pruneInvocations(db.pool, [appA], { maxPerApp: 10, maxAgeMs: 24 * 3600_000 });
    expect(await listInvocations(db.pool, appA, { limit: 500 })).toHaveLength(10);
    expect((await listInvocations(db.pool, appA, { limit: 1 }))[0]!.path).toBe('/r/119');
    const b = await listInvocations(db.pool, appB, { limit: 500 });
    expect(b).toHaveLength(29); // only the aged row went; appB was not count-pruned
  });
});
