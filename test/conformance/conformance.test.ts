/**
 * Runs the Rhai conformance corpus (../shared/rhai-conformance/cases.jsonl) and fails if the number of passing
 * cases falls below the floor recorded in floor.json. Skips with a note when ../shared is absent.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CASES, REPO_ROOT, existsSync, loadCases, runCase, runCaseResumable } from './harness.ts';

const floor = (JSON.parse(readFileSync(resolve(REPO_ROOT, 'test/conformance/floor.json'), 'utf8')) as { passed: number }).passed;
const present = existsSync(DEFAULT_CASES);
if (!present) console.warn(`note: ${DEFAULT_CASES} not found (../shared absent); skipping the Rhai conformance run`);

describe.skipIf(!present)('rhai conformance corpus', () => {
  it(`passes at least ${floor} cases`, () => {
    const results = loadCases(DEFAULT_CASES).map((c) => runCase(c));
    const passed = results.filter((r) => r.pass).length;
    const failing = results.filter((r) => !r.pass).map((r) => `${r.id}: ${r.reason}`);
    console.log(`rhai conformance: ${passed} passed, ${results.length - passed} failed`);
    expect(passed, `failing cases:\n${failing.join('\n')}`).toBeGreaterThanOrEqual(floor);
  }, 120_000);
  it('gives the same results with operation counting on (checked closure variant)', () => {
    const cases = loadCases(DEFAULT_CASES);
    const differ = cases
      .map((c) => [runCase(c), runCase(c, { forceChecked: true })] as const)
      .filter(([a, b]) => a.pass !== b.pass)
      .map(([a, b]) => `${a.id}: fast ${a.pass ? 'passes' : 'fails'}, checked ${b.pass ? 'passes' : `fails: ${b.reason}`}`);
    expect(differ).toEqual([]);
  }, 120_000);
  it('gives the same results through runAsync with every call resumable (the generator variant)', async () => {
    const differ: string[] = [];
    for (const c of loadCases(DEFAULT_CASES)) {
      const a = runCase(c);
      for (const forceChecked of [false, true]) {
        const b = await runCaseResumable(c, { forceChecked });
        if (a.pass !== b.pass) differ.push(`${a.id}: sync ${a.pass ? 'passes' : 'fails'}, resumable${forceChecked ? ' checked' : ''} ${b.pass ? 'passes' : `fails: ${b.reason}`}`);
      }
    }
    expect(differ).toEqual([]);
  }, 180_000);
});
