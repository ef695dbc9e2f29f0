/**
 * Seeded fuzzing of compile + run: a few thousand inputs mutated from a corpus (built-in snippets, plus the
 * shared conformance scripts when ../shared is present). Asserts that nothing but RhaiError ever escapes and
 * that every run stays bounded (operation / size / call-depth limits are set).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Engine, RhaiError, compile, programFromJSON, programToJSON, toDebug, type Value } from './index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = resolve(ROOT, '../shared/rhai-conformance');

const SNIPPETS = [
  'let x = 40; x + 2',
  'fn f(a, b) { a * b + 1 } f(6, 7)',
  'let a = [1, 2, 3]; a.push(4); a[1] += 10; a',
  'let m = #{a: 1, "b c": [1, 2]}; m.a += 1; m["b c"][0]',
  'let s = "héllo 😃"; s[1] + s.len() + `${s}!`',
  'let f = |x| x * 2; let g = f.curry(3); g.call()',
  'let x = 0; while x < 10 { x += 1; if x == 5 { break; } } x',
  'for (v, i) in [1, 2, 3] { print(v * i); }',
  'switch 3 { 1 | 2 => "a", 3 if true => "b", 4..10 => "c", _ => "d" }',
  'try { throw "oops"; } catch (e) { e }',
  'let obj = #{ n: 1, inc: || this.n += 1 }; obj.inc(); obj.n',
  'let r = loop { break 42; }; r',
  'const C = 5; fn g() { global::C * 2 } g()',
  'let x = 1 << 62; x * 4',
  'let b = blob(4, 1); b[0] = 255; b',
  'let v = 9223372036854775807; v + 1',
  'do { let y = 1; } until true;',
  'let c = \'x\'; c + "y"',
  '(1..10).contains(5) && 3 in 1..5',
  'let a = [3, 1, 2]; a.sort(); a.map(|x| x * x).filter(|x| x > 1).reduce(|s, x| s + x, 0)',
];

function corpus(): string[] {
  const out = [...SNIPPETS];
  const scripts = resolve(SHARED, 'scripts');
  if (existsSync(scripts)) {
    for (const f of readdirSync(scripts)) if (f.endsWith('.rhai') && !f.startsWith('all_in_one')) out.push(readFileSync(resolve(scripts, f), 'utf8'));
  }
  const cases = resolve(SHARED, 'cases.jsonl');
  if (existsSync(cases)) {
    const lines = readFileSync(cases, 'utf8').split('\n').filter(Boolean);
    for (let i = 0; i < lines.length; i += 3) out.push((JSON.parse(lines[i]!) as { script: string }).script);
  }
  return out;
}

/** mulberry32 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  '(', ')', '{', '}', '[', ']', ';', ',', '.', '?.', '?[', '::', '=>', '|', '||', '&&', '+', '-', '*', '/', '%', '**',
  '<<', '>>', '==', '!=', '<', '>', '..', '..=', '=', '+=', 'let ', 'const ', 'fn ', 'if ', 'else ', 'while ', 'loop ',
  'for ', ' in ', 'break', 'continue', 'return ', 'throw ', 'try ', 'catch ', 'switch ', 'this', 'Fn("f")', '"str"',
  '`a${1}b`', "'c'", '0', '1', '-1', '9223372036854775807', '1.5', 'true', '()', 'x', 'f(1)', 'eval("1")', '#{a:1}',
  '[1,2]', '😃', 'é', '\n', '/*', '*/', '//', '\\', '"', '`', '$', '!',
];

function mutate(src: string, r: () => number): string {
  let s = src;
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const i = Math.floor(r() * (s.length + 1));
    const j = Math.min(s.length, i + Math.floor(r() * 12));
    switch (Math.floor(r() * 5)) {
      case 0:
        s = s.slice(0, i) + s.slice(j);
        break;
      case 1:
        s = s.slice(0, i) + TOKENS[Math.floor(r() * TOKENS.length)] + s.slice(i);
        break;
      case 2:
        s = s.slice(0, i) + s.slice(i, j) + s.slice(i, j) + s.slice(j);
        break;
      case 3: {
        const t = TOKENS[Math.floor(r() * TOKENS.length)]!;
        s = s.slice(0, i) + t + s.slice(j);
        break;
      }
      default: {
        const q = Math.floor(r() * (s.length + 1));
        s = s.slice(0, q) + s.slice(i, j) + s.slice(q);
      }
    }
  }
  return s;
}

describe('rhai fuzz', () => {
  it('compile and run only ever raise RhaiError and stay bounded', () => {
    const base = corpus();
    const r = rng(Number(process.env.FUZZ_SEED ?? 20261127));
    const engine = new Engine({
      limits: { maxOperations: 20_000, maxCallLevels: 24, maxStringSize: 4096, maxArraySize: 2000, maxMapSize: 2000, maxVariables: 500 },
      onPrint: () => {},
      onDebug: () => {},
    });
    // the fast (uncounted) closure variant: only given inputs that finished within the limits above, and its
    // outcome must equal the checked variant's (differential test of the two variants)
    const fast = new Engine({ limits: { maxCallLevels: 24 }, onPrint: () => {}, onDebug: () => {} });
    const outcome = (f: () => Value): string => {
      try {
        return `ok ${toDebug(f())}`;
      } catch (e) {
        if (!(e instanceof RhaiError)) throw e;
        return `err ${e.kind}`;
      }
    };
    const N = Number(process.env.FUZZ_N ?? 3000);
    let compiled = 0;
    let ran = 0;
    for (let k = 0; k < N; k++) {
      const src = mutate(base[Math.floor(r() * base.length)]!, r);
      let res: ReturnType<typeof compile>;
      try {
        res = compile(src, { limits: { maxExprDepth: 64, maxFunctionExprDepth: 32 } });
      } catch (e) {
        throw new Error(`compile threw ${String(e)} for input:\n${src}`);
      }
      if (!res.ok) {
        expect(res.diagnostics.length).toBeGreaterThan(0);
        continue;
      }
      compiled++;
      const prog = k % 7 === 0 ? programFromJSON(programToJSON(res.program)) : res.program;
      const t0 = performance.now();
      try {
        const v = engine.run(prog);
        ran++;
        if (!/timestamp|Fn\(/.test(src)) {
          const a = `ok ${toDebug(v)}`;
          const b = outcome(() => fast.run(prog));
          if (a !== b) throw new Error(`checked and fast variants differ (${a} vs ${b}) for input:\n${src}`);
        }
      } catch (e) {
        if (e instanceof Error && !(e instanceof RhaiError)) throw e;
        if (!(e instanceof RhaiError)) throw new Error(`run threw a non-engine error ${String(e)} for input:\n${src}`);
        // a JS exception converted at the boundary means an engine bug
        if (/internal error/.test(e.fullMessage)) throw new Error(`engine bug: ${e.fullMessage} for input:\n${src}`);
        expect(e.pos === undefined || e.pos.line >= 1).toBe(true);
      }
      const dt = performance.now() - t0;
      if (dt > 2000) throw new Error(`run took ${dt.toFixed(0)} ms for input:\n${src}`);
    }
    console.log(`fuzz: ${N} inputs, ${compiled} compiled, ${ran} ran to completion`);
    expect(compiled).toBeGreaterThan(0);
    expect(ran).toBeGreaterThanOrEqual(0);
  }, 120_000);
});
