/**
 * The cluster behind the real Caddy (issue 11, acceptance 1): `caddy run` with caddy/Caddyfile.local, unedited, in
 * front of real processes — `picloud manager`, two `picloud orchestrator --executors 0` (so every invocation goes to
 * an executor process, on the direct lanes the executors dial, or the Redis lists before they have) and three
 * `picloud executor` — on a throwaway database, loopback only, random free ports.
 *
 * - an app is deployed with a real `git push` through Caddy (bare domain → manager);
 * - host form (`<app>.localhost:<port>`) and path form (`localhost:<port>/apps/<app>/…`) both answer through Caddy;
 * - an app's host never serves another app (`hello.localhost/apps/other/x` is hello's own path);
 * - 300 requests are spread over all three executors: each executor process connects to PostgreSQL with its own
 *   `application_name`, and a test-only trigger on `invocations` records which connection wrote each log row;
 * - under a steady load, `kill -9` of an executor and then of an orchestrator: every failed request was in flight
 *   at a kill (started before it, ended after it), at most as many as the load's concurrency, and everything
 *   started after the kills succeeds.
 *
 * Isolation: the orchestrator role has no queue-prefix flag, so the roles share a Redis database of their own
 * (a random index among 1..15 holding no `picloud:` key) with the default prefix; its keys are deleted afterwards.
 * Skips when `caddy` is not installed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertToken, newToken } from '../../src/db/tokens.ts';
import { skipWithoutCaddy, startCaddy, type RunningCaddy } from '../helpers/caddy.ts';
import { alive, Cluster, freePort, freeRedisDb, type Proc } from '../helpers/cluster.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { cleanupTempDirs, makeRepo, push, remoteUrl } from '../helpers/git.ts';
import { waitFor } from '../helpers/releases.ts';
import { ROOT } from '../helpers/start.ts';

const skip = skipWithoutCaddy();

let db: TestDatabase;
let dir: string;
let redisUrl: string | null = null;
let cluster: Cluster;
let caddyPort = 0;
let caddy: RunningCaddy | undefined;
let orchPorts: number[] = [];
let token: string;
const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });

/** DATABASE_URL with an application_name: the trigger below records it for every invocation-log row. */
function dbUrlAs(name: string): string {
  const u = new URL(db.url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

async function get(host: string, p: string, timeoutMs = 15_000): Promise<{ status: number; body: string }> {
  const r = await request(`http://127.0.0.1:${caddyPort}${p}`, { dispatcher: agent, headers: { host: `${host}:${caddyPort}` }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  return { status: r.statusCode, body: await r.body.text() };
}

const diag = () => cluster.diag();

async function executorCounts(): Promise<Map<string, number>> {
  const r = await db.pool.query<{ who: string; n: number }>(`SELECT who, count(*)::int AS n FROM t_invocation_writers WHERE status = 200 GROUP BY who`);
  return new Map(r.rows.map((x) => [x.who, x.n]));
}

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(tmpdir(), 'picloud-cluster-caddy-'));
  db = await createTestDatabase();
  token = newToken();
  await insertToken(db.pool, 'admin', token, 'admin');
  // which connection wrote each invocation-log row (COPY fires row triggers): test-only, on the throwaway database
  await db.pool.query(`
    CREATE TABLE t_invocation_writers (who text NOT NULL, status int NOT NULL);
    CREATE FUNCTION t_invocation_writer() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO t_invocation_writers VALUES (current_setting('application_name'), NEW.status); RETURN NULL; END $$;
    CREATE TRIGGER t_invocation_writer AFTER INSERT ON invocations FOR EACH ROW EXECUTE FUNCTION t_invocation_writer();`);

  // a Redis database of our own (see the header)
  redisUrl = await freeRedisDb();
  expect(redisUrl, 'a Redis database without picloud: keys').not.toBeNull();
  cluster = new Cluster(dir, () => ({ REDIS_URL: redisUrl!, DATABASE_URL: db.url }));
  const role = cluster.role.bind(cluster);

  const manager = cluster.manager();
  orchPorts = [await freePort(), await freePort()];
  const orchestrators = orchPorts.map((p, i) => role(`orchestrator${i + 1}`, ['orchestrator', '--port', String(p), '--executors', '0'], {}));
  const executors = [1, 2, 3].map((i) => role(`exec${i}`, ['executor', '--threads', '2'], { DATABASE_URL: dbUrlAs(`exec${i}`), PICLOUD_LOG_LEVEL: 'info' }));
  const managerPort = (await manager).port;
  caddyPort = await freePort();
  caddy = await startCaddy({
    config: path.join(ROOT, 'caddy/Caddyfile.local'),
    env: {
      PICLOUD_BIND: '127.0.0.1', PICLOUD_HTTP_PORT: String(caddyPort),
      PICLOUD_MANAGER: `127.0.0.1:${managerPort}`,
      PICLOUD_ORCHESTRATORS: orchPorts.map((p) => `127.0.0.1:${p}`).join(' '),
    },
    ready: async () => (await get('localhost', '/healthz')).status === 200,
    timeoutMs: 30_000,
    what: `caddy → manager\n${diag()}`,
  });
  cluster.procs.push({ name: 'caddy', proc: caddy.proc, out: caddy.out });
  for (const [i, p] of orchPorts.entries()) {
    await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${p}/healthz`).catch(() => null);
      return r?.status === 200;
    }, 60_000, `orchestrator${i + 1} up\n${diag()}`);
  }
  for (const e of executors) await waitFor(() => e.out().includes('executor started'), 60_000, `${e.name} up\n${diag()}`);
  expect(orchestrators.every(alive)).toBe(true);
}, 180_000);

afterAll(async () => {
  if (cluster) await cluster.close(redisUrl, db);
  else await db?.drop();
  await caddy?.stop();
  await agent.close().catch(() => {});
  cleanupTempDirs();
}, 60_000);

describe.skipIf(skip)('cluster behind the real Caddy (Caddyfile.local)', () => {
  it('should deploy through Caddy and answer host and path form, never another app on an app host', async () => {
    const base = `http://localhost:${caddyPort}`;
    const hello = await makeRepo({
      files: {
        'picloud.toml': '[limits]\ntimeout_ms = 1000\n\n[[routes]]\npath = "/hello/:name"\nscript = "hello.rhai"\n',
        'hello.rhai': '"hello, " + ctx.params.name + "!"\n',
      },
    });
    const other = await makeRepo({ files: { 'picloud.toml': '[[routes]]\npath = "/x"\nscript = "x.rhai"\n', 'x.rhai': '"other app"\n' } });
    for (const [repo, app] of [[hello, 'hello'], [other, 'other']] as const) {
      const p = await push(repo, remoteUrl(base, app, token), ['main']);
      expect(p.code, `${p.stderr}\n${diag()}`).toBe(0);
    }
    // the orchestrators learn the releases by NOTIFY
    await waitFor(async () => (await get('hello.localhost', '/hello/bob')).status === 200, 10_000, 'host form live');
    expect(await get('hello.localhost', '/hello/bob')).toEqual({ status: 200, body: 'hello, bob!' });
    expect(await get('localhost', '/apps/hello/hello/ann')).toEqual({ status: 200, body: 'hello, ann!' });
    expect(await get('other.localhost', '/x')).toEqual({ status: 200, body: 'other app' });
    expect(await get('localhost', '/apps/other/x')).toEqual({ status: 200, body: 'other app' });
    // an app's host serves only that app: /apps/other/x on hello's host is hello's own (unknown) path
    const cross = await get('hello.localhost', '/apps/other/x');
    expect(cross.body).not.toContain('other app');
    expect(cross.status).toBe(404);
    // the bare domain's other paths are the manager's; unknown hosts get Caddy's 404
    expect((await get('localhost', '/api/v1/apps')).status).toBe(401);
    expect((await get('other.example', '/apps/hello/hello/x')).status).toBe(404);
  }, 60_000);

  it('should spread 300 requests over all three executor processes', async () => {
    await new Promise((r) => setTimeout(r, 500)); // earlier rows flushed (the log writes every ~100 ms)
    await db.pool.query('DELETE FROM t_invocation_writers');
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        while (next < 300) {
          const i = next++;
          statuses.push((await get(i % 2 ? 'hello.localhost' : 'localhost', i % 2 ? `/hello/n${i}` : `/apps/hello/hello/n${i}`)).status);
        }
      }),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await waitFor(async () => [...(await executorCounts()).values()].reduce((a, b) => a + b, 0) >= 300, 10_000, 'log rows');
    const counts = await executorCounts();
    expect([...counts.keys()].sort()).toEqual(['exec1', 'exec2', 'exec3']);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(300);
    for (const [who, n] of counts) expect(n, `${who}: ${JSON.stringify([...counts])}`).toBeGreaterThanOrEqual(10);
    console.log(`cluster-caddy: 300 requests per executor ${JSON.stringify(Object.fromEntries(counts))}`);
  }, 60_000);

  it('should fail only the requests in flight when an executor and then an orchestrator are killed under load', async () => {
    const CONCURRENCY = 8;
    const results: { t0: number; t1: number; ok: boolean; what: string }[] = [];
    let stop = false;
    const t00 = performance.now();
    const load = Array.from({ length: CONCURRENCY }, async (_, w) => {
      // bounded: by the stop flag, by count and by time
      for (let i = 0; !stop && i < 2000 && performance.now() - t00 < 30_000; i++) {
        const t0 = performance.now();
        let what = '';
        try {
          const r = await get(i % 2 ? 'hello.localhost' : 'localhost', i % 2 ? `/hello/w${w}` : `/apps/hello/hello/w${w}`, 10_000);
          what = r.status === 200 && r.body === `hello, w${w}!` ? '' : `${r.status} ${r.body.slice(0, 80)}`;
        } catch (e) {
          what = (e as Error).message;
        }
        results.push({ t0, t1: performance.now(), ok: what === '', what });
      }
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await sleep(1500);
    // a kill spans from the signal to the process's exit (until then its sockets are open: Redis may still hand it
    // an invocation, the kernel may still accept a connection for it)
    const kill = async (p: Proc) => {
      const from = performance.now();
      const gone = new Promise((r) => p.proc.once('exit', r));
      p.proc.kill('SIGKILL');
      await gone;
      return { from, to: performance.now() };
    };
    const exec1 = cluster.procs.find((p) => p.name === 'exec1')!;
    const k1 = await kill(exec1);
    await sleep(3000);
    const orch1 = cluster.procs.find((p) => p.name === 'orchestrator1')!;
    const k2 = await kill(orch1);
    await sleep(3000);
    stop = true;
    await Promise.all(load);
    expect(alive(exec1) || alive(orch1)).toBe(false);

    const failed = results.filter((r) => !r.ok);
    const inFlightAt = (k: { from: number; to: number }) => (r: { t0: number; t1: number }) => r.t0 < k.to && r.t1 >= k.from;
    // every failure was in flight at one of the kills; at most the concurrency per kill
    for (const f of failed) expect(inFlightAt(k1)(f) || inFlightAt(k2)(f), `failed outside a kill: ${JSON.stringify(f)} k1=${JSON.stringify(k1)} k2=${JSON.stringify(k2)}`).toBe(true);
    expect(failed.filter(inFlightAt(k1)).length).toBeLessThanOrEqual(CONCURRENCY);
    expect(failed.filter(inFlightAt(k2)).length).toBeLessThanOrEqual(CONCURRENCY);
    // the load kept going: requests before, between and after the kills, those after all answered
    const before = results.filter((r) => r.t1 < k1.from).length;
    const between = results.filter((r) => r.t0 > k1.to && r.t1 < k2.from).length;
    const after = results.filter((r) => r.t0 > k2.to);
    expect(before, 'requests before the kills').toBeGreaterThan(20);
    expect(between, 'requests between the kills').toBeGreaterThan(20);
    expect(after.length, 'requests after the kills').toBeGreaterThan(20);
    expect(after.filter((r) => !r.ok)).toEqual([]);
    // and the survivors keep serving both forms
    expect(await get('hello.localhost', '/hello/end')).toEqual({ status: 200, body: 'hello, end!' });
    expect(await get('localhost', '/apps/hello/hello/end')).toEqual({ status: 200, body: 'hello, end!' });
    console.log(`cluster-caddy: ${results.length} requests under load, ${failed.length} failed (in flight at a kill; kills took ${(k1.to - k1.from).toFixed(0)} and ${(k2.to - k2.from).toFixed(0)} ms): ${[...new Set(failed.map((f) => f.what))].join('; ')}`);
  }, 60_000);
});
