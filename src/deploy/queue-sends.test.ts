import { describe, expect, it } from 'vitest';
import { rhaiBuildpack } from './buildpacks/rhai.ts';
import { loadEngine } from './engine.ts';
import { queueSendCalls } from './queue-sends.ts';

const TOML = `[[routes]]\npath = "/"\nscript = "a.rhai"\n[[queues]]\nname = "emails"\nscript = "q.rhai"\nfunction = "deliver"\n`;

async function compileTree(files: Record<string, string>) {
  const engine = await loadEngine();
  const texts = new Map(Object.entries(files));
  const modes = new Map(Object.keys(files).map((p) => [p, '100644']));
  return rhaiBuildpack.compile({ texts, modes, engine, cache: null, progress: () => {} });
}

describe('queue::send with a literal name', () => {
  it('should find literal-name calls with their line and column, and ignore computed names', async () => {
    const engine = await loadEngine();
    const r = engine.compile('a.rhai', 'let n = "x";\nqueue::send(n, 1);\n  queue::send("emails", #{ a: 1 }, #{ delay_ms: 5 });\nfn f() { queue::send("other", ()) }');
    if (!r.ok) throw new Error(r.rendered.join('\n'));
    expect(queueSendCalls(r.json)).toEqual([{ name: 'emails', line: 3, col: 15 }, { name: 'other', line: 4, col: 22 }]);
  });

  it('should reject the push at the call when the name is not declared, and accept a declared one', async () => {
    const bad = await compileTree({ 'picloud.toml': TOML, 'a.rhai': '// send\nlet id = queue::send("emails", 1);\nqueue::send("emials", 2);\nid', 'q.rhai': 'fn deliver(ctx) { ctx.json }' });
    expect(bad.diagnostics.map((d) => `${d.path}:${d.line}:${d.col}: ${d.message}`)).toEqual([
      'a.rhai:3:13: queue::send to "emials", which no [[queues]] entry declares (declared: emails)',
    ]);
    const good = await compileTree({ 'picloud.toml': TOML, 'a.rhai': 'queue::send("emails", 1)', 'q.rhai': 'fn deliver(ctx) { ctx.json }' });
    expect(good.diagnostics).toEqual([]);
    expect(rhaiBuildpack.release(good)).toMatchObject({ queues: [{ name: 'emails', script: 'q.rhai', function: 'deliver', attempts: 3, backoff_ms: 1000, concurrency: 4 }] });
  });

  it('should check a queue handler like a route handler', async () => {
    const r = await compileTree({ 'picloud.toml': TOML, 'a.rhai': '1', 'q.rhai': 'fn other(ctx) { 1 }' });
    expect(r.diagnostics.map((d) => `${d.path}:${d.line}:${d.col}: ${d.message}`)).toEqual([
      'picloud.toml:7:12: function "deliver" is not defined in q.rhai (expected fn deliver(ctx))',
    ]);
  });
});
