/**
 * Validation runs in a worker thread with its own budget (issue 8): a push over the time or memory budget is
 * rejected with a clear message, the calling thread's event loop keeps turning meanwhile, and the next
 * validation works as usual.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEngine } from './engine.ts';
import { dirTreeSource, validateTree } from './validate.ts';

const dirs: string[] = [];
function tree(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(tmpdir(), 'picloud-validate-'));
  dirs.push(d);
  for (const [p, text] of Object.entries(files)) writeFileSync(path.join(d, p), text);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const APP = { 'picloud.toml': '[[routes]]\npath = "/"\nscript = "a.rhai"\n', 'a.rhai': 'fn handle(ctx) { "hi" }\n' };
let big = '';
for (let i = 0; i < 20_000; i++) big += `[[routes]]\npath = "/r${i}"\nscript = "a.rhai"\n`;

describe('validation off the calling thread', { timeout: 60_000 }, () => {
  it('should validate a tree in a worker while this thread keeps turning', async () => {
    const engine = await loadEngine();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const lines: string[] = [];
    const r = await validateTree(await dirTreeSource(tree({ ...APP, 'picloud.toml': big })), { engine, progress: (l) => lines.push(l) });
    clearInterval(timer);
    expect(r.ok).toBe(true);
    expect(r.build!.manifest!.routes).toHaveLength(20_000);
    expect(lines[0]).toBe('-----> Validating picloud.toml');
    // the worker did the work: the event loop here ran its timer all along (a blocked loop would tick ~once)
    expect(ticks).toBeGreaterThan(10);
  });

  it('should reject a validation over its time budget, then validate the next tree as usual', async () => {
    const engine = await loadEngine();
    const slow = await validateTree(await dirTreeSource(tree({ ...APP, 'picloud.toml': big })), { engine, budget: { timeoutMs: 50 } });
    expect(slow.ok).toBe(false);
    expect(slow.problems).toEqual([".:1:1: validation stopped: it took longer than 0.05 s, the time limit of one push's validation and compilation; nothing was deployed"]);
    const next = await validateTree(await dirTreeSource(tree(APP)), { engine });
    expect(next).toMatchObject({ ok: true, problems: [], problemCount: 0 });
  });

  it('should reject a validation over its memory budget without harming this process', async () => {
    const engine = await loadEngine();
    const r = await validateTree(await dirTreeSource(tree({ ...APP, 'picloud.toml': big })), { engine, budget: { maxHeapMb: 12 } });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([".:1:1: validation stopped: it needed more than 12 MB, the memory limit of one push's validation and compilation; nothing was deployed"]);
    const next = await validateTree(await dirTreeSource(tree(APP)), { engine });
    expect(next.ok).toBe(true);
  });

  it('should run concurrent validations and keep each result with its tree', async () => {
    const engine = await loadEngine();
    const bad = { ...APP, 'a.rhai': 'fn handle(ctx) { 1 +' };
    const results = await Promise.all([APP, bad, APP, bad].map(async (t) => validateTree(await dirTreeSource(tree(t)), { engine })));
    expect(results.map((r) => r.ok)).toEqual([true, false, true, false]);
    expect(results[1]!.problems[0]).toMatch(/^a\.rhai:1:/);
  });
});
