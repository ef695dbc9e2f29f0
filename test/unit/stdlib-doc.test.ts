/** docs/stdlib.md is generated from the engine's function registry; it must match what the code registers now. */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/rhai/index.ts';
import { STDLIB_DOC, renderStdlibDoc, usage } from '../docs/stdlib.ts';

describe('docs/stdlib.md', () => {
  const fresh = renderStdlibDoc();

  it('should be up to date with the function registry (run `npm run docs:stdlib` to regenerate it)', () => {
    expect(existsSync(STDLIB_DOC), 'docs/stdlib.md is missing: run `npm run docs:stdlib`').toBe(true);
    const onDisk = readFileSync(STDLIB_DOC, 'utf8');
    expect(onDisk === fresh, 'docs/stdlib.md is out of date: run `npm run docs:stdlib` and commit the result').toBe(true);
  });

  it('should list every overload the engine resolves', () => {
    const missing = new Engine()
      .describeFunctions()
      .global.filter((s) => !s.name.includes('$'))
      .map((s) => `\`${usage(s)}\``)
      .filter((sig) => !fresh.includes(sig));
    expect(missing).toEqual([]);
  });

  it('should list the handler functions and host modules the executor registers', () => {
    for (const sig of ['`response(i64, any)`', '`response(i64, any, map)`', '`redirect(string)`', '`now()`', '`kv::get(string)`', '`kv::set(string, any)`', '`json::parse(string)`'])
      expect(fresh).toContain(sig);
  });
});
