/**
 * ITERATION CONTRACT (between the core's `for` loop and the stdlib)
 *
 *   import { iterate } from '../stdlib/iter.ts';
 *   const it = iterate(value);      // Iterable<Value> | null
 *   if (it === null) throw ErrorFor // e.g. maps, ints, unit
 *
 * `iterate` accepts:
 *   - arrays: iterated over a SNAPSHOT (Rhai iterates a copy, so mutating the variable in the body does not
 *     change the iteration);
 *   - strings: their chars (`RChar`);
 *   - `RRange` (exclusive/inclusive; the core may keep its own fast path for plain ranges);
 *   - `RIterable` values (value.ts): `range(from, to, step)`, `range(range, step)`, float step ranges,
 *     `s.chars(..)`, `x.bits(..)`;
 *   - blobs: their bytes as ints.
 * Anything else returns null (Rhai raises ErrorFor). The loop counter of `for (x, i) in ...` is the core's.
 *
 * This file also holds the iter_basic package: `range(..)`, and range properties (`start`, `end`,
 * `is_inclusive`, `is_exclusive`, `is_empty`, `contains`).
 */
import { RChar, RFloat, RIterable, RRange, I64_MAX, I64_MIN, type Value } from '../runtime/value.ts';
import type { Package } from '../runtime/native.ts';
import { errArith, errInNative } from './util.ts';

/** Fast iterator over a number-only range `[from, to)` (hand-written: no generator overhead). */
class NumRangeIter implements Iterator<Value>, Iterable<Value> {
  constructor(
    private cur: number,
    private readonly to: number,
  ) {}
  next(): IteratorResult<Value> {
    const v = this.cur;
    if (v >= this.to) return { done: true, value: undefined };
    this.cur = v + 1;
    return { done: false, value: v };
  }
  [Symbol.iterator](): Iterator<Value> {
    return this;
  }
}

function rangeIter(start: number | bigint, end: number | bigint, inclusive: boolean): Iterable<Value> {
  if (typeof start === 'number' && typeof end === 'number' && end < Number.MAX_SAFE_INTEGER) {
    return new NumRangeIter(start, inclusive ? end + 1 : end);
  }
  return bigRangeIter(start, end, inclusive);
}

function* bigRangeIter(start: number | bigint, end: number | bigint, inclusive: boolean): Generator<Value> {
  let i = BigInt(start);
  const e = BigInt(end);
  while (inclusive ? i <= e : i < e) {
    yield i >= -9007199254740991n && i <= 9007199254740991n ? Number(i) : i;
    if (i === I64_MAX) return;
    i++;
  }
}

function* charIter(s: string): Generator<Value> {
  for (const c of s) yield new RChar(c);
}

function* blobIter(b: Uint8Array): Generator<Value> {
  for (let i = 0; i < b.length; i++) yield b[i]!;
}

export function iterate(v: Value): Iterable<Value> | null {
  if (Array.isArray(v)) return v.slice();
  if (typeof v === 'string') return charIter(v);
  if (v instanceof RRange) return rangeIter(v.start, v.end, v.inclusive);
  if (v instanceof RIterable) return v.iter();
  if (v instanceof Uint8Array) return blobIter(v);
  return null;
}

// ---- step ranges (iter_basic.rs StepRange) ----

const STEP_RANGE_INT = 'rhai::packages::iter_basic::StepRange<i64>';
const STEP_RANGE_FLOAT = 'rhai::packages::iter_basic::StepRange<f64>';

function zeroStep(): never {
  throw errInNative('range', errArith('step value cannot be zero'));
}

function addInt(a: number | bigint, b: number | bigint): number | bigint | null {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a + b;
    if (Number.isSafeInteger(r)) return r;
  }
  const r = BigInt(a) + BigInt(b);
  if (r > I64_MAX || r < I64_MIN) return null;
  return r >= -9007199254740991n && r <= 9007199254740991n ? Number(r) : r;
}

