/**
 * Parser fuzzing: mutated, truncated and spliced scripts must never make `parse` throw; it always returns a
 * program or diagnostics. Seeds come from the conformance corpus when `../shared` is present, else a small
 * built-in corpus.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from './parser.ts';

const here = dirname(fileURLToPath(import.meta.url));
const casesFile = resolve(here, '../../../shared/rhai-conformance/cases.jsonl');

const BUILTIN = [
  'let x = 1 + 2 * 3; x',
  'fn f(a, b) { if a > b { a } else { b } } f(1, 2)',
  'let m = #{a: 1, "b c": [1, 2.5, "s", \'c\']}; m.a += 1; m["b c"][0]',
  'let s = `x ${1 + `y ${2}`} z`; s.len()',
  'switch x { 1 | 2 => "a", 3 if y => { b }, 10..20 => c, _ => () }',
  'for (v, i) in [1, 2, 3] { if v == 2 { continue; } while true { break; } }',
  'try { throw "x"; } catch (e) { print(e); }',
  'let f = |a| a + x; let g = || { let q = 1; q }; f.call(1)',
  'import "m" as m; m::f(1); export const C = 1;',
  'do { x -= 1; } until x <= 0; loop { break 5; }',
  'let r = 0x_ff + 0o7 + 0b1 + 1e3 + 1.5e-3; r ?? 1; a?.b?[c]',
  '"esc \\x41 \\u2764 \\U0001F600 \\t \\"" + #"raw"#',
];

function seeds(): string[] {
  if (!existsSync(casesFile)) {
    console.warn(`note: ${casesFile} not found; fuzzing the built-in corpus only`);
    return BUILTIN;
  }
  const out = [...BUILTIN];
  for (const line of readFileSync(casesFile, 'utf8').split('\n')) {
    if (line.trim()) out.push((JSON.parse(line) as { script: string }).script);
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

const PIECES = ['(', ')', '{', '}', '[', ']', '`', '${', '"', "'", '\\', '|', '||', ',', ';', '.', '?.', '::', '=', '+=',
  '-', '!', '#{', 'fn ', 'let ', 'if ', 'else ', 'switch ', '=>', '_', 'break', 'return', '..', '**', '/*', '*/', '//',
  '\n', ' ', 'é', '😀', '0x', '1e', '9223372036854775808', 'this', 'x', 'print(', '++', '===', '#'];

describe('parser fuzz', () => {
  it('never throws on mutated input', () => {
    const corpus = seeds();
    const rand = rng(0xc0ffee);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const started = performance.now();
    let n = 0;
    let okCount = 0;
    for (; n < 4000; n++) {
      let s = pick(corpus);
      const ops = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < ops; k++) {
        const at = Math.floor(rand() * (s.length + 1));
        switch (Math.floor(rand() * 5)) {
          case 0: // truncate
            s = s.slice(0, at);
            break;
          case 1: // delete a run
            s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 4));
            break;
          case 2: // insert a piece
            s = s.slice(0, at) + pick(PIECES) + s.slice(at);
            break;
          case 3: {
            // splice with another script
            const o = pick(corpus);
            s = s.slice(0, at) + o.slice(Math.floor(rand() * (o.length + 1)));
            break;
          }
          default: // duplicate a chunk
            s = s.slice(0, at) + s.slice(at, at + 8) + s.slice(at);
        }
      }
      let r;
      try {
        r = parse(s, {
          maxExprDepth: rand() < 0.5 ? 32 : 0,
          maxFunctionExprDepth: 16,
          expression: rand() < 0.1,
          strictVariables: rand() < 0.2,
          allowShadowing: rand() < 0.9,
          maxStringSize: rand() < 0.1 ? 8 : 0,
          maxArraySize: rand() < 0.1 ? 3 : 0,
          maxFunctions: rand() < 0.1 ? 1 : 0,
          disabledSymbols: rand() < 0.1 ? ['if', '+=', 'eval', '.'] : [],
        });
      } catch (e) {
        throw new Error(`parse threw on ${JSON.stringify(s)}: ${String(e)}`);
      }
      if (r.ok) okCount++;
      else {
        expect(r.diagnostics.length).toBeGreaterThan(0);
        const d = r.diagnostics[0]!;
        expect(typeof d.message).toBe('string');
        expect(d.offset).toBeGreaterThanOrEqual(0);
        expect(d.offset).toBeLessThanOrEqual(s.length);
      }
    }
    expect(okCount).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
