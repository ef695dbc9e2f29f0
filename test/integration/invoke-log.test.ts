/**
 * The invocation log: batched writes (COPY), one NOTIFY per batch, hostile text stored without failing a batch,
 * retention by count per app and by age; the rate allowance under load, applied by the executor threads before they
 * build a row and by the log, counting every invocation past it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listInvocations } from '../../src/db/dashboard.ts';
import { InvocationLog, pruneInvocations, type InvocationRow } from '../../src/db/invocations.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

describe('invocation log', () => {
  let db: TestDatabase;
  let appA: number;
  let appB: number;
  const row = (appId: number, app: string, i: number): InvocationRow => ({
    appId, app, branch: 'main', releaseId: null, trigger: 'http', route: '/r', method: 'GET', path: `/r/${i}`, status: 200,
    durationMs: 0.5, operations: 3, cold: false, logs: [{ level: 'print', msg: `line ${i}`, t: 0 }], error: null, at: Date.now(),
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

  it('should write rows that arrive during a flush with the next timer, not in a COPY of their own right after it', async () => {
    const listener = await db.pool.connect();
    let batches = 0;
    listener.on('notification', () => batches++);
    await listener.query('LISTEN picloud_invocations');
    try {
      const log = new InvocationLog(db.pool, { flushMs: 100 });
      // a steady stream for ~600 ms: one batch per 100 ms timer (draining until empty wrote one per round trip)
      const until = Date.now() + 600;
      let n = 0;
      while (Date.now() < until) {
        for (let i = 0; i < 5; i++) log.add(row(appB, 'b', n++));
        await new Promise((r) => setTimeout(r, 2));
      }
      await log.close();
      await new Promise((r) => setTimeout(r, 100));
      expect((await db.pool.query('SELECT count(*)::int AS n FROM invocations WHERE app_id = $1', [appB])).rows[0].n).toBe(n);
      expect(batches).toBeGreaterThanOrEqual(5);
      expect(batches).toBeLessThanOrEqual(10);
    } finally {
      await listener.query('UNLISTEN *');
      listener.release();
      await db.pool.query(`DELETE FROM invocations WHERE app_id = $1`, [appB]);
    }
  });

  it('should record each invocation at its own start time, not at the time its batch was written', async () => {
    const log = new InvocationLog(db.pool, { flushMs: 20, maxBatch: 50 });
    const started = Date.now() - 4000;
    log.add({ ...row(appB, 'b', 999), at: started });
    await log.close();
    const [r] = await listInvocations(db.pool, appB, { limit: 1 });
    expect(r!.path).toBe('/r/999');
    expect(Date.parse(r!.createdAt)).toBe(started);
    await db.pool.query(`DELETE FROM invocations WHERE app_id = $1`, [appB]);
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

  it('should store any text a script produces and never lose a batch to one row', async () => {
    const appC = (await db.pool.query(`INSERT INTO apps (name) VALUES ('c') RETURNING id`)).rows[0].id as number;
    const gone = (await db.pool.query(`INSERT INTO apps (name) VALUES ('gone') RETURNING id`)).rows[0].id as number;
    await db.pool.query('DELETE FROM apps WHERE id = $1', [gone]);
    const nasty = 'tab\there\nnew\rline \\N back\\slash NUL\u0000 lone\ud800 😀 {"json":1}';
    const log = new InvocationLog(db.pool, { flushMs: 10 });
    log.add({ ...row(appC, 'c', 1), path: nasty, error: nasty, logs: [{ level: 'print', msg: nasty, t: 0 }] });
    log.add(row(gone, 'gone', 2)); // its app was deleted meanwhile: the row must not take the batch down with it
    log.add(row(appC, 'c', 3));
    await log.close();
    const stored = nasty.replace('\u0000', '\uFFFD').replace('\ud800', '\uFFFD');
    const rows = await listInvocations(db.pool, appC, { limit: 10 });
    expect(rows.map((r) => r.path)).toEqual(['/r/3', stored]);
    expect(rows[1]).toMatchObject({ error: stored, logs: [{ level: 'print', msg: stored }] });
  });

  it('should write at most its rate of rows per app, count the rest, and keep failures apart from successes', async () => {
    const appD = (await db.pool.query(`INSERT INTO apps (name) VALUES ('d') RETURNING id`)).rows[0].id as number;
    const appE = (await db.pool.query(`INSERT INTO apps (name) VALUES ('e') RETURNING id`)).rows[0].id as number;
    const warned: [number, number][] = [];
    // 10 rows per second: a burst of 20 (twice the rate) is written, the rest of a fast burst is counted
    const log = new InvocationLog(db.pool, { flushMs: 10, rowsPerSecond: 10, onUnlogged: (app, n) => warned.push([app, n]) });
    for (let i = 0; i < 100; i++) log.add(row(appD, 'd', i));
    // failures of the same app have their own allowance; another app has its own
    for (let i = 0; i < 5; i++) log.add({ ...row(appD, 'd', 1000 + i), status: 500, error: 'boom' });
    for (let i = 0; i < 5; i++) log.add(row(appE, 'e', i));
    await log.close();
    const d = await listInvocations(db.pool, appD, { limit: 500 });
    // a few rows may be added by the allowance refilled while the loop ran (10 per second)
    const ok = d.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(20);
    expect(ok.length).toBeLessThan(25);
    expect(ok.map((r) => r.path)).toContain('/r/0');
    expect(d.filter((r) => r.status === 500)).toHaveLength(5);
    expect(await listInvocations(db.pool, appE, { limit: 500 })).toHaveLength(5);
    expect(log.unlogged).toBe(100 - ok.length);
    // warned once (the first row over the rate), for the app over it only
    expect(warned).toEqual([[appD, 1]]);
  });
});

describe('invocation log under load (embedded pool)', () => {
  let t: TestPlane;
  beforeAll(async () => {
    // 20 rows a second (bursts of 40): 1,000 requests pass it however slowly a busy machine serves them
    t = await startTestPlane('embedded', { executors: 2, logRowsPerSecond: 20 });
    await pushRelease(t.db.pool, { app: 'flood', scripts: { 'ok.rhai': '"ok"', 'bad.rhai': 'throw "no"' }, routes: [{ path: '/ok', script: 'ok.rhai' }, { path: '/bad', script: 'bad.rhai' }] });
    await waitFor(() => t.plane.routes.size() === 1, 5000, 'route table');
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('should count every invocation past the rate, whether the thread or the log refused its row, and keep failures apart', async () => {
    const appId = (await t.db.pool.query(`SELECT id FROM apps WHERE name = 'flood'`)).rows[0].id as number;
    // far over the rate, 16 at a time; the 5 failures fit their own allowance
    const total = 1000;
    let sent = 0;
    const worker = async () => {
      while (sent < total) {
        sent++;
        const r = await fetch(`${t.base}/apps/flood/ok`);
        expect(r.status).toBe(200);
        await r.arrayBuffer();
      }
    };
    const failures = 5;
    await Promise.all([...Array.from({ length: 16 }, worker), ...Array.from({ length: failures }, async () => expect((await fetch(`${t.base}/apps/flood/bad`)).status).toBe(500))]);
    const counted = async () => {
      const rows = (await t.db.pool.query(`SELECT count(*) FILTER (WHERE status = 200)::int AS ok, count(*) FILTER (WHERE status = 500)::int AS failed FROM invocations WHERE app_id = $1`, [appId])).rows[0] as { ok: number; failed: number };
      return { ...rows, unlogged: (t.plane.stats().pool as { unlogged: number }).unlogged };
    };
    // rows are written within ~100 ms; every invocation is a row or a count, none is both or lost
    await waitFor(async () => {
      const c = await counted();
      return c.ok + c.unlogged === total;
    }, 10_000, 'every invocation written or counted');
    const c = await counted();
    expect(c.failed).toBe(failures);
    expect(c.ok).toBeGreaterThanOrEqual(40);
    expect(c.unlogged).toBeGreaterThan(0);
  }, 60_000);
});
