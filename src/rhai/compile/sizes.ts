/**
 * Data-size limits (checked variant): Rhai's recursive size count of strings, arrays, maps and blobs, checked after
 * every operation that can grow a value.
 */
import { RhaiError } from '../runtime/errors.ts';
import { utf8Length } from '../runtime/format.ts';
import type { Value } from '../runtime/value.ts';
import { mkErr } from './errors.ts';
import { R } from './run.ts';

/**
 * Data size counting as Rhai's calc_data_sizes (eval/data_check.rs): [array items, map items, string length],
 * summed over every nesting level. Each array item counts 1 towards arrays (a blob item 1 + its length), each map
 * value 1 towards maps (a blob value 1 + its length towards arrays), and every string, at any level, its length
 * towards strings. The string length counted here is in UTF-16 units (O(1) per string): a string's UTF-8 length is
 * between 1 and 3 times that, so the exact UTF-8 count (`stringBytes`) is needed only when 3 times the sum passes
 * the limit. (Counting UTF-8 here made `arr.push(s)` on a growing array of strings scan every char of every item.)
 */
function dataSizes(v: Value, acc: [number, number, number]): void {
  if (typeof v === 'string') {
    acc[2] += v.length;
  } else if (Array.isArray(v)) {
    for (const x of v) {
      acc[0]++;
      if (typeof x === 'object') dataSizes(x, acc);
      else if (typeof x === 'string') acc[2] += x.length;
    }
  } else if (v instanceof Map) {
    for (const x of v.values()) {
      acc[1]++;
      if (typeof x === 'object') {
        if (x instanceof Uint8Array) acc[0] += 1 + x.length;
        else dataSizes(x, acc);
      } else if (typeof x === 'string') acc[2] += x.length;
    }
  } else if (v instanceof Uint8Array) {
    acc[0] += v.length;
  }
}

/** The UTF-8 length of every string in `v`, at any level (the exact string count of `dataSizes`). */
function stringBytes(v: Value): number {
  if (typeof v === 'string') return utf8Length(v);
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) n += stringBytes(x);
  } else if (v instanceof Map) {
    for (const x of v.values()) n += stringBytes(x);
  }
  return n;
}

/** Does this value count towards the data-size limits (string, array, map, blob)? */
export function hasSize(v: Value): boolean {
  return typeof v === 'string' || Array.isArray(v) || v instanceof Map || v instanceof Uint8Array;
}

export function checkSize(v: Value, pos: number): void {
  if (!R.checkData) return;
  const t = typeof v;
  if (t !== 'string' && t !== 'object') return;
  checkSizeOf(v, t, pos);
}

/**
 * The size check proper, kept out of `checkSize` so that the latter stays small: V8 inlines checkSize into the
 * compiled closures, and a large body there used up their inlining budget (the checked variant ran ~15% slower).
 */
function checkSizeOf(v: Value, t: string, pos: number): void {
  const L = R.limits;
  if (t === 'string') {
    if (L.maxStringSize > 0 && (v as string).length > L.maxStringSize / 3 && utf8Length(v as string) > L.maxStringSize)
      throw mkErr('ErrorDataTooLarge', 'Length of string too large', pos);
    return;
  }
  let n: number;
  if (Array.isArray(v) || v instanceof Uint8Array) {
    n = v.length;
    if (L.maxArraySize > 0 && n > L.maxArraySize) throw mkErr('ErrorDataTooLarge', 'Size of array too large', pos);
  } else if (v instanceof Map) {
    n = v.size;
    if (L.maxMapSize > 0 && n > L.maxMapSize) throw mkErr('ErrorDataTooLarge', 'Size of object map too large', pos);
  } else return;
  // The recursive count is O(size): for large containers do it only when the size reaches a power of two, so
  // growing a container element by element stays linear overall (the top-level size is always checked exactly;
  // nested growth inside a container of more than 1024 items is caught with that granularity).
  if (n > 1024 && (n & (n - 1)) !== 0) return;
  const acc: [number, number, number] = [0, 0, 0];
  dataSizes(v, acc);
  // Rhai's throw_on_size order: strings, arrays, maps
  if (L.maxStringSize > 0 && acc[2] * 3 > L.maxStringSize && stringBytes(v) > L.maxStringSize) throw mkErr('ErrorDataTooLarge', 'Length of string too large', pos);
  if (L.maxArraySize > 0 && acc[0] > L.maxArraySize) throw mkErr('ErrorDataTooLarge', 'Size of array too large', pos);
  if (L.maxMapSize > 0 && acc[1] > L.maxMapSize) throw mkErr('ErrorDataTooLarge', 'Size of object map too large', pos);
}

/**
 * Data-size check of a freshly built array / map literal. Rhai sums the sizes item by item and reports the
 * item that crosses a limit (eval/expr.rs `Expr::Array` / `Expr::Map`): on failure, find that item.
 */
export function checkLiteralSize(v: Value, items: Value[], itemPos: readonly number[], pos: number): void {
  try {
    checkSize(v, pos);
  } catch (e) {
    if (!(e instanceof RhaiError) || e.kind !== 'ErrorDataTooLarge') throw e;
    const partial: Value[] = [];
    for (let i = 0; i < items.length; i++) {
      partial.push(items[i]);
      try {
        checkSize(v instanceof Map ? new Map(partial.map((x, j) => [String(j), x])) : partial, -1);
      } catch (e2) {
        if (e2 instanceof RhaiError) {
          e2.offset = itemPos[i] ?? pos;
          throw e2;
        }
        throw e2;
      }
    }
    throw e;
  }
}
