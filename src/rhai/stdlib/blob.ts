/** BLOB (byte array) functions (blob_basic.rs). Blobs are `Uint8Array`s; growing functions replace `args[0]`. */
import type { NativeCallContext, NativeFn, NativeRegistrar, Package } from '../runtime/native.ts';
import { RChar, RFloat, RRange, intFromBig, type Value } from '../runtime/value.ts';
import { errDataTooLarge } from '../runtime/errors.ts';
import { normRange, num, rangeArgs } from './util.ts';

const MUT = { pure: false } as const;
const enc = new TextEncoder();

function checkLen(ctx: NativeCallContext, n: number): void {
  const max = ctx.limits.maxArraySize;
  if (max > 0 && n > max) throw errDataTooLarge('Size of array');
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** get/set index (calc_offset_len): negative counts from the end, clamped to 0; -1 when past the end. */
function normIndex(len: number, i: number): number {
  const k = i < 0 ? len - Math.min(-i, len) : i;
  return k < len ? k : -1;
}
/** remove index (calc_index): out of range on either side -> -1. */
function strictIndex(len: number, i: number): number {
  if (i < 0) i += len;
  return i >= 0 && i < len ? i : -1;
}



function parseInt64(b: Uint8Array, start: number, len: number, le: boolean): number | bigint {
  const nr = normRange(b.length, start, len);
  if (!nr) return 0;
  const n = Math.min(nr[1], 8);
  const buf = new Uint8Array(8);
  if (le) buf.set(b.subarray(nr[0], nr[0] + n), 0);
  else buf.set(b.subarray(nr[0], nr[0] + n), 0);
  const v = new DataView(buf.buffer).getBigInt64(0, le);
  return intFromBig(v)!;
}

function parseF64(b: Uint8Array, start: number, len: number, le: boolean): RFloat {
  const nr = normRange(b.length, start, len);
  if (!nr) return new RFloat(0);
  const n = Math.min(nr[1], 8);
  const buf = new Uint8Array(8);
  buf.set(b.subarray(nr[0], nr[0] + n), 0);
  return new RFloat(new DataView(buf.buffer).getFloat64(0, le));
}

function writeNum(b: Uint8Array, start: number, len: number, v: Value, le: boolean): void {
  const nr = normRange(b.length, start, len);
  if (!nr) return;
  const n = Math.min(nr[1], 8);
  const buf = new Uint8Array(8);
  const dv = new DataView(buf.buffer);
  if (v instanceof RFloat) dv.setFloat64(0, v.v, le);
  else dv.setBigInt64(0, BigInt(v as number | bigint), le);
  b.set(buf.subarray(0, n), nr[0]);
}

function writeStr(b: Uint8Array, start: number, len: number, s: string, ascii: boolean): void {
  const nr = normRange(b.length, start, len);
  if (!nr) return;
  const bytes = ascii ? Uint8Array.from(Array.from(s).filter((c) => c.charCodeAt(0) < 128), (c) => c.charCodeAt(0)) : enc.encode(s);
  const n = Math.min(nr[1], bytes.length);
  b.set(bytes.subarray(0, n), nr[0]);
}

/** Construction and length: blob(), blob(n), blob(n, v), len, is_empty. */
function construction(r: NativeRegistrar): void {
  r.fn('blob', [], () => new Uint8Array(0));
  r.fn('blob', ['int'], (c, [n]) => {
    const l = Math.max(0, num(n));
    checkLen(c, l);
    return new Uint8Array(l);
  });
  r.fn('blob', ['int', 'int'], (c, [n, v]) => {
    const l = Math.max(0, num(n));
    checkLen(c, l);
    return new Uint8Array(l).fill(Number(BigInt.asUintN(8, BigInt(v as number))));
  });
  const len: NativeFn = (_c, [b]) => (b as Uint8Array).length;
  const isEmpty: NativeFn = (_c, [b]) => (b as Uint8Array).length === 0;
  r.fn('len', ['blob'], len);
  r.fn('get$len', ['blob'], len);
  r.fn('is_empty', ['blob'], isEmpty);
  r.fn('get$is_empty', ['blob'], isEmpty);
}

/** Byte access, conversions (to_array, as_string) and mutation in place (push, insert, pop, remove, pad, reverse, split, …), and the operators. */
function accessAndMutation(r: NativeRegistrar): void {
  const byte = (v: Value) => Number(BigInt.asUintN(8, BigInt(v as number)));
  r.fn('get', ['blob', 'int'], (_c, [b, i]) => {
    const bl = b as Uint8Array;
    const k = normIndex(bl.length, num(i));
    return k < 0 ? 0 : bl[k]!;
  });
  r.fn('set', ['blob', 'int', 'int'], (_c, [b, i, v]) => {
    const bl = b as Uint8Array;
    const k = normIndex(bl.length, num(i));
    if (k >= 0) bl[k] = byte(v);
    return undefined;
  }, MUT);

  r.fn('contains', ['blob', 'int'], (_c, [b, v]) => (b as Uint8Array).includes(byte(v)));
  r.fn('to_array', ['blob'], (_c, [b]) => Array.from(b as Uint8Array));
  r.fn('as_string', ['blob'], (_c, [b]) => new TextDecoder().decode(b as Uint8Array));

  const grow = (c: NativeCallContext, args: Value[], extra: Uint8Array) => {
    checkLen(c, (args[0] as Uint8Array).length + extra.length);
    args[0] = concat(args[0] as Uint8Array, extra);
    return undefined;
  };
  r.fn('push', ['blob', 'int'], (c, args) => grow(c, args, Uint8Array.of(byte(args[1]))), MUT);
  for (const name of ['append', '+='] as const) {
    r.fn(name, ['blob', 'blob'], (c, args) => grow(c, args, (args[1] as Uint8Array).slice()), MUT);
    r.fn(name, ['blob', 'int'], (c, args) => grow(c, args, Uint8Array.of(byte(args[1]))), MUT);
    r.fn(name, ['blob', 'string'], (c, args) => grow(c, args, enc.encode(args[1] as string)), MUT);
    r.fn(name, ['blob', 'char'], (c, args) => grow(c, args, enc.encode((args[1] as RChar).c)), MUT);
  }
  r.fn('+', ['blob', 'blob'], (c, [a, b]) => {
    checkLen(c, (a as Uint8Array).length + (b as Uint8Array).length);
    return concat(a as Uint8Array, b as Uint8Array);
  });
  r.fn('+', ['blob', 'char'], (c, [a, s]) => {
    const e = enc.encode((s as RChar).c);
    checkLen(c, (a as Uint8Array).length + e.length);
    return concat(a as Uint8Array, e);
  });
  r.fn('==', ['blob', 'blob'], (_c, [a, b]) => {
    const x = a as Uint8Array;
    const y = b as Uint8Array;
    return x.length === y.length && x.every((v, i) => v === y[i]);
  });
  r.fn('!=', ['blob', 'blob'], (_c, [a, b]) => {
    const x = a as Uint8Array;
    const y = b as Uint8Array;
    return !(x.length === y.length && x.every((v, i) => v === y[i]));
  });

  r.fn('insert', ['blob', 'int', 'int'], (c, args) => {
    const b = args[0] as Uint8Array;
    let i = num(args[1]);
    if (i < 0) i = Math.max(0, b.length + i);
    if (i > b.length) i = b.length;
    checkLen(c, b.length + 1);
    const out = new Uint8Array(b.length + 1);
    out.set(b.subarray(0, i), 0);
    out[i] = byte(args[2]);
    out.set(b.subarray(i), i + 1);
    args[0] = out;
    return undefined;
  }, MUT);
  r.fn('pop', ['blob'], (_c, args) => {
    const b = args[0] as Uint8Array;
    if (b.length === 0) return 0;
    args[0] = b.slice(0, b.length - 1);
    return b[b.length - 1]!;
  }, MUT);
  r.fn('shift', ['blob'], (_c, args) => {
    const b = args[0] as Uint8Array;
    if (b.length === 0) return 0;
    args[0] = b.slice(1);
    return b[0]!;
  }, MUT);
  r.fn('remove', ['blob', 'int'], (_c, args) => {
    const b = args[0] as Uint8Array;
    const k = strictIndex(b.length, num(args[1]));
    if (k < 0) return 0;
    args[0] = concat(b.subarray(0, k), b.subarray(k + 1));
    return b[k]!;
  }, MUT);
  r.fn('clear', ['blob'], (_c, args) => {
    args[0] = new Uint8Array(0);
    return undefined;
  }, MUT);
  r.fn('truncate', ['blob', 'int'], (_c, args) => {
    const b = args[0] as Uint8Array;
    const n = num(args[1]);
    args[0] = n <= 0 ? new Uint8Array(0) : b.slice(0, n);
    return undefined;
  }, MUT);
  r.fn('chop', ['blob', 'int'], (_c, args) => {
    const b = args[0] as Uint8Array;
    const n = num(args[1]);
    args[0] = n <= 0 ? new Uint8Array(0) : n >= b.length ? b : b.slice(b.length - n);
    return undefined;
  }, MUT);
  r.fn('pad', ['blob', 'int', 'int'], (c, args) => {
    const b = args[0] as Uint8Array;
    const n = num(args[1]);
    if (n <= b.length) return undefined;
    checkLen(c, n);
    const out = new Uint8Array(n).fill(byte(args[2]));
    out.set(b, 0);
    args[0] = out;
    return undefined;
  }, MUT);
  r.fn('reverse', ['blob'], (_c, [b]) => {
    (b as Uint8Array).reverse();
    return undefined;
  }, MUT);
  r.fn('split', ['blob', 'int'], (_c, args) => {
    const b = args[0] as Uint8Array;
    if (b.length === 0) return new Uint8Array(0);
    let s = num(args[1]);
    if (s < 0) s = -s > b.length ? 0 : b.length + s;
    if (s >= b.length) return new Uint8Array(0);
    args[0] = b.slice(0, s);
    return b.slice(s);
  }, MUT);
}

/** Slicing by offsets or ranges, and reading and writing numbers and text in place. */
function slicingAndBinary(r: NativeRegistrar): void {

  const extract = (b: Uint8Array, s: number, l: number) => {
    const nr = normRange(b.length, s, l);
    return nr ? b.slice(nr[0], nr[0] + nr[1]) : new Uint8Array(0);
  };
  const drain = (args: Value[], s: number, l: number) => {
    const b = args[0] as Uint8Array;
    const nr = normRange(b.length, s, l);
    if (!nr) return new Uint8Array(0);
    args[0] = concat(b.subarray(0, nr[0]), b.subarray(nr[0] + nr[1]));
    return b.slice(nr[0], nr[0] + nr[1]);
  };
  const retain = (args: Value[], s: number, l: number) => {
    const b = args[0] as Uint8Array;
    const nr = normRange(b.length, s, l);
    if (!nr) return new Uint8Array(0); // nothing selected -> blob unchanged
    args[0] = b.slice(nr[0], nr[0] + nr[1]);
    return concat(b.subarray(0, nr[0]), b.subarray(nr[0] + nr[1]));
  };
  const splice = (c: NativeCallContext, args: Value[], s: number, l: number, rep: Uint8Array) => {
    const b = args[0] as Uint8Array;
    let start: number;
    if (b.length === 0) start = 0;
    else if (s < 0) start = -s > b.length ? 0 : b.length + s;
    else start = Math.min(s, b.length);
    const ln = l < 0 ? 0 : Math.min(l, b.length - start);
    checkLen(c, b.length - ln + rep.length);
    const out = new Uint8Array(b.length - ln + rep.length);
    out.set(b.subarray(0, start), 0);
    out.set(rep, start);
    out.set(b.subarray(start + ln), start + rep.length);
    args[0] = out;
    return undefined;
  };
  r.fn('extract', ['blob', 'int'], (_c, [b, s]) => extract(b as Uint8Array, num(s), (b as Uint8Array).length));
  r.fn('extract', ['blob', 'int', 'int'], (_c, [b, s, l]) => extract(b as Uint8Array, num(s), num(l)));
  r.fn('drain', ['blob', 'int', 'int'], (_c, args) => drain(args, num(args[1]), num(args[2])), MUT);
  r.fn('retain', ['blob', 'int', 'int'], (_c, args) => retain(args, num(args[1]), num(args[2])), MUT);
  r.fn('splice', ['blob', 'int', 'int', 'blob'], (c, args) => splice(c, args, num(args[1]), num(args[2]), args[3] as Uint8Array), MUT);
  for (const [nm, le] of [
    ['le', true],
    ['be', false],
  ] as const) {
    r.fn(`parse_${nm}_int`, ['blob', 'int', 'int'], (_c, [b, s, l]) => parseInt64(b as Uint8Array, num(s), num(l), le));
    r.fn(`parse_${nm}_float`, ['blob', 'int', 'int'], (_c, [b, s, l]) => parseF64(b as Uint8Array, num(s), num(l), le));
    for (const vt of ['int', 'float'] as const) {
      r.fn(`write_${nm}`, ['blob', 'int', 'int', vt], (_c, [b, s, l, v]) => {
        writeNum(b as Uint8Array, num(s), num(l), v, le);
        return undefined;
      }, MUT);
    }
  }
  for (const [nm, ascii] of [
    ['write_ascii', true],
    ['write_utf8', false],
  ] as const) {
    r.fn(nm, ['blob', 'int', 'int', 'string'], (_c, [b, s, l, v]) => {
      writeStr(b as Uint8Array, num(s), num(l), v as string, ascii);
      return undefined;
    }, MUT);
  }
  for (const t of ['range', 'rangeInclusive'] as const) {
    const ra = (v: Value) => rangeArgs(v as RRange);
    r.fn('extract', ['blob', t], (_c, [b, rg]) => extract(b as Uint8Array, ...ra(rg)));
    r.fn('drain', ['blob', t], (_c, args) => drain(args, ...ra(args[1])), MUT);
    r.fn('retain', ['blob', t], (_c, args) => retain(args, ...ra(args[1])), MUT);
    r.fn('splice', ['blob', t, 'blob'], (c, args) => splice(c, args, ...ra(args[1]), args[2] as Uint8Array), MUT);
    for (const [nm, le] of [
      ['le', true],
      ['be', false],
    ] as const) {
      r.fn(`parse_${nm}_int`, ['blob', t], (_c, [b, rg]) => parseInt64(b as Uint8Array, ...ra(rg), le));
      r.fn(`parse_${nm}_float`, ['blob', t], (_c, [b, rg]) => parseF64(b as Uint8Array, ...ra(rg), le));
      for (const vt of ['int', 'float'] as const) {
        r.fn(`write_${nm}`, ['blob', t, vt], (_c, [b, rg, v]) => {
          writeNum(b as Uint8Array, ...ra(rg), v, le);
          return undefined;
        }, MUT);
      }
    }
    r.fn('write_ascii', ['blob', t, 'string'], (_c, [b, rg, v]) => {
      writeStr(b as Uint8Array, ...ra(rg), v as string, true);
      return undefined;
    }, MUT);
    r.fn('write_utf8', ['blob', t, 'string'], (_c, [b, rg, v]) => {
      writeStr(b as Uint8Array, ...ra(rg), v as string, false);
      return undefined;
    }, MUT);
  }
}

export const blobPackage: Package = (r) => {
  construction(r);
  accessAndMutation(r);
  slicingAndBinary(r);
};
