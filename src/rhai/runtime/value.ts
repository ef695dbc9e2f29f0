/**
 * Runtime value representation of Rhai's `Dynamic` (the contract every part of src/rhai shares).
 *
 * | Rhai type        | JS representation                                                          |
 * |------------------|----------------------------------------------------------------------------|
 * | i64              | `number` when a safe integer (|v| <= 2^53-1), else `bigint` (still inside i64). |
 * |                  | Canonical form: an i64 that fits a safe integer is ALWAYS a `number`.       |
 * | f64              | `RFloat` (boxed, so `1` and `1.0` stay different types)                     |
 * | bool             | `boolean`                                                                  |
 * | char             | `RChar` (one Unicode scalar value, boxed to differ from a 1-char string)    |
 * | string           | `string` (JS string; lengths in chars are counted in code points)          |
 * | ()               | `undefined`                                                                |
 * | array            | `Value[]` (plain JS array; value semantics are implemented by copying)     |
 * | map              | `RMap` = JS `Map<string, Value>`; iteration/printing sorts keys (BTreeMap)  |
 * | blob             | `Uint8Array`                                                               |
 * | Fn               | `FnPtr`                                                                    |
 * | timestamp        | `Timestamp`                                                                |
 * | range / range=   | `RRange`                                                                   |
 * | shared (closure) | `Shared` cell, only ever stored in variable slots, never as an operand     |
 */

export class RFloat {
  constructor(public readonly v: number) {}
}

export class RChar {
  /** `c` is exactly one code point (may be two UTF-16 units). */
  constructor(public readonly c: string) {}
}

export type RMap = Map<string, Value>;

/** A function pointer: `Fn("name")`, `|x| ...` or a bare function name, with curried arguments. */
export class FnPtr {
  constructor(
    public readonly name: string,
    public readonly curry: readonly Value[] = [],
    /** Opaque engine payload for anonymous functions and closures (the compiled body and captures). */
    public readonly fn: unknown = undefined,
  ) {}
}

export class Timestamp {
  /** milliseconds from `performance.now()`-like monotonic clock at creation */
  constructor(public readonly ms: number) {}
}

/** `a..b` (exclusive) or `a..=b` (inclusive), integer ranges. */
export class RRange {
  constructor(
    public readonly start: number | bigint,
    public readonly end: number | bigint,
    public readonly inclusive: boolean,
  ) {}
}

/**
 * A lazily iterated sequence produced by stdlib functions such as `range(a, b, step)`, `s.chars()`,
 * `x.bits()` (Rhai's StepRange / CharsStream / BitRange custom types). `for` iterates it via `iter()`;
 * `typeName` is what `type_of()` returns. (Added by the stdlib; see src/rhai/stdlib/iter.ts.)
 */
export class RIterable {
  constructor(
    public readonly typeName: string,
    public readonly iter: () => Iterable<Value>,
  ) {}
}

/** A captured variable shared between a closure and its defining scope. */
export class Shared {
  constructor(public v: Value) {}
}

export type Value =
  | number
  | bigint
  | RFloat
  | boolean
  | RChar
  | string
  | undefined
  | Value[]
  | RMap
  | Uint8Array
  | FnPtr
  | Timestamp
  | RRange
  | RIterable;

/** Type tags used for native overload resolution (and by `typeTag`). */
export type TypeTag =
  | 'int'
  | 'float'
  | 'bool'
  | 'char'
  | 'string'
  | 'unit'
  | 'array'
  | 'map'
  | 'blob'
  | 'fnptr'
  | 'timestamp'
  | 'range'
  | 'rangeInclusive'
  | 'any';

export function typeTag(v: Value): TypeTag {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 'int';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'undefined':
      return 'unit';
  }
  if (v instanceof RFloat) return 'float';
  if (v instanceof RChar) return 'char';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Map) return 'map';
  if (v instanceof Uint8Array) return 'blob';
  if (v instanceof FnPtr) return 'fnptr';
  if (v instanceof Timestamp) return 'timestamp';
  if (v instanceof RRange) return v.inclusive ? 'rangeInclusive' : 'range';
  return 'any';
}

/** The name `type_of()` returns for a value, as Rhai prints it. */
export function typeName(v: Value): string {
  switch (typeTag(v)) {
    case 'int':
      return 'i64';
    case 'float':
      return 'f64';
    case 'bool':
      return 'bool';
    case 'char':
      return 'char';
    case 'string':
      return 'string';
    case 'unit':
      return '()';
    case 'array':
      return 'array';
    case 'map':
      return 'map';
    case 'blob':
      return 'blob';
    case 'fnptr':
      return 'Fn';
    case 'timestamp':
      return 'timestamp';
    case 'range':
      return 'range';
    case 'rangeInclusive':
      return 'range=';
    default:
      return v instanceof RIterable ? v.typeName : 'unknown';
  }
}

export const I64_MAX = 9223372036854775807n;
export const I64_MIN = -9223372036854775808n;

/** Normalise a bigint i64 result to canonical form, or return null when it overflows i64. */
export function intFromBig(b: bigint): number | bigint | null {
  if (b > I64_MAX || b < I64_MIN) return null;
  if (b >= -9007199254740991n && b <= 9007199254740991n) return Number(b);
  return b;
}

/** Deep copy of arrays / maps / blobs (Rhai value semantics); other values are immutable or shared by reference. */
export function cloneValue(v: Value): Value {
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const n = v.length;
    const r = new Array<Value>(n);
    for (let i = 0; i < n; i++) {
      const x = v[i];
      r[i] = typeof x === 'object' ? cloneValue(x) : x;
    }
    return r;
  }
  if (v instanceof Map) {
    const m = new Map<string, Value>();
    for (const [k, x] of v) m.set(k, typeof x === 'object' ? cloneValue(x) : x);
    return m;
  }
  if (v instanceof Uint8Array) return v.slice();
  return v;
}
