/**
 * The machine's raw ceiling for the Rhai benchmark scripts: the same algorithms written directly in JavaScript
 * and run by the same V8 in the same process. A Rhai script cannot run faster than its plain-JS twin, so the
 * ratio "Rhai / plain JS" reads as the interpreter's overhead on this machine, whatever the machine's speed.
 */

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** Plain-JS twins of ../shared/rhai-conformance/scripts/<name>.rhai (without the printing). */
export const PLAIN_JS: Record<string, () => unknown> = {
  fibonacci: () => {
    let r = 0;
    for (let i = 0; i < 5; i++) r = fib(28);
    return r;
  },
  primes: () => {
    const max = 1_000_000;
    const mask = new Array<boolean>(max + 1).fill(true);
    mask[0] = mask[1] = false;
    let total = 0;
    for (let p = 2; p <= max; p++) {
      if (!mask[p]) continue;
      total++;
      for (let i = 2 * p; i <= max; i += p) mask[i] = false;
    }
    return total;
  },
  for2: () => {
    const list: number[] = [];
    for (let i = 0; i < 1_000_000; i++) list.push(i);
    let sum = 0;
    for (const x of list) sum += x;
    return sum;
  },
  speed_test: () => {
    let x = 1_000_000;
    while (x > 0) x -= 1;
    return x;
  },
  mat_mul: () => {
    const n = 50;
    const newMat = (x: number, y: number) => Array.from({ length: x }, () => new Array<number>(y).fill(0));
    const gen = () => {
      const tmp = 1 / n / n;
      const m = newMat(n, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i]![j] = tmp * (i - j) * (i + j);
      return m;
    };
    const a = gen();
    const b = gen();
    const b2 = newMat(n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) b2[j]![i] = b[i]![j]!;
    const c = newMat(n, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let z = 0; z < n; z++) s += a[i]![z]! * b2[j]![z]!;
        c[i]![j] = s;
      }
    }
    return c;
  },
};
