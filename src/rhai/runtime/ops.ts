/**
 * Built-in operators on primitive values (Rhai src/func/builtin.rs): checked i64 arithmetic with a fast
 * safe-integer path and an exact BigInt fallback, f64 arithmetic, mixed int/float, string concatenation,
 * comparisons with Rhai's relative-epsilon float semantics. Returns NO_BUILTIN when the operand types have
 * no built-in implementation so the caller can fall back to registered functions.
 */
import { FnPtr, I64_MAX, I64_MIN, RChar, RFloat, RRange, Timestamp, intFromBig, type Value } from './value.ts';
import { RhaiError, errArithmetic } from './errors.ts';
import { toDisplay } from './format.ts';
import { valuesEqual } from './compare.ts';

export const NO_BUILTIN: unique symbol = Symbol('no-builtin');
export type OpResult = Value | typeof NO_BUILTIN;

const MAX_SAFE = 9007199254740991;
const EPS = Number.EPSILON;

export type Int = number | bigint;

export function isInt(v: Value): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

function big(v: Int): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

function checked(b: bigint, msg: () => string): Int {
  const r = intFromBig(b);
  if (r === null) throw errArithmetic(msg());
  return r;
}

export function intAdd(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a + b;
    if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
  }
  return checked(big(a) + big(b), () => `Addition overflow: ${a} + ${b}`);
}
export function intSub(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a - b;
    if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
  }
  return checked(big(a) - big(b), () => `Subtraction overflow: ${a} - ${b}`);
}
export function intMul(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a * b;
    if (r <= MAX_SAFE && r >= -MAX_SAFE) return r === 0 ? 0 : r;
  }
  return checked(big(a) * big(b), () => `Multiplication overflow: ${a} * ${b}`);
}
export function intDiv(a: Int, b: Int): Int {
  if (b === 0 || b === 0n) throw errArithmetic(`Division by zero: ${a} / ${b}`);
  if (typeof a === 'number' && typeof b === 'number' && a <= 1125899906842624 && a >= -1125899906842624) {
    const q = Math.trunc(a / b);
    return q === 0 ? 0 : q;
  }
  const A = big(a);
  const B = big(b);
  if (A === I64_MIN && B === -1n) throw errArithmetic(`Division overflow: ${a} / ${b}`);
  return checked(A / B, () => `Division overflow: ${a} / ${b}`);
}
export function intRem(a: Int, b: Int): Int {
  if (b === 0 || b === 0n) throw errArithmetic(`Modulo division by zero or overflow: ${a} % ${b}`);
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a % b;
    return r === 0 ? 0 : r;
  }
  const A = big(a);
  const B = big(b);
  if (A === I64_MIN && B === -1n) return 0;
  return checked(A % B, () => `Modulo division by zero or overflow: ${a} % ${b}`);
}
export function intPow(a: Int, b: Int): Int {
  if (b < 0) throw errArithmetic(`Integer raised to a negative power: ${a} ** ${b}`);
  if (b > 4294967295) throw errArithmetic(`Integer raised to too large an index: ${a} ** ${b}`);
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a ** b;
    if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
  }
  const A = big(a);
  const B = big(b);
  // avoid huge BigInt computation: |a| >= 2 with exponent >= 64 always overflows
  if (B >= 64n && (A > 1n || A < -1n)) throw errArithmetic(`Exponential overflow: ${a} ** ${b}`);
  return checked(A ** B, () => `Exponential overflow: ${a} ** ${b}`);
}
export function intNeg(a: Int): Int {
  if (typeof a === 'number') return a === 0 ? 0 : -a;
  return checked(-a, () => `Negation overflow: -${a}`);
}
export function intShl(a: Int, b: Int): Int {
  if (b < 0) return intShr(a, typeof b === 'number' ? -b : -b);
  if (b >= 64) return 0;
  const A = BigInt.asIntN(64, big(a) << big(b));
  return intFromBig(A) as Int;
}
export function intShr(a: Int, b: Int): Int {
  if (b < 0) return intShl(a, typeof b === 'number' ? -b : -b);
  if (b >= 64) return a < 0 ? -1 : 0;
  if (typeof a === 'number' && typeof b === 'number' && a <= 2147483647 && a >= -2147483648) return a >> b;
  return intFromBig(big(a) >> big(b)) as Int;
}
export function intAnd(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number' && a <= 2147483647 && a >= -2147483648 && b <= 2147483647 && b >= -2147483648)
    return a & b;
  return intFromBig(BigInt.asIntN(64, big(a) & big(b))) as Int;
}
export function intOr(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number' && a <= 2147483647 && a >= -2147483648 && b <= 2147483647 && b >= -2147483648)
    return a | b;
  return intFromBig(BigInt.asIntN(64, big(a) | big(b))) as Int;
}
export function intXor(a: Int, b: Int): Int {
  if (typeof a === 'number' && typeof b === 'number' && a <= 2147483647 && a >= -2147483648 && b <= 2147483647 && b >= -2147483648)
    return a ^ b;
  return intFromBig(BigInt.asIntN(64, big(a) ^ big(b))) as Int;
}

