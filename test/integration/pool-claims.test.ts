/**
 * The executor pool's side of lane claims (src/executor/pool.ts, StartGate in queue/dispatch.ts), with real worker
 * threads and a gate the test controls: a task that waits in its app's queue is parked after PARK_AFTER_MS (one
 * that starts at once is not), a parked task is claimed before it is posted to its thread, a refused claim drops it
 * unrun and frees its place on the thread for the next one, and an accepted one runs. With real executor processes
 * and a kill -9: lanes.test.ts; the lane's side of the messages: lane-claims.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.ts';
import { ExecutorPool } from '../../src/executor/pool.ts';
import { targetOf } from '../../src/orchestrator/route-table.ts';
import type { StartGate } from '../../src/queue/dispatch.ts';
import type { HttpInvocation, InvocationTarget } from '../../src/queue/jobs.ts';
import { busyScript } from '../helpers/load.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

/** A gate whose claims wait for the test's answer. */
function testGate(): StartGate & { parked: string[]; claims: Map<string, (ok: boolean) => void> } {
  const parked: string[] = [];
  const claims = new Map<string, (ok: boolean) => void>();
  return {
    parked,
    claims,
    park: (id) => parked.push(id),
    claim: (id) => new Promise<boolean>((res) => claims.set(id, res)),
  };
}

describe('executor pool: parked tasks are claimed before they start', () => {
  let t: TestPlane;
  let pool: ExecutorPool;
  let target: InvocationTarget;
  const job = (): HttpInvocation => ({ kind: 'http', id: randomUUID(), target, route: '/s', method: 'GET', path: '/s', params: {}, query: {}, headers: {}, body: '' });

  beforeAll(async () => {
    t = await startTestPlane('embedded');
    await pushRelease(t.db.pool, { app: 'slow', scripts: { 's.rhai': busyScript(300) }, routes: [{ path: '/s', script: 's.rhai' }], limits: { timeout_ms: 10_000, max_operations: 10_000_000 } });
    await waitFor(() => t.plane.routes.entry('slow', 'main') !== null, 5000, 'route table');
    const e = t.plane.routes.entry('slow', 'main')!;
    target = targetOf(e, e.routes[0]!);
    // 2 threads, the app may hold 1: its second and third invocations wait in its queue
    pool = new ExecutorPool({ pool: t.db.pool, log: silentLogger, threads: 2, appShare: 1, maxHeapMb: 96 });
    await pool.start();
    // it learns that the script runs long (no pipelining behind a running one)
    expect((await pool.run(job())).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await pool?.close();
    await t?.close();
  });

  it('should park what waits, drop it unrun when its claim is refused, and run it when accepted', async () => {
    const gate = testGate();
    const first = job();
    const [refused, accepted] = [job(), job()];
    const p1 = pool.run(first, gate);
    const p2 = pool.run(refused, gate);
    const p3 = pool.run(accepted, gate);
    // the first started at once: never parked, never claimed
    await waitFor(() => gate.parked.length === 2, 2000, 'the two waiting ones parked');
    expect(gate.parked).toEqual([refused.id, accepted.id]);
    expect((await p1).status).toBe(200);
    expect(gate.claims.has(first.id)).toBe(false);
    // the app's thread is free: the next one is claimed, and waits for the answer
    await waitFor(() => gate.claims.has(refused.id), 2000, 'a claim');
    expect(pool.stats().busy).toBe(1);
    gate.claims.get(refused.id)!(false);
    const r2 = await p2;
    expect(r2.status).toBe(503);
    expect(r2.body).toMatch(/Not run/);
    // its place went to the next one, which runs once claimed
    await waitFor(() => gate.claims.has(accepted.id), 2000, 'the next claim');
    const started = performance.now();
    gate.claims.get(accepted.id)!(true);
    const r3 = await p3;
    expect(r3.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThan(250);
    // nothing is left counted on the threads
    await waitFor(() => pool.stats().busy === 0 && pool.stats().queued === 0, 2000, 'an idle pool');
    expect(pool.heldAside()).toBe(0);
  }, 30_000);
});
