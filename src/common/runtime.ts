/**
 * How PiCloud's own processes run. `npm start` runs the JavaScript that tsconfig.build.json compiles into dist/
 * (built by `npm ci` and again, incrementally, before each start), with NODE_FLAGS; tests and `bin.js` run the
 * TypeScript sources through tsx. A child process (an executor) starts the same way as the process that spawns it.
 *
 * Why compiled and why the flag (bench:idle, 60 s idle after a deploy, 2-core VM): under tsx the platform spent
 * 0.40–0.44 s of CPU and 104–109 MB RSS, most of it V8's memory-reducer GCs in four isolates, one of them tsx's
 * loader-hooks thread; compiled, 0.27–0.29 s and 87 MB; with --single-threaded-gc as well (GC work on each isolate's
 * own thread instead of waking four helper threads per collection), 0.20–0.22 s. Throughput was unchanged.
 * --memory-reducer-single-gc (0.2.x, same bench with a queue and a schedule, 3 executor threads): after activity the
 * memory reducer ran up to three full GCs per isolate ~8, ~17 and ~25 s later, and the second and third freed
 * almost nothing (committed heap 8.0 → 7.2 MB); one GC instead of three took the bench from 0.21–0.25 s to
 * 0.05–0.06 s of CPU per 60 s, for 6–11 MB more RSS (125–130 MB). Without the memory reducer: 0.02–0.04 s but
 * 151–154 MB.
 */
import { fileURLToPath } from 'node:url';

export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--memory-reducer-single-gc'];

/** true when this code runs from dist/ (compiled), false when it runs from src/ through tsx */
export const COMPILED = import.meta.url.endsWith('.js');

/** node arguments that run `src/<rel>.ts` the way this process runs: its dist/ build with NODE_FLAGS, or tsx. */
export function nodeArgsFor(rel: string): string[] {
  return COMPILED
    ? [...NODE_FLAGS, fileURLToPath(new URL(`../${rel}.js`, import.meta.url))]
    : ['--import', 'tsx', fileURLToPath(new URL(`../${rel}.ts`, import.meta.url))];
}
