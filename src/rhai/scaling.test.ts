/**
 * The lexer and parser are linear in their input (issue 8): large generated scripts compile within a time bound,
 * and doubling the input about doubles the time (a quadratic spot would quadruple it). Each shape here was
 * quadratic once: string literals on one line (column scan per literal), many `let`s (variable look-up scanned
 * the stack), map literals with many keys (duplicate check), closures (capture look-up).
 */
import { describe, expect, it } from 'vitest';
import { compile } from './index.ts';
import { LineIndex, lineCol } from './source.ts';

/** Best of three runs, in ms (the machine is shared: the minimum is the least noisy). */
function best(f: () => void): number {
  let min = Infinity;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    f();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

/** Time of compiling gen(n) and gen(2n); asserts the ratio stays far from quadratic. */
function expectLinear(gen: (n: number) => string, n: number): { small: number; large: number } {
  const a = gen(n);
  const b = gen(2 * n);
  compile(a); // warm up the JIT
  const small = best(() => compile(a));
  const large = best(() => compile(b));
  // linear ≈ 2, quadratic ≈ 4; a few ms of noise must not fail a fast case
  expect(large).toBeLessThan(Math.max(3 * small, small + 40));
  return { small, large };
}

const SHAPES: Record<string, (n: number) => string> = {
  'string literals on one line': (n) => `let s = ${Array(n).fill('"a"').join(' + ')};`,
  'string literals, one per statement': (n) => Array(n).fill('"a";').join(' '),
  'many lets': (n) => Array.from({ length: n }, (_, i) => `let v${i} = ${i};`).join(' '),
  'a map literal with many keys': (n) => `let m = #{${Array.from({ length: n }, (_, i) => `k${i}: 1`).join(',')}};`,
  'many closures': (n) => Array.from({ length: n }, (_, i) => `let f${i} = |x| x + ${i};`).join(' '),
  'a function using many locals': (n) =>
    `fn h(ctx) { ${Array.from({ length: n }, (_, i) => `let v${i} = ${i};`).join(' ')} ${Array.from({ length: n }, (_, i) => `v${i};`).join(' ')} }`,
  'many functions': (n) => Array.from({ length: n }, (_, i) => `fn f${i}(a) { a }`).join('\n'),
  'a long array literal': (n) => `let a = [${Array(n).fill('1').join(',')}];`,
  'continued string lines': (n) => `let s = "a\\\n${' '.repeat(n)}b";`,
};

describe('compile time is linear in the script', () => {
  for (const [name, gen] of Object.entries(SHAPES)) {
    it(`should scale linearly: ${name}`, () => {
      expectLinear(gen, 6_000);
    });
  }

  it('should answer the reported 150,000-literal script (880 KB, one line) within a second', () => {
    const src = `let s = ${Array(150_000).fill('"a"').join(' + ')};\n`;
    expect(src.length).toBeGreaterThan(880_000);
    const t0 = performance.now();
    const r = compile(src);
    expect(performance.now() - t0).toBeLessThan(1_000);
    // Rhai's expression-depth limit rejects the chain; the point is that it is answered at once
    expect(r.ok).toBe(false);
  });

  it('should not overflow the stack on deep nesting: a diagnostic instead', () => {
    for (const src of ['('.repeat(500_000), '{'.repeat(500_000), '['.repeat(500_000), `let x = ${'-'.repeat(500_000)}1;`, 'if true '.repeat(100_000)]) {
      const r = compile(src);
      expect(r.ok).toBe(false);
    }
  });
});

describe('LineIndex', () => {
  it('should agree with lineCol on every offset, including surrogate pairs and CRLF', () => {
    const text = 'ab\r\nc😀d\n\n€x\ny';
    const idx = new LineIndex(text);
    for (let o = 0; o <= text.length + 2; o++) expect(idx.lineCol(o)).toEqual(lineCol(text, o));
  });
});
