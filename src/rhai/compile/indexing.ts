/**
 * Indexing and property access on values: arrays, maps, strings (by char and by range), integers as bit fields,
 * blobs, and registered indexers / getters / setters, with Rhai's error texts.
 */
import { errArrayBounds, errBitFieldBounds, errMismatch, errStringBounds } from '../runtime/errors.ts';
import { type Int, isInt } from '../runtime/ops.ts';
import { FnPtr, intFromBig, RChar, RRange, typeName, type Value } from '../runtime/value.ts';
import { mkErr } from './errors.ts';
import { callNative, ScriptFn } from './functions.ts';
import { R } from './run.ts';

function charsOf(s: string): string[] {
  return Array.from(s);
}
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xd7ff) return false;
  return true;
}

/** Is there a surrogate pair (one char of two UTF-16 units) at UTF-16 offset `i` of `s`? */
function pairAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff) return false;
  const d = s.charCodeAt(i + 1);
  return d >= 0xdc00 && d <= 0xdfff;
}
/** Number of chars (code points, as Array.from counts them) without splitting the string. */
function charCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

function normIndex(i: Int, len: number): number {
  const n = typeof i === 'bigint' ? Number(i) : i;
  return n < 0 ? n + len : n;
}

export function getIndex(o: Value, k: Value, pos: number, fail: boolean): Value {
  if (Array.isArray(o)) {
    if (typeof k === 'number') {
      const i = k < 0 ? k + o.length : k;
      if (i >= 0 && i < o.length) return o[i];
      throw errArrayBounds(o.length, k).fill(pos);
    }
    if (typeof k === 'bigint') throw errArrayBounds(o.length, k).fill(pos);
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (o instanceof Map) {
    if (typeof k === 'string') {
      const v = o.get(k);
      if (v === undefined && fail && !o.has(k)) throw mkErr('ErrorPropertyNotFound', `Property not found: ${k}`, pos);
      return v;
    }
    if (k instanceof RChar) return o.get(k.c);
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting string)`, pos);
  }
  if (typeof o === 'string') {
    if (isInt(k)) {
      if (isAscii(o)) {
        const i = normIndex(k, o.length);
        if (i >= 0 && i < o.length) return new RChar(o[i]!);
        throw errStringBounds(o.length, k).fill(pos);
      }
      const cs = charsOf(o);
      const i = normIndex(k, cs.length);
      if (i >= 0 && i < cs.length) return new RChar(cs[i]!);
      throw errStringBounds(cs.length, k).fill(pos);
    }
    if (k instanceof RRange) {
      const cs = charsOf(o);
      const [s, en] = strRange(k, cs.length);
      return cs.slice(s, en).join('');
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (isInt(o)) {
    if (isInt(k)) {
      const n = Number(k);
      const bit = n < 0 ? n + 64 : n;
      if (bit < 0 || bit >= 64) throw errBitFieldBounds(64, k).fill(pos);
      return ((BigInt(o) >> BigInt(bit)) & 1n) === 1n;
    }
    if (k instanceof RRange) {
      const [s, len] = bitRange(k, pos);
      if (len === 0) return 0;
      const v = (BigInt.asUintN(64, BigInt(o)) >> BigInt(s)) & ((1n << BigInt(len)) - 1n);
      return intFromBig(BigInt.asIntN(64, v)) as Value;
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (o instanceof Uint8Array) {
    if (isInt(k)) {
      const i = normIndex(k, o.length);
      if (i >= 0 && i < o.length) return o[i]!;
      throw errArrayBounds(o.length, k).fill(pos);
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  // registered indexer?
  const reg = R.env.registry;
  const ov = reg.resolve('index$get$', [o, k]);
  if (ov) return callNative(ov, 'index$get$', [o, k], pos);
  throw mkErr('ErrorIndexingType', `Indexer unavailable: ${typeName(o)} [${typeName(k)}]`, pos);
}

function strRange(k: RRange, len: number): [number, number] {
  let s = Number(k.start);
  let en = Number(k.end);
  if (s < 0) s += len;
  const negEnd = en < 0;
  if (en < 0) en += len;
  // Rhai quirk: a negative inclusive end at or before the start gives an empty string
  if (k.inclusive && !(negEnd && en <= s)) en += 1;
  s = Math.max(0, Math.min(s, len));
  en = Math.max(s, Math.min(en, len));
  return [s, en];
}

export function getIndexForUpdate(o: Value, k: Value, pos: number): Value {
  if (o instanceof Map && typeof k === 'string') return o.get(k);
  return getIndex(o, k, pos, false);
}

function bitRange(k: RRange, pos: number): [number, number] {
  const s = Number(k.start);
  const e = Number(k.end) + (k.inclusive ? 1 : 0);
  if (s < 0 || s >= 64) throw errBitFieldBounds(64, k.start).fill(pos);
  if (e > 64) throw errBitFieldBounds(64, k.end).fill(pos);
  const len = Math.max(0, e - s);
  return [s, len];
}

export function setIndex(o: Value, k: Value, v: Value, pos: number): Value {
  if (Array.isArray(o)) {
    if (isInt(k)) {
      const i = normIndex(k, o.length);
      if (i >= 0 && i < o.length) {
        o[i] = v;
        return o;
      }
      throw errArrayBounds(o.length, k).fill(pos);
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (o instanceof Map) {
    if (typeof k === 'string') {
      o.set(k, v);
      return o;
    }
    if (k instanceof RChar) {
      o.set(k.c, v);
      return o;
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting string)`, pos);
  }
  if (typeof o === 'string') {
    if (k instanceof RRange) {
      const cs = charsOf(o);
      const [s, en] = strRange(k, cs.length);
      const rep = typeof v === 'string' ? v : v instanceof RChar ? v.c : undefined;
      if (rep === undefined) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting string)`, pos);
      return cs.slice(0, s).join('') + rep + cs.slice(en).join('');
    }
    if (!isInt(k)) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
    const len = charCount(o);
    const i = normIndex(k, len);
    if (i < 0 || i >= len) throw errStringBounds(len, k).fill(pos);
    // Rhai (Target::StringChar) checks the new char when writing back, at the assignment operator: no position here
    if (!(v instanceof RChar)) throw errMismatch('char', typeName(v));
    // Rhai 1.25 writes back at the char offset |index| (eval/chaining.rs get_indexed_mut keeps `offset` =
    // index.unsigned_abs() for a negative index, target.rs replaces the char numbered `offset`): `s[-1] = c`
    // replaces s[1], and `s[-len] = c` changes nothing
    const at = Number(k) < 0 ? -Number(k) : i;
    if (at >= len) return o;
    // the UTF-16 offset of char `at` (chars as Array.from splits them: a surrogate pair is one, a lone surrogate one)
    let off = 0;
    for (let c = 0; c < at; c++) off += pairAt(o, off) ? 2 : 1;
    return o.slice(0, off) + v.c + o.slice(off + (pairAt(o, off) ? 2 : 1));
  }
  if (isInt(o)) {
    const ob = BigInt.asUintN(64, BigInt(o));
    if (isInt(k)) {
      const n = Number(k);
      const bit = n < 0 ? n + 64 : n;
      if (bit < 0 || bit >= 64) throw errBitFieldBounds(64, k).fill(pos);
      if (typeof v !== 'boolean') throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting bool)`, pos);
      const m = 1n << BigInt(bit);
      return intFromBig(BigInt.asIntN(64, v ? ob | m : ob & ~m)) as Value;
    }
    if (k instanceof RRange) {
      if (!isInt(v)) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting i64)`, pos);
      const [s, len] = bitRange(k, pos);
      if (len === 0) return o;
      const mask = ((1n << BigInt(len)) - 1n) << BigInt(s);
      const nv = (ob & ~mask) | ((BigInt.asUintN(64, BigInt(v)) << BigInt(s)) & mask);
      return intFromBig(BigInt.asIntN(64, nv)) as Value;
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (o instanceof Uint8Array) {
    if (!isInt(k)) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
    const i = normIndex(k, o.length);
    if (i < 0 || i >= o.length) throw errArrayBounds(o.length, k).fill(pos);
    if (!isInt(v)) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting i64)`, pos);
    o[i] = Number(BigInt.asUintN(8, BigInt(v)));
    return o;
  }
  const reg = R.env.registry;
  const args = [o, k, v];
  const ov = reg.resolve('index$set$', args);
  if (ov) {
    callNative(ov, 'index$set$', args, pos);
    return args[0];
  }
  throw mkErr('ErrorIndexingType', `Indexer unavailable: ${typeName(o)} [${typeName(k)}]`, pos);
}

