/**
 * Fair share of the executors (issue 8, item 6): one app saturating its share never holds every thread, so another
 * app's trivial route keeps answering fast; `[limits] concurrency` lowers an app's share; the excess waits in a
 * bounded per-app queue, then answers 503 APP_BUSY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { busyScript, median, quickWhileBusy, timed, timedDuringWrk, timedInSequence } from '../helpers/load.ts';




describe('fair share (embedded pool)', () => {
  let t: TestPlane;

  beforeAll(async () => {
    // 3 threads: an app may hold 2; at most 3 of an app's invocations wait in its queue
    t = await startTestPlane('embedded', { executors: 3, env: { PICLOUD_APP_QUEUE: '3' } });
    await pushRelease(t.db.pool, { app: 'hog', scripts: { 'slow.rhai': busyScript(1200) }, routes: [{ path: '/slow', script: 'slow.rhai' }], limits: { timeout_ms: 20_000, max_operations: 10_000_000 } });
    await pushRelease(t.db.pool, { app: 'quick', scripts: { 'ok.rhai': '"ok"' }, routes: [{ path: '/ok', script: 'ok.rhai' }] });
    await pushRelease(t.db.pool, { app: 'single', scripts: { 'slow.rhai': busyScript(600) }, routes: [{ path: '/slow', script: 'slow.rhai' }], limits: { timeout_ms: 20_000, concurrency: 1, max_operations: 10_000_000 } });
    await pushRelease(t.db.pool, { app: 'burst', scripts: { 'slow.rhai': busyScript(200) }, routes: [{ path: '/slow', script: 'slow.rhai' }], limits: { timeout_ms: 20_000, concurrency: 1, max_operations: 10_000_000 } });
    await pushRelease(t.db.pool, { app: 'patient', scripts: { 'slow.rhai': busyScript(300) }, routes: [{ path: '/slow', script: 'slow.rhai' }], limits: { timeout_ms: 500, concurrency: 1, max_operations: 10_000_000 } });
    await waitFor(() => t.plane.routes.size() === 5, 5000, 'route table');
    // warm the AST caches
    for (const p of ['/apps/quick/ok']) expect((await fetch(t.base + p)).status).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('should answer another app within 250 ms while one app saturates its share', async () => {
    const started = performance.now();
    const { quick, hog } = await quickWhileBusy(`${t.base}/apps/hog/slow`, 6, `${t.base}/apps/quick/ok`);
    // median: robust to a scheduling hiccup on a busy machine; max: below the hog's 1.2 s (never queued behind it)
    expect(median(quick)).toBeLessThan(250);
    expect(Math.max(...quick)).toBeLessThan(1000);
    const hogs = await hog;
    // the hog's six invocations ran two at a time: all succeed, in at least three rounds of ~1.2 s
    expect(hogs.map((h) => h.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(performance.now() - started).toBeGreaterThan(3 * 1200 - 100);
    expect(t.plane.stats()).toMatchObject({ pool: { appBusy: 0 } });
  });

  it('should run at most `[limits] concurrency` invocations of an app at once', async () => {
    const started = performance.now();
    const rs = await Promise.all([0, 1].map(() => timed(`${t.base}/apps/single/slow`)));
    expect(rs.map((r) => r.status)).toEqual([200, 200]);
    // one after the other, not side by side
    expect(performance.now() - started).toBeGreaterThan(2 * 600 - 50);
  });

  it('should answer 503 APP_BUSY once the app has its share busy and its queue is full, and keep serving others', async () => {
    // concurrency 1: one thread, up to 8 pipelined on it, then 3 in the app queue; the rest is refused at once
    const rs = Array.from({ length: 16 }, () => timed(`${t.base}/apps/burst/slow`));
    const others = await timedInSequence(`${t.base}/apps/quick/ok`, 3, 100);
    expect(median(others)).toBeLessThan(250);
    const all = await Promise.all(rs);
    const busy = all.filter((r) => r.status === 503);
    expect(all.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(11);
    expect(busy.length).toBeGreaterThanOrEqual(1);
    expect(busy.length + all.filter((r) => r.status === 200).length).toBe(16);
    for (const b of busy) {
      expect(JSON.parse(b.body)).toMatchObject({ code: 'APP_BUSY' });
      expect(b.body).toMatch(/burst.*share/);
      expect(b.headers.get('retry-after')).toBe('1');
      expect(b.ms).toBeLessThan(1000);
    }
  });

  it("should answer 503 APP_BUSY to an invocation that waited in its app's queue past timeout_ms", async () => {
    // one running + 7 pipelined (8 × 300 ms); the 9th, 10th and 11th wait in the queue (it holds 3). The 9th gets
    // the thread after ~300 ms; the 10th after ~600 ms unless the 100 ms sweep finds it past 500 ms first (a race
    // that went either way on a loaded machine); the 11th could get it only after ~900 ms: it gives up
    const all = await Promise.all(Array.from({ length: 11 }, () => timed(`${t.base}/apps/patient/slow`)));
    const busy = all.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThanOrEqual(1);
    expect(busy.length + all.filter((r) => r.status === 200).length).toBe(11);
    for (const b of busy) {
      expect(b.body).toMatch(/within its timeout_ms/);
      expect(b.ms).toBeGreaterThanOrEqual(500);
      expect(b.ms).toBeLessThan(2000);
    }
  });
});

describe('fair share (embedded pool), two apps busy at once', () => {
  let t: TestPlane;

  beforeAll(async () => {
    // 3 threads: each app may hold 2, so two busy apps can hold all three
    t = await startTestPlane('embedded', { executors: 3, env: { PICLOUD_APP_QUEUE: '1000' } });
    const limits = { timeout_ms: 30_000, max_operations: 10_000_000 };
    for (const [app, ms] of [['long-a', 150], ['long-c', 150], ['short-a', 4], ['short-c', 4]] as const) {
      await pushRelease(t.db.pool, { app, scripts: { 'slow.rhai': busyScript(ms) }, routes: [{ path: '/slow', script: 'slow.rhai' }], limits });
    }
    await pushRelease(t.db.pool, { app: 'quick', scripts: { 'ok.rhai': '"ok"' }, routes: [{ path: '/ok', script: 'ok.rhai' }] });
    await waitFor(() => t.plane.routes.size() === 5, 5000, 'route table');
    // each script ran once: the pool knows how long it runs
    for (const p of ['long-a/slow', 'long-c/slow', 'short-a/slow', 'short-c/slow', 'quick/ok']) expect((await fetch(`${t.base}/apps/${p}`)).status).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('should give a third app a thread as soon as one frees up while two apps with long scripts hold them all', async () => {
    // 40 × 150 ms per app: without turns, the apps holding the threads kept them (each thread queued eight of its
    // app's invocations and took the next as one ended), and the quick app waited until a flood ended (2.8 s); now
    // 17–146 ms here
    const floods = ['long-a', 'long-c'].map((app) => Promise.all(Array.from({ length: 40 }, () => timed(`${t.base}/apps/${app}/slow`))));
    const quick = await timedInSequence(`${t.base}/apps/quick/ok`, 5, 300);
    for (const f of await Promise.all(floods)) expect(f.filter((r) => r.status === 200).length).toBe(40);
    expect(median(quick)).toBeLessThan(300);
    expect(Math.max(...quick)).toBeLessThan(1000);
  });

  it('should give a third app a thread soon while two apps with short scripts hold them all', async () => {
    // wrk keeps 32 invocations of each app outstanding for 3 s: every thread pipelines its app's next one as one
    // ends, so without turns the quick app waited until wrk stopped (2.6 s). The pipelines drain while an app waits
    // with no thread: 37–46 ms here
    const quick = await timedDuringWrk(['short-a', 'short-c'].map((app) => `${t.base}/apps/${app}/slow`), 32, `${t.base}/apps/quick/ok`);
    expect(median(quick)).toBeLessThan(300);
    expect(Math.max(...quick)).toBeLessThan(1000);
  });
});

describe('fair share (executor processes over Redis)', () => {
  let t: TestPlane;

  beforeAll(async () => {
    // 2 processes of 2 threads: an app may hold 1 thread in each, and each takes 16 active invocations at once
    t = await startTestPlane('bullmq', { spawn: 2, executorThreads: 2 });
    await pushRelease(t.db.pool, { app: 'hog', scripts: { 'slow.rhai': busyScript(200) }, routes: [{ path: '/slow', script: 'slow.rhai' }], limits: { timeout_ms: 30_000, max_operations: 10_000_000 } });
    await pushRelease(t.db.pool, { app: 'mid', scripts: { 'slow.rhai': busyScript(60) }, routes: [{ path: '/slow', script: 'slow.rhai' }], limits: { timeout_ms: 30_000, max_operations: 10_000_000 } });
    for (const app of ['short-a', 'short-c']) {
      await pushRelease(t.db.pool, { app, scripts: { 'slow.rhai': busyScript(8) }, routes: [{ path: '/slow', script: 'slow.rhai' }], limits: { timeout_ms: 30_000, max_operations: 10_000_000 } });
    }
    await pushRelease(t.db.pool, { app: 'quick', scripts: { 'ok.rhai': '"ok"' }, routes: [{ path: '/ok', script: 'ok.rhai' }] });
    await waitFor(() => t.plane.routes.size() === 5, 5000, 'route table');
    // each executor process ran each script (it knows how long it runs)
    for (const p of ['quick/ok', 'short-a/slow', 'short-c/slow', 'mid/slow']) for (let i = 0; i < 4; i++) expect((await fetch(`${t.base}/apps/${p}`)).status).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("should answer another app at once while one app's flood is more than the executors' room", async () => {
    // 64 × 200 ms on one thread per process: ~6.4 s of work. What waits for the hog's share (its thread in each
    // process) takes no room, so the quick app's invocations never queue behind the flood at the orchestrator
    // (they did: 32 of the hog's held every credit and the other 32 waited ahead, ~3 s).
    const { quick, hog } = await quickWhileBusy(`${t.base}/apps/hog/slow`, 64, `${t.base}/apps/quick/ok`, 5, 300);
    expect(median(quick)).toBeLessThan(250);
    expect(Math.max(...quick)).toBeLessThan(1000);
    const hogs = await hog;
    expect(hogs.filter((h) => h.status === 200).length).toBe(64);
  });

  it("should take another app's invocation in turn while a flood waits at the orchestrator", async () => {
    // 240 × 60 ms: each process holds its room's worth aside (8 running or queued on a thread, 72 aside), the other
    // ~80 wait at the orchestrator, in the flood's own FIFO
    const flood = Promise.all(Array.from({ length: 240 }, () => timed(`${t.base}/apps/mid/slow`)));
    await waitFor(() => (t.plane.dispatcher.stats().waiting ?? 0) > 20, 5000, 'invocations waiting at the orchestrator');
    const quick = await timedInSequence(`${t.base}/apps/quick/ok`, 3);
    const waitingAfter = t.plane.dispatcher.stats().waiting ?? 0;
    expect((await flood).filter((r) => r.status === 200)).toHaveLength(240);
    // served in turn, after a credit or two: 21–176 ms here, with 72 of the flood still waiting (in one FIFO for
    // every app, behind all of the flood's: 1.1–1.3 s)
    expect(waitingAfter).toBeGreaterThan(0);
    expect(Math.max(...quick)).toBeLessThan(700);
  });

  it('should keep a quarter of what an orchestrator holds pending for the other apps', async () => {
    // a second orchestrator of the cluster that holds at most 8 invocations pending: an app may hold 6 of them
    const small = await startTestPlane('bullmq', { spawn: 0, db: t.db, prefix: t.prefix, maxQueue: 8 });
    try {
      await waitFor(() => small.plane.routes.size() === t.plane.routes.size(), 5000, 'route table');
      await waitFor(() => small.plane.dispatcher.stats().lanes === 2, 30_000, 'both executors dial it');
      const flood = Promise.all(Array.from({ length: 12 }, () => timed(`${small.base}/apps/hog/slow`)));
      await new Promise((r) => setTimeout(r, 100));
      const other = await timed(`${small.base}/apps/quick/ok`);
      const rs = await flood;
      // before, the flood held all 8 and this answered 503 NO_CAPACITY
      expect(`${other.status} ${other.body}`).toBe('200 ok');
      expect(rs.filter((r) => r.status === 200)).toHaveLength(6);
      for (const r of rs.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(503);
        expect(JSON.parse(r.body)).toMatchObject({ code: 'APP_BUSY' });
        expect(r.headers.get('retry-after')).toBe('1');
      }
    } finally {
      await small.close();
    }
  });

  it("should answer another app soon while two apps' floods take every thread of both processes", async () => {
    // wrk keeps 64 invocations of each of two apps outstanding for 3 s (8 ms each, pipelined eight deep on every
    // thread). The quick app took 297–978 ms (median 462) while the busy apps' next invocations kept the threads'
    // pipelines full; now they drain while it waits holding no thread: 59–113 ms here
    const quick = await timedDuringWrk(['short-a', 'short-c'].map((app) => `${t.base}/apps/${app}/slow`), 64, `${t.base}/apps/quick/ok`);
    expect(median(quick)).toBeLessThan(300);
    expect(Math.max(...quick)).toBeLessThan(1000);
  });
});
