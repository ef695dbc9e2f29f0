/**
 * Background jobs in both modes (architecture.md §6): queue::send from an HTTP handler, the queue ctx, each job run
 * once, retry after the backoff, dead letters after exactly `attempts` tries and their replay, delay_ms, a removed
 * queue's pending jobs becoming dead letters, and a removed preview's jobs going with it.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClientVerb } from '../../src/cli/commands/client.ts';
import { loadConfig } from '../../src/common/config.ts';
import { silentLogger } from '../../src/common/log.ts';
import { listJobs } from '../../src/db/jobs.ts';
import { apiPlugin } from '../../src/manager/api.ts';
import { fixtureToken, rollbackForTests } from '../helpers/fixtures.ts';
import { startTestPlane, type Mode, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, removeBranch, waitFor } from '../helpers/releases.ts';

const SCRIPTS: Record<string, string> = {
  // POST /send?q=work&n=50 [&delay=ms]: sends n jobs #{ i }, answers their ids
  'send.rhai': `
    let ids = [];
    let n = parse_int(ctx.query.n);
    for i in 0..n {
      if ctx.query.delay != () { ids.push(queue::send(ctx.query.q, #{ i: i }, #{ delay_ms: parse_int(ctx.query.delay) })); }
      else { ids.push(queue::send(ctx.query.q, #{ i: i })); }
    }
    ids`,
  'dyn.rhai': 'queue::send(ctx.query.q, 1)',
  'ping.rhai': '"pong"',
  'work.rhai': `
    fn handle(ctx) {
      let k = "run:" + ctx.json.i;
      let c = kv::get(k);
      kv::set(k, if c == () { 1 } else { c + 1 });
      kv::set("ctx:" + ctx.json.i, #{ trigger: ctx.trigger, queue: ctx.queue, job_id: ctx.job_id, attempt: ctx.attempt, body: ctx.body, at: now() });
    }`,
  'flaky.rhai': `
    kv::set("flaky:" + ctx.attempt, now());
    if ctx.attempt == 1 { throw "first try fails"; }
    "ok"`,
  'bad.rhai': `
    let c = kv::get("bad:runs");
    kv::set("bad:runs", if c == () { 1 } else { c + 1 });
    throw "always fails"`,
};

const QUEUES = [
  { name: 'work', script: 'work.rhai', function: 'handle', concurrency: 4 },
  { name: 'flaky', script: 'flaky.rhai', attempts: 3, backoffMs: 400 },
  { name: 'bad', script: 'bad.rhai', attempts: 2, backoffMs: 50 },
];

const ROUTES = [{ path: '/send', method: 'POST', script: 'send.rhai' }, { path: '/dyn', script: 'dyn.rhai' }, { path: '/ping', script: 'ping.rhai' }];

/** Until the executors answer (BullMQ mode spawns processes). */
async function warmUp(base: string, app: string): Promise<void> {
  await waitFor(async () => (await fetch(`${base}/apps/${app}/ping`).catch(() => null))?.status === 200, 60_000, 'executors up');
}

