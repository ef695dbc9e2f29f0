/**
 * queue::send's output gate (executor/run.ts Runner.gate), both modes, real PostgreSQL: a send answers with its
 * job's id before the row is committed, so a loop of sends shares commits; whatever the invocation does afterwards
 * that could be seen (a kv:: write, http::fetch, its response) waits for those commits. A send whose row cannot be
 * stored (a trigger on this throwaway database rejects payloads containing "reject-me") lets nothing out: the kv::
 * write after it fails, the invocation answers 500 saying why even though the script caught that error, and no row
 * exists for the id it was given.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlane, type Mode, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

const SCRIPTS: Record<string, string> = {
  // n sends in a loop, then one kv write naming the last id: the row of every id exists when the write does
  'loop.rhai': `
    let ids = [];
    for i in 0..parse_int(ctx.query.n) { ids.push(queue::send("q", #{ i: i })); }
    kv::set("last", ids[ids.len() - 1]);
    ids`,
  'reject.rhai': `
    let id = queue::send("q", "reject-me");
    let after = "not reached";
    try { kv::set("after", id); after = "written"; } catch (e) { after = \`\${e}\`; }
    #{ id: id, after: after }`,
  'ping.rhai': '"pong"',
  'work.rhai': 'kv::set("ran:" + ctx.job_id, ctx.json)',
};

for (const mode of ['embedded', 'bullmq'] as Mode[]) {
  describe(`queue::send output gate (${mode})`, () => {
    let t: TestPlane;
    let appId = 0;
    const kv = async (key: string): Promise<unknown> => (await t.db.pool.query(`SELECT value FROM kv WHERE app_id = $1 AND branch = 'main' AND key = $2`, [appId, key])).rows[0]?.value;

    beforeAll(async () => {
      t = await startTestPlane(mode, { executors: 2 });
      await t.db.pool.query(`
        CREATE FUNCTION test_reject_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.payload LIKE '%reject-me%' THEN RAISE EXCEPTION 'test trigger rejects this job'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER test_reject_jobs BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION test_reject_jobs();
        CREATE TABLE test_job_inserts (n int NOT NULL);
        INSERT INTO test_job_inserts VALUES (0);
        CREATE FUNCTION test_count_job_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE test_job_inserts SET n = n + 1; RETURN NULL; END $$;
        CREATE TRIGGER test_count_job_inserts AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION test_count_job_inserts();`);
      ({ appId } = await pushRelease(t.db.pool, {
        app: 'gate',
        scripts: SCRIPTS,
        routes: [{ path: '/loop', method: 'POST', script: 'loop.rhai' }, { path: '/reject', method: 'POST', script: 'reject.rhai' }, { path: '/ping', script: 'ping.rhai' }],
        queues: [{ name: 'q', script: 'work.rhai', concurrency: 4 }],
      }));
      await waitFor(async () => (await fetch(`${t.base}/apps/gate/ping`).catch(() => null))?.status === 200, 60_000, 'executors up');
    }, 120_000);
    afterAll(async () => {
      await t?.close();
    });

    it('a loop of 200 sends shares commits, and every job exists before the write that follows the loop', async () => {
      const inserts = async () => (await t.db.pool.query<{ n: number }>('SELECT n FROM test_job_inserts')).rows[0]!.n;
      const before = await inserts();
      const r = await fetch(`${t.base}/apps/gate/loop?n=200`, { method: 'POST' });
      expect(r.status).toBe(200);
      const ids = (await r.json()) as string[];
      expect(new Set(ids).size).toBe(200);
      expect(await kv('last')).toBe(ids[199]);
      const { rows } = await t.db.pool.query<{ id: string; payload: string }>(`SELECT id::text AS id, payload FROM jobs WHERE id = ANY($1::bigint[])`, [ids]);
      const byId = new Map(rows.map((x) => [x.id, JSON.parse(x.payload) as { i: number }]));
      expect(ids.map((id) => byId.get(id)?.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      // each job runs once, with the id the script was given
      await waitFor(async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM kv WHERE app_id = $1 AND key LIKE 'ran:%'`, [appId])).rows[0].n >= 200, 60_000, '200 jobs run');
      expect(await kv(`ran:${ids[17]}`)).toEqual({ i: 17 });
      // the 200 rows went in with fewer INSERT statements (each its commit) than sends: one per send if each waited
      // for its own (measured: 23 embedded, 71 with executor processes, where each send is a longer round trip)
      expect(await inserts() - before).toBeLessThan(100);
    }, 120_000);

    it('a send that cannot be stored lets nothing after it out: the write fails, the invocation answers 500 though the script caught it', async () => {
      const r = await fetch(`${t.base}/apps/gate/reject`, { method: 'POST' });
      expect(r.status).toBe(500);
      expect(await r.text()).toContain('queue::send: the job could not be stored');
      // the kv::set after the send waited for its commit, and failed with it
      expect(await kv('after')).toBeUndefined();
      expect((await t.db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE app_id = $1 AND payload LIKE '%reject-me%'`, [appId])).rows[0].n).toBe(0);
      // the app goes on serving
      expect((await fetch(`${t.base}/apps/gate/ping`)).status).toBe(200);
    }, 60_000);
  });
}
