/**
 * The lexer and parser are linear in their input (issue 8): large generated scripts compile within a time bound,
 * and doubling the input about doubles the time (a quadratic spot would quadruple it). Each shape here was
 * quadratic once: string literals on one line (column scan per literal), many `let`s (variable look-up scanned
 * the stack), map literals with many keys (duplicate check), closures (capture look-up).
 */
import { describe, expect, it } from 'vitest';
import { cpuMs, expectLinear } from '../../test/helpers/scaling.ts';
import { compile } from './index.ts';
import { LineIndex, lineCol } from './source.ts';

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
      expectLinear(compile, gen, 2_500);
    });
  }

  it('should answer the reported 150,000-literal script (880 KB, one line) within a second', () => {
    const src = `let s = ${Array(150_000).fill('"a"').join(' + ')};\n`;
    expect(src.length).toBeGreaterThan(880_000);
    let ok = true;
    expect(cpuMs(() => (ok = compile(src).ok))).toBeLessThan(1_000);
    // Rhai's expression-depth limit rejects the chain; the point is that it is answered at once
    expect(ok).toBe(false);
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
