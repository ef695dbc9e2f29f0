/**
 * kv:: consistency through the platform, in the embedded mode and in Redis mode with 2 executor processes (each
 * batching its own kv statements, src/db/kv-store.ts): a request sent after a write was acknowledged reads it,
 * whichever process served the write (a script, or the statement the manager's KV API runs for `picloud kv:set`)
 * and whichever serves the read; and an invocation reads its own writes. (A read cache kept by LISTEN/NOTIFY failed
 * the first test within a dozen writes: the old value was read while the NOTIFY was on its way.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvSet } from '../../src/db/kv.ts';
import { startTestPlane, type Mode, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

const SCRIPTS: Record<string, string> = {
  'get.rhai': 'kv::get(ctx.query.k) ?? "none"',
  'set.rhai': 'kv::set(ctx.query.k, ctx.query.v); "ok"',
  'ryw.rhai': 'let before = kv::get(ctx.query.k); kv::set(ctx.query.k, ctx.query.v); let after = kv::get(ctx.query.k); kv::delete(ctx.query.k); #{ before: before, after: after, gone: kv::get(ctx.query.k) }',
};
const ROUTES = [
  { path: '/get', script: 'get.rhai' },
  { path: '/set', method: 'POST', script: 'set.rhai' },
  { path: '/ryw', script: 'ryw.rhai' },
];

async function text(url: string, init?: RequestInit): Promise<string> {
  const r = await fetch(url, init);
  const body = await r.text();
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${body}`);
  return body;
}

describe.each<Mode>(['embedded', 'bullmq'])('kv consistency (%s)', (mode) => {
  let t: TestPlane;
  let appId: number;
  beforeAll(async () => {
    t = await startTestPlane(mode, mode === 'bullmq' ? { spawn: 2, executors: 2 } : {});
    appId = (await pushRelease(t.db.pool, { app: 'kvc', scripts: SCRIPTS, routes: ROUTES })).appId;
    await waitFor(() => t.plane.routes.size() === 1, 5000, 'route table');
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('should read every acknowledged write in the next request, whoever wrote it', async () => {
    const url = `${t.base}/apps/kvc`;
    // every process has read the key (as absent) at least once
    for (let i = 0; i < 8; i++) expect(await text(`${url}/get?k=seq`)).toBe('none');
    for (let i = 1; i <= 120; i++) {
      if (i % 2) expect(await text(`${url}/set?k=seq&v=v${i}`, { method: 'POST' })).toBe('ok');
      else await kvSet(t.db.pool, { appId, branch: 'main' }, 'seq', JSON.stringify(`v${i}`)); // what PUT /api/v1/apps/:app/kv/<key> runs
      // two reads: with 2 executor processes they are usually served by different ones
      expect(await text(`${url}/get?k=seq`)).toBe(`v${i}`);
      expect(await text(`${url}/get?k=seq`)).toBe(`v${i}`);
    }
  });

  it('should let an invocation read its own writes', async () => {
    const url = `${t.base}/apps/kvc/ryw?k=own`;
    for (let i = 1; i <= 40; i++) {
      const r = JSON.parse(await text(`${url}&v=${i}`)) as { before: unknown; after: unknown; gone: unknown };
      expect(r).toEqual({ before: null, after: String(i), gone: null }); // the script deletes the key again
    }
  });
});
