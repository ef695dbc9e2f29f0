/**
 * queue::send's inserts (src/db/job-sends.ts) against real PostgreSQL: group commit (sends arriving while an insert
 * is in flight share the next statement; each caller gets its own id, in order; a bad send fails alone), the
 * wake-ups handed to a runner in the same process, and the NOTIFY other nodes still receive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSends, type SendClaim } from '../../src/db/job-sends.ts';
import type { JobRow, JobWake, NewJob } from '../../src/db/jobs.ts';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

describe('job sends', () => {
  let db: TestDatabase;
  let appId: number;
  const pools: Pool[] = [];
  const job = (payload: string, o: Partial<NewJob> = {}): NewJob => ({ appId, branch: 'main', queue: 'q', payload, delayMs: 0, maxAttempts: 3, backoffMs: 1000, ...o });

  beforeAll(async () => {
    db = await createTestDatabase();
    appId = (await db.pool.query<{ id: number }>(`INSERT INTO apps (name) VALUES ('js') RETURNING id`)).rows[0]!.id;
  });
  afterAll(async () => {
    for (const p of pools) await p.end();
    await db.drop();
  });

  it('concurrent sends share statements, each answered with its own id after the commit; wakes per queue and due time', async () => {
    const pool = createPool(db.url, 4);
    pools.push(pool);
    let statements = 0;
    const wakes: NonNullable<JobWake>[] = [];
    const s = new JobSends({ pool, onSent: (w) => { statements++; wakes.push(...w); } });
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => s.send(job(String(i), i === 39 ? { queue: 'other', delayMs: 60_000 } : {}))));
    expect(statements).toBeLessThan(40);
    const { rows } = await db.pool.query<{ id: string; payload: string; queue: string }>(`SELECT id::text AS id, payload, queue FROM jobs WHERE id = ANY($1::bigint[])`, [ids]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(ids.map((id) => byId.get(id)?.payload)).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
    expect(new Set(wakes.map((w) => `${w.appId}:${w.branch}:${w.queue}`))).toEqual(new Set([`${appId}:main:q`, `${appId}:main:other`]));
    const later = wakes.find((w) => w.queue === 'other')!;
    expect(later.at).toBeGreaterThan(Date.now() + 50_000);
  });

  it('a bad send fails alone (its batch is inserted one by one)', async () => {
    const pool = createPool(db.url, 4);
    pools.push(pool);
    const s = new JobSends({ pool });
    const first = s.send(job('a'));
    // these three arrive while the first is in flight: one batch, with a row for an app that does not exist
    const rest = [s.send(job('b')), s.send(job('c', { appId: 987_654_321 })), s.send(job('d'))];
    const out = await Promise.allSettled([first, ...rest]);
    expect(out.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const ids = out.filter((o) => o.status === 'fulfilled').map((o) => (o as PromiseFulfilledResult<string>).value);
    // the retried sends go concurrently (they were concurrent calls): no order among them
    const { rows } = await db.pool.query<{ payload: string }>(`SELECT payload FROM jobs WHERE id = ANY($1::bigint[]) ORDER BY payload`, [ids]);
    expect(rows.map((r) => r.payload)).toEqual(['a', 'b', 'd']);
  });

  it('a runner in the process claims the queue in the send\'s transaction: the sent job comes back running, without a wake', async () => {
    const pool = createPool(db.url, 2);
    pools.push(pool);
    const wakes: NonNullable<JobWake>[] = [];
    const s = new JobSends({ pool, onSent: (w) => wakes.push(...w) });
    const claimed: JobRow[] = [];
    let failed = 0;
    s.claim = (a, branch, queue): SendClaim => ({
      appId: a, branch, queue: `${queue}`, concurrency: 2, leaseMs: 30_000, done: [],
      settle: (rows) => claimed.push(...rows), fail: () => failed++,
    });
    const [id, later] = await Promise.all([s.send(job('c1', { queue: 'claimed' })), s.send(job('c2', { queue: 'claimed', delayMs: 60_000 }))]);
    expect(claimed.map((r) => [r.id, r.state, r.attempts])).toEqual([[id, 'running', 1]]);
    // the delayed job still needs its timer; the due one needs no wake
    expect(wakes.map((w) => w.queue)).toEqual(['claimed']);
    expect(wakes[0]!.at).toBeGreaterThan(Date.now() + 50_000);
    expect(later).not.toBe(id);
    // concurrency holds: two more due sends, one slot left
    const more = await Promise.all([s.send(job('c3', { queue: 'claimed' })), s.send(job('c4', { queue: 'claimed' }))]);
    expect(claimed.length).toBe(2);
    expect(more).toContain(claimed[1]!.id);
    // a send that fails gives its claim back
    await expect(s.send(job('bad', { appId: 987_654_321, queue: 'claimed' }))).rejects.toThrow();
    expect(failed).toBe(1);
  });

  it('other connections receive the NOTIFY, and it names the backend that sentBy recognises', async () => {
    const pool = createPool(db.url, 2);
    pools.push(pool);
    const s = new JobSends({ pool });
    const listener = await db.pool.connect();
    try {
      const got = new Promise<{ pid: number; payload: string }>((res) => listener.on('notification', (m) => res({ pid: m.processId, payload: m.payload ?? '' })));
      await listener.query('LISTEN picloud_jobs');
      await s.send(job('n'));
      const m = await got;
      // due at once: due time 0, so a runner claims without waiting for the next millisecond
      expect(m.payload).toBe(`0:${appId}:q:main`);
      expect(s.sentBy(m.pid)).toBe(true);
      expect(s.sentBy((listener as unknown as { processID: number }).processID)).toBe(false);
    } finally {
      listener.release();
    }
  });
  it('queue answers with the job\'s id before its row is committed; durable settles with the commit', async () => {
    const pool = createPool(db.url, 2);
    pools.push(pool);
    const s = new JobSends({ pool });
    const blocker = await db.pool.connect();
    try {
      // inserts wait behind this lock; ids come from the sequence, which it does not hold
      await blocker.query('BEGIN; LOCK TABLE jobs IN EXCLUSIVE MODE');
      const qs = await Promise.all(['x', 'y', 'z'].map((p) => s.queue(job(p))));
      expect(new Set(qs.map((q) => q.id)).size).toBe(3);
      let settled = false;
      const all = Promise.all(qs.map((q) => q.durable)).then(() => (settled = true));
      await new Promise((res) => setTimeout(res, 200));
      expect(settled).toBe(false);
      await blocker.query('COMMIT');
      await all;
      const { rows } = await db.pool.query<{ id: string; payload: string }>(`SELECT id::text AS id, payload FROM jobs WHERE id = ANY($1::bigint[]) ORDER BY payload`, [qs.map((q) => q.id)]);
      expect(rows).toEqual(qs.map((q, i) => ({ id: q.id, payload: ['x', 'y', 'z'][i] })));
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      blocker.release();
    }
  });
});