for (const mode of ['embedded', 'bullmq'] as Mode[]) {
  describe(`queues (${mode})`, () => {
    let t: TestPlane;
    let appId = 0;
    let api: FastifyInstance;
    let cliEnv: NodeJS.ProcessEnv;
    /** a client verb, in-process, against the API on the same database */
    const cli = async (...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      let stdout = '';
      let stderr = '';
      const code = await runClientVerb(argv[0]!, argv.slice(1), {
        stdout: { write: (x: string) => (stdout += x), isTTY: false }, stderr: { write: (x: string) => (stderr += x) }, env: cliEnv, cwd: '/',
      });
      return { code, stdout, stderr };
    };
    const kv = async (key: string): Promise<unknown> => (await t.db.pool.query(`SELECT value FROM kv WHERE app_id = $1 AND branch = 'main' AND key = $2`, [appId, key])).rows[0]?.value;
    const kvCount = async (prefix: string): Promise<number> => (await t.db.pool.query(`SELECT count(*)::int AS n FROM kv WHERE app_id = $1 AND branch = 'main' AND key LIKE $2`, [appId, `${prefix}%`])).rows[0].n;
    const send = async (q: string, n: number, delay?: number): Promise<string[]> => {
      const r = await fetch(`${t.base}/apps/jobs/send?q=${q}&n=${n}${delay !== undefined ? `&delay=${delay}` : ''}`, { method: 'POST' });
      expect(r.status).toBe(200);
      return (await r.json()) as string[];
    };

    beforeAll(async () => {
      t = await startTestPlane(mode);
      ({ appId } = await pushRelease(t.db.pool, { app: 'jobs', scripts: SCRIPTS, routes: ROUTES, queues: QUEUES }));
      await t.plane.waitForRelease('jobs', 'main', null);
      await waitFor(() => t.plane.routes.entry('jobs', 'main') !== null, 5000, 'release live');
      await warmUp(t.base, 'jobs');
      api = Fastify({ forceCloseConnections: true });
      await api.register(apiPlugin, { config: loadConfig({ PICLOUD_DOMAIN: 'localhost' }), pool: t.db.pool, log: silentLogger, rollback: (await rollbackForTests()).fn });
      cliEnv = { PICLOUD_URL: await api.listen({ port: 0, host: '127.0.0.1' }), PICLOUD_TOKEN: await fixtureToken(t.db.pool, 'admin'), HOME: '/nonexistent' };
    });
    afterAll(async () => {
      await api?.close();
      await t?.close();
    });

    it('should run 50 jobs once each with the queue ctx', async () => {
      const ids = await send('work', 50);
      expect(ids).toHaveLength(50);
      expect(new Set(ids).size).toBe(50);
      await waitFor(async () => (await kvCount('ctx:')) === 50, 20_000, '50 jobs');
      await new Promise((r) => setTimeout(r, 300)); // a double run would show up by now
      const { rows } = await t.db.pool.query<{ key: string; value: number }>(`SELECT key, value FROM kv WHERE app_id = $1 AND key LIKE 'run:%'`, [appId]);
      expect(rows).toHaveLength(50);
      expect(rows.every((r) => r.value === 1)).toBe(true);
      for (const i of [0, 17, 49]) {
        expect(await kv(`ctx:${i}`)).toMatchObject({ trigger: 'queue', queue: 'work', job_id: ids[i], attempt: 1, body: JSON.stringify({ i }) });
      }
      const log = await t.db.pool.query(`SELECT count(*)::int AS n FROM invocations WHERE app_id = $1 AND trigger = 'queue' AND route = 'work'`, [appId]);
      await waitFor(async () => (await t.db.pool.query(`SELECT count(*)::int AS n FROM invocations WHERE app_id = $1 AND trigger = 'queue' AND route = 'work'`, [appId])).rows[0].n >= 50, 5000, 'log rows');
      expect(log.rows[0].n).toBeLessThanOrEqual(50);
    });

    it('should retry a job that throws once, after its backoff', async () => {
      await send('flaky', 1);
      await waitFor(async () => (await kv('flaky:2')) !== undefined, 10_000, 'second try');
      const t1 = (await kv('flaky:1')) as number;
      const t2 = (await kv('flaky:2')) as number;
      expect(t2 - t1).toBeGreaterThanOrEqual(380);
      await waitFor(async () => (await listJobs(t.db.pool, { appId, branch: 'main', queue: 'flaky', limit: 5 }))[0]?.state === 'done', 5000, 'done');
      expect(await kv('flaky:3')).toBeUndefined();
    });

    it('should make a job that always throws a dead letter after exactly `attempts` tries, and replay it', async () => {
      const [id] = await send('bad', 1);
      await waitFor(async () => (await listJobs(t.db.pool, { appId, branch: 'main', state: 'failed', limit: 5 })).some((j) => j.id === id), 10_000, 'dead letter');
      await new Promise((r) => setTimeout(r, 300));
      expect(await kv('bad:runs')).toBe(2);
      // the dead letter as `picloud jobs --failed --json` shows it
      const shown = await cli('jobs', '-a', 'jobs', '--failed', '--json');
      expect(shown.code, shown.stderr).toBe(0);
      const dead = (JSON.parse(shown.stdout) as { id: string; queue: string; attempts: number; max_attempts: number; error: string }[]).find((j) => j.id === id);
      expect(dead).toMatchObject({ id, queue: 'bad', attempts: 2, max_attempts: 2, state: 'failed' });
      expect(dead!.error).toMatch(/always fails/);
      const table = await cli('jobs', '-a', 'jobs');
      expect(table.stdout).toMatch(/bad\s+0\s+0\s+0\s+1\s/);
      // replayed: two more tries, then a dead letter again
      const retry = await cli('jobs:retry', '-a', 'jobs', '--all-failed', '--json');
      expect(retry.code, retry.stderr).toBe(0);
      expect(JSON.parse(retry.stdout)).toEqual({ retried: [id] });
      await waitFor(async () => (await kv('bad:runs')) === 4, 10_000, 'replayed tries');
      await waitFor(async () => (await listJobs(t.db.pool, { appId, branch: 'main', state: 'failed', limit: 5 })).some((j) => j.id === id), 5000, 'dead again');
      const missing = await cli('jobs:retry', '-a', 'jobs', '999999');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/JOB_NOT_FOUND/);
    });

    it('should hold a job back for delay_ms', async () => {
      const sent = Date.now();
      await t.db.pool.query(`DELETE FROM kv WHERE app_id = $1 AND key LIKE 'ctx:%'`, [appId]);
      await send('work', 1, 1500);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await kv('ctx:0')).toBeUndefined();
      await waitFor(async () => (await kv('ctx:0')) !== undefined, 5000, 'delayed job');
      expect(((await kv('ctx:0')) as { at: number }).at - sent).toBeGreaterThanOrEqual(1450);
    });

    it('should refuse a computed undeclared queue name at run time, and dead-letter a removed queue\'s pending jobs', async () => {
      const r = await fetch(`${t.base}/apps/jobs/dyn?q=nope`);
      expect(r.status).toBe(500);
      expect(((await r.json()) as { error: string }).error).toMatch(/no \[\[queues\]\] entry named "nope"/);
      await send('work', 2, 60_000);
      await pushRelease(t.db.pool, { app: 'jobs', scripts: SCRIPTS, routes: ROUTES, queues: QUEUES.filter((q) => q.name !== 'work') });
      await waitFor(async () => (await listJobs(t.db.pool, { appId, branch: 'main', queue: 'work', state: 'failed', limit: 5 })).length === 2, 5000, 'dead letters');
      const dead = await listJobs(t.db.pool, { appId, branch: 'main', queue: 'work', state: 'failed', limit: 5 });
      expect(dead.every((j) => j.lastError === 'queue no longer declared')).toBe(true);
    });

    it('should delete a preview\'s jobs with the preview', async () => {
      await pushRelease(t.db.pool, { app: 'jobs', branch: 'feature', scripts: SCRIPTS, routes: ROUTES, queues: QUEUES });
      await waitFor(() => t.plane.routes.entry('jobs', 'feature') !== null, 5000, 'preview live');
      const r = await fetch(`${t.base}/apps/feature--jobs/send?q=work&n=3&delay=60000`, { method: 'POST' });
      expect(r.status).toBe(200);
      expect(await listJobs(t.db.pool, { appId, branch: 'feature', limit: 10 })).toHaveLength(3);
      await removeBranch(t.db.pool, 'jobs', 'feature');
      await waitFor(async () => (await listJobs(t.db.pool, { appId, branch: 'feature', limit: 10 })).length === 0, 5000, 'preview jobs deleted');
    });
  });
}
