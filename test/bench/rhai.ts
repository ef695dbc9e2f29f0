/**
 * `npm run bench:rhai [-- --json] [-- --only NAME] [-- --checked]`
 *
 * Times the benchmark scripts of ../shared/rhai-conformance/scripts in one process after a warm-up run
 * (release-build limits, print output discarded), plus parsing a ~200-line script and one compile+run of
 * `40 + 2`. Prints a table of medians vs native Rhai 1.25 (Rust, release) and vs the machine's ceiling: the same
 * algorithm in plain JavaScript, measured in the same run (rhai-ceiling.ts). With --json: exactly one JSON object
 * `{ "<script>": <median ms per run>, ... }` (the Rhai medians only).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Engine, compile, type Program } from '../../src/rhai/index.ts';
import { REPO_ROOT } from '../conformance/harness.ts';
import { PLAIN_JS } from './rhai-ceiling.ts';
import { median } from './lib.ts';

const SCRIPTS = resolve(REPO_ROOT, '../shared/rhai-conformance/scripts');
const json = process.argv.includes('--json');
/** --checked: run with sandbox limits set (operation counting and data-size checks), as the platform does */
const checked = process.argv.includes('--checked');
const onlyIdx = process.argv.indexOf('--only');
const only = onlyIdx >= 0 ? process.argv[onlyIdx + 1] : undefined;

/** Native Rhai 1.25 release-build times (ms per run) from the issue. */
const NATIVE: Record<string, number | undefined> = {
  fibonacci: 3360,
  primes: 1000,
  strings_map: 740,
  for2: 435,
  speed_test: 190,
  mat_mul: 140,
  string: 0.007,
  loop: 0.007,
};

/**
 * runs per benchmark: [warm-up runs, timed samples, iterations per sample]. The µs-scale runs (string, loop, and
 * eval_40_plus_2 below) warm up for ~0.1–0.3 s: after the big scripts, their first ~15,000 runs still deoptimize and
 * re-optimize the interpreter's shared closures (new types and call targets), and how long that takes depends on when
 * V8's background compiler thread gets a core; with 5,000 (500) warm-up runs the timed samples measured that tier-up.
 */
const PLAN: Record<string, [number, number, number]> = {
  fibonacci: [1, 3, 1],
  primes: [1, 5, 1],
  strings_map: [1, 5, 1],
  for2: [1, 5, 1],
  speed_test: [2, 7, 1],
  mat_mul: [2, 7, 1],
  string: [100000, 9, 2000],
  loop: [100000, 9, 2000],
};


function mustCompile(src: string, name: string): Program {
  const r = compile(src, { name });
  if (!r.ok) throw new Error(`${name}: ${r.diagnostics.map((d) => `${d.message} (line ${d.line}, position ${d.position})`).join('; ')}`);
  return r.program;
}

function timeIt(fn: () => void, [warm, samples, iters]: [number, number, number]): number {
  for (let i = 0; i < warm; i++) fn();
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn();
    times.push((performance.now() - t0) / iters);
  }
  return median(times);
}

/** A deterministic script of at least 200 lines: whole example scripts concatenated. */
function parseFixture(): string {
  const parts = ['mat_mul', 'primes', 'strings_map', 'switch', 'for1', 'string', 'function_decl5'];
  let out = '';
  for (const p of parts) {
    out += readFileSync(resolve(SCRIPTS, `${p}.rhai`), 'utf8') + '\n';
    if (out.split('\n').length >= 200) break;
  }
  return out;
}

function main(): void {
  if (!existsSync(SCRIPTS)) {
    (json ? console.error : console.log)(`note: ${SCRIPTS} not found (../shared is absent); skipping the Rhai benchmark.`);
    if (json) console.log('{}');
    return;
  }
  const engine = new Engine({
    onPrint: () => {},
    onDebug: () => {},
    limits: checked ? { maxOperations: 1e12, maxStringSize: 1 << 24, maxArraySize: 1 << 24, maxMapSize: 1 << 24 } : {},
  });
  const results: Record<string, number> = {};
  for (const name of Object.keys(PLAN)) {
    if (only && name !== only) continue;
    const prog = mustCompile(readFileSync(resolve(SCRIPTS, `${name}.rhai`), 'utf8'), name);
    results[name] = timeIt(() => void engine.run(prog), PLAN[name]!);
  }
  if (!only || only === 'parse200') {
    const src = parseFixture();
    results['parse200'] = timeIt(() => void mustCompile(src, 'parse200'), [20, 9, 20]);
  }
  if (!only || only === 'eval_40_plus_2') {
    results['eval_40_plus_2'] = timeIt(() => {
      const p = mustCompile('40 + 2', 'expr');
      if (engine.run(p) !== 42) throw new Error('40 + 2 != 42');
    }, [20000, 9, 1000]);
  }
  if (json) {
    console.log(JSON.stringify(results));
    return;
  }
  const ceiling: Record<string, number> = {};
  for (const [k, f] of Object.entries(PLAIN_JS)) if (k in results) ceiling[k] = timeIt(() => void f(), PLAN[k]!);
  console.log('script           median ms   native ms  vs native   plain JS ms  vs plain JS');
  console.log('---------------  ----------  ---------  ---------  -----------  -----------');
  const col = (x: number | undefined, w: number, f: (x: number) => string) => (x === undefined ? '-' : f(x)).padStart(w);
  for (const [k, v] of Object.entries(results)) {
    const n = NATIVE[k];
    const c = ceiling[k];
    console.log(
      `${k.padEnd(15)}  ${fmt(v).padStart(10)}  ${col(n, 9, fmt)}  ${col(n === undefined ? undefined : v / n, 9, (r) => `${r.toFixed(2)}x`)}` +
        `  ${col(c, 11, fmt)}  ${col(c === undefined ? undefined : v / c, 11, (r) => `${r.toFixed(1)}x`)}`,
    );
  }
  console.log('\nvs native: Rhai 1.25 release build (Rust) on this machine class, from the issue; < 1 is faster than native.');
  console.log('vs plain JS: the same algorithm hand-written in JavaScript, measured in this run (the ceiling).');
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(4);
}

main();