/** Fast iterator over a number-only step range (no generator overhead in hot `for` loops). */
class NumStepIter implements Iterator<Value>, Iterable<Value> {
  private cur: number;
  constructor(
    from: number,
    private readonly to: number,
    private readonly step: number,
    private done: boolean,
  ) {
    this.cur = from;
  }
  next(): IteratorResult<Value> {
    if (this.done) return { done: true, value: undefined };
    const v = this.cur;
    const n = v + this.step;
    this.cur = n;
    if (this.step > 0 ? n >= this.to : n <= this.to) this.done = true;
    return { done: false, value: v };
  }
  [Symbol.iterator](): Iterator<Value> {
    return this;
  }
}

export function intStepRange(from: number | bigint, to: number | bigint, step: number | bigint): RIterable {
  const n = addInt(from, step);
  let dir = 0;
  if (n !== null) {
    if (n == from) zeroStep();
    if (from < to && n > from) dir = 1;
    else if (from > to && n < from) dir = -1;
  }
  if (
    typeof from === 'number' &&
    typeof to === 'number' &&
    typeof step === 'number' &&
    Number.isSafeInteger(Math.abs(to) + Math.abs(step)) &&
    Number.isSafeInteger(Math.abs(from) + Math.abs(step))
  ) {
    return new RIterable(STEP_RANGE_INT, () => new NumStepIter(from, to, step, dir === 0));
  }
  return new RIterable(STEP_RANGE_INT, function* () {
    if (dir === 0) return;
    let cur: number | bigint = from;
    for (;;) {
      const v = cur;
      const next = addInt(cur, step);
      if (next === null) return;
      cur = next;
      yield v;
      if (dir > 0 ? cur >= to : cur <= to) return;
    }
  });
}

export function floatStepRange(from: number, to: number, step: number): RIterable {
  const n = from + step;
  let dir = 0;
  if (n === from) zeroStep();
  if (from < to && n > from) dir = 1;
  else if (from > to && n < from) dir = -1;
  return new RIterable(STEP_RANGE_FLOAT, function* () {
    if (dir === 0) return;
    let cur = from;
    for (;;) {
      const v = cur;
      cur = cur + step;
      yield new RFloat(v);
      if (dir > 0 ? cur >= to : cur <= to) return;
    }
  });
}

function rangeIsEmpty(r: RRange): boolean {
  return r.inclusive ? r.start > r.end : r.start >= r.end;
}

export const iterPackage: Package = (r) => {
  r.fn('range', ['int', 'int'], (_c, [a, b]) => new RRange(a as number, b as number, false));
  r.fn('range', ['int', 'int', 'int'], (_c, [a, b, s]) => intStepRange(a as number, b as number, s as number));
  r.fn('range', ['range', 'int'], (_c, [rg, s]) => {
    const x = rg as RRange;
    return intStepRange(x.start, x.end, s as number);
  });
  r.fn('range', ['float', 'float', 'float'], (_c, [a, b, s]) =>
    floatStepRange((a as RFloat).v, (b as RFloat).v, (s as RFloat).v),
  );

  for (const t of ['range', 'rangeInclusive'] as const) {
    const start = (_c: unknown, [rg]: Value[]) => (rg as RRange).start;
    const end = (_c: unknown, [rg]: Value[]) => (rg as RRange).end;
    const isIncl = (_c: unknown, [rg]: Value[]) => (rg as RRange).inclusive;
    const isExcl = (_c: unknown, [rg]: Value[]) => !(rg as RRange).inclusive;
    const isEmpty = (_c: unknown, [rg]: Value[]) => rangeIsEmpty(rg as RRange);
    r.fn('start', [t], start);
    r.fn('get$start', [t], start);
    r.fn('end', [t], end);
    r.fn('get$end', [t], end);
    r.fn('is_inclusive', [t], isIncl);
    r.fn('get$is_inclusive', [t], isIncl);
    r.fn('is_exclusive', [t], isExcl);
    r.fn('get$is_exclusive', [t], isExcl);
    r.fn('is_empty', [t], isEmpty);
    r.fn('get$is_empty', [t], isEmpty);
    r.fn('contains', [t, 'int'], (_c, [rg, x]) => {
      const g = rg as RRange;
      const v = x as number | bigint;
      return v >= g.start && (g.inclusive ? v <= g.end : v < g.end);
    });
  }
};
