/**
 * The example scripts of ../shared/rhai-conformance/scripts produce the output listed in its README.
 * Long outputs (for1, string, switch) are read from the README's code blocks; timing lines are matched by prefix.
 * Skips with a note when ../shared is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Engine, compile } from './index.ts';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/rhai-conformance/scripts');
const present = existsSync(DIR);
if (!present) console.warn(`note: ${DIR} not found (../shared absent); skipping example-script tests`);

const countdown = ['10', '9', '8', '7', '6', '5', '4', '3', '2', '1'];
/** expected lines; a string ending in '…' matches by prefix (timing lines) */
const SHORT: Record<string, string[]> = {
  'array.rhai': ['x[1] should be 2:', '2', 'x[1] should be 5: 5'],
  'assignment.rhai': ['x should be 78: 78'],
  'comments.rhai': [],
  'doc-comments.rhai': ['hello, world! 42'],
  'for3.rhai': ['Ready... Go!', 'Creating 100 closures...', 'Time = …', 'Summing 100 closures...', 'Sum = 980100 (should be 980100)', 'Finished. Total run time = …'],
  'function_decl1.rhai': ['call_me() should be 3: 3'],
  'function_decl2.rhai': ['add(a, 4) should be 46: 46', 'a should still be 3: 3'],
  'function_decl3.rhai': ['result should be 42: 42'],
  'function_decl4.rhai': ['obj should now be 42: 42'],
  'function_decl5.rhai': ['47', '1764', '42', '0', '45', '2', 'x: 42'],
  'if1.rhai': ['a < b, x should be 0', '0'],
  'if2.rhai': ['x should be 810: 810'],
  'loop.rhai': countdown,
  'module.rhai': [...countdown, 'Module test! foo = 0'],
  'oop.rhai': ['Data=123', 'Data=84', 'Should be 84: 84'],
  'op1.rhai': ['The result should be 46:', '46'],
  'op2.rhai': ['The result should be 182:', '182'],
  'op3.rhai': ['The result should be 230:', '230'],
  'while.rhai': countdown,
  'fibonacci.rhai': ['Running Fibonacci(28) x 5 times...', 'Ready... Go!', 'Finished. Run time = …', 'Fibonacci number #28 = 317811'],
  'for2.rhai': ['Iterating an array with 1000000 items...', 'Ready... Go!', 'Time = …', 'Sum = 499999500000', 'Finished. Total run time = …'],
  'primes.rhai': ['Total 78498 primes <= 1000000', 'Run time = …'],
  'speed_test.rhai': ['Ready... Go!', 'Finished. Run time = …'],
  'mat_mul.rhai': ['Finished. Run time = …'],
  'strings_map.rhai': ['Ready... Go!', 'Sum = 12799920000', 'Finished. Run time = …'],
};

function readmeBlock(name: string): string[] {
  const readme = readFileSync(resolve(DIR, 'README.md'), 'utf8');
  const at = readme.indexOf('### `' + name + '`');
  const start = readme.indexOf('```\n', at) + 4;
  const end = readme.indexOf('\n```', start);
  return readme.slice(start, end).split('\n');
}

function runScript(file: string): string[] {
  const out: string[] = [];
  const engine = new Engine({
    onPrint: (s) => out.push(...s.split('\n')),
    resolveModule: (p) => (existsSync(resolve(DIR, `${p}.rhai`)) ? readFileSync(resolve(DIR, `${p}.rhai`), 'utf8') : undefined),
  });
  const r = compile(readFileSync(resolve(DIR, file), 'utf8'), { name: file });
  if (!r.ok) throw new Error(`${file}: ${r.diagnostics[0]!.message}`);
  engine.run(r.program);
  return out;
}

describe.skipIf(!present)('rhai example scripts', () => {
  for (const name of ['for1.rhai', 'string.rhai', 'switch.rhai']) {
    it(name, () => expect(runScript(name)).toEqual(readmeBlock(name)));
  }
  for (const [name, lines] of Object.entries(SHORT)) {
    it(name, () => {
      const out = runScript(name);
      expect(out.length, out.join('\n')).toBe(lines.length);
      lines.forEach((l, i) => {
        if (l.endsWith('…')) expect(out[i]!.startsWith(l.slice(0, -1))).toBe(true);
        else expect(out[i]).toBe(l);
      });
    }, 30_000);
  }
});
