/** Scaling checks for the property tests of the pure modules (issue 8: linear or n·log n in the input). */
import { expect } from 'vitest';

/** CPU time of f in ms (not wall time: on a shared machine a long run spans more of other processes' slices). */
export function cpuMs(f: () => void): number {
  const t0 = process.cpuUsage();
  f();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

/**
 * CPU time of compiling gen(n) and gen(4n), each the best of five interleaved runs (a major GC can land in any
 * one run: the minimum is the least noisy); asserts the ratio stays far from quadratic (4x the input: linear
 * ≈ 4x the time, quadratic ≈ 16x; a factor 4 rather than 2 separates the two far better than noise does).
 */
export function expectLinear(run: (input: string) => unknown, gen: (n: number) => string, n: number): void {
  const a = gen(n);
  const b = gen(4 * n);
  run(a); // warm up the JIT
  let small = Infinity;
  let large = Infinity;
  for (let k = 0; k < 5; k++) {
    small = Math.min(small, cpuMs(() => run(a)));
    large = Math.min(large, cpuMs(() => run(b)));
  }
  // a few ms of noise must not fail a fast case
  expect(large).toBeLessThan(Math.max(8 * small, small + 80));
}
