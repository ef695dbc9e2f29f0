/**
 * Equality and ordering with Rhai semantics (src/func/builtin.rs, array_basic.rs / map_basic.rs `equals`).
 *
 * - `valuesEqual(a, b)`: Rhai `==`. Same-type equality; int vs float and float vs float use the relative-epsilon
 *   rule; char vs string compare the char against the string's first two chars (Rhai's `[c, '\0']` trick, so
 *   `'a' == "a"`); `() == ()` is true; arrays/maps/blobs compare element-wise; unrelated types are unequal.
 * - `compareValues(a, b)`: ordering for `<`, `<=`, `>`, `>=` and `sort()`: -1 / 0 / 1, or `null` when the pair
 *   is not ordered (every ordering operator is then false). `()` vs `()` is null (Rhai: `() <= ()` is false).
 */
import { FnPtr, RChar, RFloat, RRange, Timestamp, type Value } from './value.ts';
import { compareStrings } from './format.ts';

const EPSILON = Number.EPSILON;

/** Relative-epsilon float equality (builtin.rs). */
export function floatEq(x: number, y: number): boolean {
  if (x === y) return true;
  const m = x * y === 0 ? 1 : Math.max(Math.abs(x), Math.abs(y));
  return Math.abs(x - y) / m <= EPSILON;
}

/** Relative-epsilon float ordering; null if either side is NaN. */
export function floatCmp(x: number, y: number): number | null {
  if (x === y) return 0;
  if (Number.isNaN(x) || Number.isNaN(y)) return null;
  const m = x * y === 0 ? 1 : Math.max(Math.abs(x), Math.abs(y));
  if (!Number.isFinite(m)) return x < y ? -1 : 1;
  if ((y - x) / m > EPSILON) return -1;
  if ((x - y) / m > EPSILON) return 1;
  return 0;
}

function numOf(v: number | bigint): number {
  return typeof v === 'number' ? v : Number(v);
}

/** First two code points of s, with '\0' padding (as numbers). */
function firstTwo(s: string): [number, number] {
  if (s.length === 0) return [0, 0];
  const a = s.codePointAt(0)!;
  const i = a > 0xffff ? 2 : 1;
  const b = i < s.length ? s.codePointAt(i)! : 0;
  return [a, b];
}

function charStrCmp(c: string, s: string): number {
  const x = c.codePointAt(0)!;
  const [a, b] = firstTwo(s);
  if (x !== a) return x < a ? -1 : 1;
  if (b !== 0) return -1;
  return 0;
}

export function valuesEqual(a: Value, b: Value): boolean {
  if (a === b && !(a instanceof RFloat)) return true;
  switch (typeof a) {
    case 'number':
    case 'bigint':
      if (typeof b === 'number' || typeof b === 'bigint') return a == b;
      if (b instanceof RFloat) return floatEq(numOf(a), b.v);
      return false;
    case 'string':
      if (b instanceof RChar) return charStrCmp(b.c, a) === 0;
      return false;
    case 'boolean':
    case 'undefined':
      return false;
  }
  if (a instanceof RFloat) {
    if (b instanceof RFloat) return floatEq(a.v, b.v);
    if (typeof b === 'number' || typeof b === 'bigint') return floatEq(a.v, numOf(b));
    return false;
  }
  if (a instanceof RChar) {
    if (b instanceof RChar) return a.c === b.c;
    if (typeof b === 'string') return charStrCmp(a.c, b) === 0;
    return false;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) {
      if (!b.has(k)) return false;
      if (!valuesEqual(v, b.get(k))) return false;
    }
    return true;
  }
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof Timestamp) return b instanceof Timestamp && a.ms === b.ms;
  if (a instanceof RRange) {
    return b instanceof RRange && a.inclusive === b.inclusive && a.start == b.start && a.end == b.end;
  }
  if (a instanceof FnPtr) {
    if (!(b instanceof FnPtr) || a.name !== b.name || a.fn !== b.fn || a.curry.length !== b.curry.length) return false;
    for (let i = 0; i < a.curry.length; i++) if (!valuesEqual(a.curry[i], b.curry[i])) return false;
    return true;
  }
  return false;
}

/** Ordering, or null when the two values are not comparable. */
export function compareValues(a: Value, b: Value): number | null {
  switch (typeof a) {
    case 'number':
    case 'bigint':
      if (typeof b === 'number' || typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
      if (b instanceof RFloat) return floatCmp(numOf(a), b.v);
      return null;
    case 'string':
      if (typeof b === 'string') return compareStrings(a, b);
      if (b instanceof RChar) return -charStrCmp(b.c, a);
      return null;
    case 'boolean':
      if (typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
      return null;
    case 'undefined':
      return null;
  }
  if (a instanceof RFloat) {
    if (b instanceof RFloat) return floatCmp(a.v, b.v);
    if (typeof b === 'number' || typeof b === 'bigint') return floatCmp(a.v, numOf(b));
    return null;
  }
  if (a instanceof RChar) {
    if (b instanceof RChar) {
      if (a.c === b.c) return 0;
      return a.c.codePointAt(0)! < b.c.codePointAt(0)! ? -1 : 1;
    }
    if (typeof b === 'string') return charStrCmp(a.c, b);
    return null;
  }
  if (a instanceof Timestamp) {
    if (b instanceof Timestamp) return a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : 0;
    return null;
  }
  return null;
}
