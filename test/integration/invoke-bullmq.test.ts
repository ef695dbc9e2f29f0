/** The invocation contract against the BullMQ mode (Redis queue, 2 executor processes), plus its own failure modes. */
import { describe, expect, it } from 'vitest';
import { startTestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { defineInvokeSuite } from './invoke-suite.ts';

defineInvokeSuite('bullmq');

describe('invocations (bullmq) without executors', () => {
  it('should answer 503 with JSON when no executor takes the invocation in time', async () => {
    const t = await startTestPlane('bullmq', { spawn: 0 });
    try {
      await pushRelease(t.db.pool, { app: 'lonely', scripts: { 'a.rhai': '"a"' }, routes: [{ path: '/a', script: 'a.rhai' }], limits: { timeout_ms: 100 } });
      await waitFor(() => t.plane.routes.size() === 1, 5000, 'route table');
      const started = Date.now();
      const rs = await Promise.all([fetch(`${t.base}/apps/lonely/a`), fetch(`${t.base}/apps/lonely/a`)]);
      for (const r of rs) {
        expect(r.status).toBe(503);
        expect(((await r.json()) as { error: string }).error).toMatch(/capacity/);
      }
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await t.plane.routes.waitForRelease('lonely', 'main', 1, 10)).toBe(true);
    } finally {
      await t.close();
    }
  });
});
