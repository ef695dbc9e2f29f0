/**
 * No cold start (issue 11): a release switch is prepare → preload on every node with executor threads → switch,
 * so the first invocations of a new release find their programs compiled in whichever thread runs them (the
 * invocation log's `cold` is false), in the embedded pool and in executor processes behind Redis. A node that
 * never confirms delays a switch by the bounded wait only.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPreloadNode } from '../../src/db/preload.ts';
import { preloadOnNodes } from '../../src/deploy/preload.ts';
import { THREAD_KV_APPLICATION } from '../../src/executor/thread-kv.ts';
import { sharedThreads } from '../../src/orchestrator/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

const ROUTES = 6;

function release(app: string, salt: string) {
  const scripts: Record<string, string> = {};
  const routes = [];
  for (let i = 0; i < ROUTES; i++) {
    scripts[`r${i}.rhai`] = `// ${salt}\nfn handle(ctx) { let n = 0; for x in 0..10 { n += x; } \`${salt} ${i} \${n}\` }\n`;
    routes.push({ path: `/r${i}`, script: `r${i}.rhai`, function: 'handle' });
  }
  return { app, scripts, routes };
}

/** Push, then call every route twice (more calls than threads in the plane); the invocation rows' `cold` flags. */
async function firstCalls(tp: TestPlane, app: string, salt: string): Promise<boolean[]> {
  const { releaseId } = await pushRelease(tp.db.pool, release(app, salt));
  expect(await tp.plane.waitForRelease(app, 'main', releaseId, 5000)).toBe(true);
  const texts = await Promise.all([...Array(ROUTES * 2).keys()].map(async (i) => (await fetch(`${tp.base}/apps/${app}/r${i % ROUTES}`)).text()));
  for (const [i, t] of texts.entries()) expect(t).toBe(`${salt} ${i % ROUTES} 45`);
  let rows: { cold: boolean }[] = [];
  await waitFor(async () => {
    rows = (await tp.db.pool.query<{ cold: boolean }>('SELECT cold FROM invocations WHERE release_id = $1', [releaseId])).rows;
    return rows.length === ROUTES * 2;
  }, 10_000, 'invocation rows');
  return rows.map((r) => r.cold);
}

describe.each([
  // threads: the executor threads that take a preload (embedded: the pool's; bullmq: each executor process's)
  { mode: 'embedded' as const, opts: { executors: 3 }, threads: 3 },
  { mode: 'bullmq' as const, opts: { executors: 2 }, threads: 2 * sharedThreads(2) },
])('release preload ($mode)', ({ mode, opts, threads }) => {
  let tp: TestPlane;
  beforeAll(async () => {
    tp = await startTestPlane(mode, opts);
  }, 120_000);
  afterAll(async () => {
    await tp?.close();
  });

  it('should have every program of a new release compiled in every thread before the switch', async () => {
    // the first release, a new one of the same app, and a rollback-like switch back to already-known programs
    expect(await firstCalls(tp, `pre-${mode}`, 'v1')).toEqual(Array(ROUTES * 2).fill(false));
    expect(await firstCalls(tp, `pre-${mode}`, 'v2')).toEqual(Array(ROUTES * 2).fill(false));
  });

  it('should open the threads\' kv connections while preloading a release that calls kv::, and none for one that does not', async () => {
    const threadConns = async () =>
      (await tp.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [THREAD_KV_APPLICATION])).rows[0]!.n;
    // the releases above (no kv::) were preloaded and served: no thread opened a connection
    expect(await threadConns()).toBe(0);
    const app = `kv-${mode}`;
    const { releaseId } = await pushRelease(tp.db.pool, { app, scripts: { 'n.rhai': 'fn handle(ctx) { kv::incr("n") }\n' }, routes: [{ path: '/n', script: 'n.rhai', function: 'handle' }] });
    expect(await tp.plane.waitForRelease(app, 'main', releaseId, 5000)).toBe(true);
    // before any request: every thread that took the preload holds one connection (idle ones close after 30 s)
    expect(await threadConns()).toBe(threads);
    expect(await (await fetch(`${tp.base}/apps/${app}/n`)).text()).toBe('1');
  });
});

describe('a node that starts', () => {
  let db: TestDatabase;
  let tp: TestPlane | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await tp?.close();
    await db?.drop();
  });

  it('should have the live releases\' programs compiled in every thread before it serves', async () => {
    // the releases are live before this node starts (a restart, or a node added to a cluster)
    const first = await startTestPlane('embedded', { executors: 2, db });
    const { releaseId } = await pushRelease(db.pool, release('restart', 'r1'));
    expect(await first.plane.waitForRelease('restart', 'main', releaseId, 5000)).toBe(true);
    await first.close();
    await db.pool.query('DELETE FROM invocations');
    tp = await startTestPlane('embedded', { executors: 2, db });
    const texts = await Promise.all([...Array(ROUTES * 2).keys()].map(async (i) => (await fetch(`${tp!.base}/apps/restart/r${i % ROUTES}`)).text()));
    for (const [i, t] of texts.entries()) expect(t).toBe(`r1 ${i % ROUTES} 45`);
    let rows: { cold: boolean }[] = [];
    await waitFor(async () => {
      rows = (await db.pool.query<{ cold: boolean }>('SELECT cold FROM invocations WHERE release_id = $1', [releaseId])).rows;
      return rows.length === ROUTES * 2;
    }, 10_000, 'invocation rows');
    expect(rows.map((r) => r.cold)).toEqual(Array(ROUTES * 2).fill(false));
  });
});

describe('release preload wait', () => {
  let tp: TestPlane;
  let silent: pg.Client;
  beforeAll(async () => {
    tp = await startTestPlane('embedded', { executors: 2 });
    // a node that registers and then never answers (hung, or too busy)
    silent = new pg.Client({ connectionString: tp.db.url });
    await silent.connect();
    await registerPreloadNode(silent as unknown as Parameters<typeof registerPreloadNode>[0]);
  }, 60_000);
  afterAll(async () => {
    await silent?.end();
    await tp?.close();
  });

  it('should count the nodes, wait for the answering ones and give up on a silent one after the bound', async () => {
    const { releaseId } = await pushRelease(tp.db.pool, release('bounded', 'b1'));
    const { rows } = await tp.db.pool.query<{ hash: string }>('SELECT script_hash AS hash FROM routes WHERE release_id = $1', [releaseId]);
    const t0 = performance.now();
    const r = await preloadOnNodes(tp.db.pool, rows.map((x) => x.hash), { timeoutMs: 400 });
    const ms = performance.now() - t0;
    expect(r).toMatchObject({ nodes: 2, ready: 1 });
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThan(3000);
  });

  it('should still switch a release while a node does not answer', async () => {
    const { releaseId } = await pushRelease(tp.db.pool, release('bounded', 'b2'));
    expect(await tp.plane.waitForRelease('bounded', 'main', releaseId, 5000)).toBe(true);
    expect(await (await fetch(`${tp.base}/apps/bounded/r0`)).text()).toBe('b2 0 45');
  });
});