/** Float value of an int or float operand. */
export function num(v: Int | RFloat): number {
  return typeof v === 'object' ? v.v : Number(v);
}

export function floatEq(x: number, y: number): boolean {
  if (x === y) return true;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
  const max = x * y === 0 ? 1 : Math.max(Math.abs(x), Math.abs(y));
  return Math.abs(x - y) / max <= EPS;
}
/** x < y with epsilon */
export function floatLt(x: number, y: number): boolean {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x < y;
  const max = x * y === 0 ? 1 : Math.max(Math.abs(x), Math.abs(y));
  return (y - x) / max > EPS;
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isNumeric(v: Value): v is Int | RFloat {
  return typeof v === 'number' || typeof v === 'bigint' || v instanceof RFloat;
}

/** Arithmetic binary operator on built-in types, or NO_BUILTIN. */
export function arith(op: string, a: Value, b: Value): OpResult {
  const ai = isInt(a);
  const bi = isInt(b);
  if (ai && bi) {
    switch (op) {
      case '+':
        return intAdd(a, b);
      case '-':
        return intSub(a, b);
      case '*':
        return intMul(a, b);
      case '/':
        return intDiv(a, b);
      case '%':
        return intRem(a, b);
      case '**':
        return intPow(a, b);
      case '<<':
        return intShl(a, b);
      case '>>':
        return intShr(a, b);
      case '&':
        return intAnd(a, b);
      case '|':
        return intOr(a, b);
      case '^':
        return intXor(a, b);
    }
    return NO_BUILTIN;
  }
  if ((ai || a instanceof RFloat) && (bi || b instanceof RFloat)) {
    const x = num(a as Int | RFloat);
    const y = num(b as Int | RFloat);
    switch (op) {
      case '+':
        return new RFloat(x + y);
      case '-':
        return new RFloat(x - y);
      case '*':
        return new RFloat(x * y);
      case '/':
        return new RFloat(x / y);
      case '%':
        return new RFloat(x % y);
      case '**':
        if (a instanceof RFloat && bi && (b as Int) > 2147483647)
          throw errArithmetic(`Number raised to too large an index: ${toDisplay(a)} ** ${b}`);
        return new RFloat(Math.pow(x, y));
    }
    return NO_BUILTIN;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') {
    switch (op) {
      case '&':
        return a && b;
      case '|':
        return a || b;
      case '^':
        return a !== b;
    }
    return NO_BUILTIN;
  }
  if (op === '+') {
    if (typeof a === 'string') {
      if (typeof b === 'string') return a + b;
      if (b instanceof RChar) return a + b.c;
      if (b === undefined) return a;
      if (isPrimitiveDisplay(b)) return a + toDisplay(b);
      return NO_BUILTIN;
    }
    if (typeof b === 'string') {
      if (a instanceof RChar) return a.c + b;
      if (a === undefined) return b;
      if (isPrimitiveDisplay(a)) return toDisplay(a) + b;
      return NO_BUILTIN;
    }
    if (a instanceof RChar && b instanceof RChar) return a.c + b.c;
    if (Array.isArray(a) && Array.isArray(b)) return deepClone(a.concat(b));
    if (a instanceof Map && b instanceof Map) {
      const m = new Map(a);
      for (const [k, v] of b) m.set(k, v);
      return deepClone(m);
    }
    if (a instanceof Uint8Array && b instanceof Uint8Array) {
      const r = new Uint8Array(a.length + b.length);
      r.set(a, 0);
      r.set(b, a.length);
      return r;
    }
  }
  if (op === '-' && typeof a === 'string') {
    if (typeof b === 'string') return b === '' ? a : a.split(b).join('');
    if (b instanceof RChar) return a.split(b.c).join('');
  }
  return NO_BUILTIN;
}

/** Deep copy of arrays / maps / blobs (Rhai value semantics). */
export function deepClone(v: Value): Value {
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(deepClone);
  if (v instanceof Map) {
    const m = new Map<string, Value>();
    for (const [k, x] of v) m.set(k, deepClone(x));
    return m;
  }
  if (v instanceof Uint8Array) return v.slice();
  return v;
}

function isPrimitiveDisplay(v: Value): boolean {
  const t = typeof v;
  return t === 'number' || t === 'bigint' || t === 'boolean' || v instanceof RFloat || v instanceof RChar;
}

/** ==, !=, <, <=, >, >= on built-in types. Mixed unrelated types: false (true for !=). */
export function compare(op: string, a: Value, b: Value): OpResult {
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case '==':
        return a === b;
      case '!=':
        return a !== b;
      case '<':
        return a < b;
      case '<=':
        return a <= b;
      case '>':
        return a > b;
      case '>=':
        return a >= b;
    }
  }
  if (isNumeric(a) && isNumeric(b)) {
    if (isInt(a) && isInt(b)) {
      const c = a < b ? -1 : a > b ? 1 : 0;
      return ordOp(op, c);
    }
    const x = num(a);
    const y = num(b);
    switch (op) {
      case '==':
        return floatEq(x, y);
      case '!=':
        return !floatEq(x, y);
      case '<':
        return floatLt(x, y);
      case '<=':
        return !floatLt(y, x);
      case '>':
        return floatLt(y, x);
      case '>=':
        return !floatLt(x, y);
    }
    return NO_BUILTIN;
  }
  if (typeof a === 'string' || a instanceof RChar) {
    const sa = typeof a === 'string' ? a : a.c;
    if (typeof b === 'string' || b instanceof RChar) {
      return ordOp(op, cmpStr(sa, typeof b === 'string' ? b : b.c));
    }
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') {
    return ordOp(op, a === b ? 0 : a ? 1 : -1);
  }
  if (a === undefined && b === undefined) {
    if (op === '==') return true;
    if (op === '!=') return false;
    return NO_BUILTIN;
  }
  if (sameKind(a, b)) {
    if (op === '==') return valuesEqual(a, b);
    if (op === '!=') return !valuesEqual(a, b);
    if (a instanceof Timestamp && b instanceof Timestamp) return ordOp(op, a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : 0);
    return NO_BUILTIN;
  }
  // different types
  if (op === '!=') return true;
  return false;
}

function sameKind(a: Value, b: Value): boolean {
  if (Array.isArray(a)) return Array.isArray(b);
  if (a instanceof Map) return b instanceof Map;
  if (a instanceof Uint8Array) return b instanceof Uint8Array;
  if (a instanceof FnPtr) return b instanceof FnPtr;
  if (a instanceof Timestamp) return b instanceof Timestamp;
  if (a instanceof RRange) return b instanceof RRange && a.inclusive === b.inclusive;
  return false;
}

function ordOp(op: string, c: number): boolean {
  switch (op) {
    case '==':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}

/** Clamp helper used by ranges: int value as JS number (ranges beyond 2^53 are unsupported in iteration). */
export function toNum(v: Int): number {
  return typeof v === 'number' ? v : Number(v);
}

export function rangeContains(r: RRange, v: Value): boolean {
  if (!isInt(v)) return false;
  return v >= r.start && (r.inclusive ? v <= r.end : v < r.end);
}

export { I64_MAX, I64_MIN, RhaiError };