/** `getter` is `'get$' + name`: compiled code builds it once per site rather than a new string (and hash) per access. */
export function getProp(o: Value, name: string, pos: number, fail: boolean, getter = 'get$' + name): Value {
  if (o instanceof Map) {
    const v = o.get(name);
    if (v === undefined && fail && !o.has(name)) throw mkErr('ErrorPropertyNotFound', `Property not found: ${name}`, pos);
    return v;
  }
  if (o instanceof FnPtr) {
    if (name === 'name') return o.name;
    if (name === 'is_anonymous') return o.fn instanceof ScriptFn && o.fn.anon;
  }
  const reg = R.env.registry;
  const args = [o];
  const g = reg.resolve(getter, args) ?? reg.resolve(name, args);
  if (g) return callNative(g, name, args, pos);
  throw mkErr(
    'ErrorDotExpr',
    `Unknown property '${name}' - a getter is not registered for type '${typeName(o)}'`,
    pos,
  );
}
export function getPropForUpdate(o: Value, name: string, pos: number): Value {
  if (o instanceof Map) return o.get(name);
  return getProp(o, name, pos, false);
}
export function setProp(o: Value, name: string, v: Value, pos: number): Value {
  if (o instanceof Map) {
    o.set(name, v);
    return o;
  }
  const reg = R.env.registry;
  const args = [o, v];
  const s = reg.resolve('set$' + name, args);
  if (s) {
    callNative(s, 'set$' + name, args, pos);
    return args[0];
  }
  throw mkErr(
    'ErrorDotExpr',
    `Unknown property '${name}' - a setter is not registered for type '${typeName(o)}'`,
    pos,
  );
}
