/**
 * Array functions (array_basic.rs). Arrays are mutated in place (functions registered `{ pure: false }`).
 * Values copied into new arrays (extract, +, pad, ...) are cloned so that nested arrays/maps keep value semantics.
 * Callbacks accept a function pointer or a function name (string); see util.ts `callItem` for arity rules.
 */
import type { NativeCallContext, NativeFn, NativeRegistrar, Package } from '../runtime/native.ts';
import { FnPtr, RFloat, RRange, cloneValue, typeTag, type Value } from '../runtime/value.ts';
import { RhaiError, errDataTooLarge } from '../runtime/errors.ts';
import { compareValues, valuesEqual } from '../runtime/compare.ts';
import { callExtra, callItem, callPlain, checkArray, checkArrayGrow, normRange, num, rangeArgs, toFnPtr, truthy } from './util.ts';


const MUT = { pure: false } as const;

function cloneAll(a: Value[], from = 0, to = a.length): Value[] {
  const out = new Array<Value>(Math.max(0, to - from));
  for (let i = from; i < to; i++) {
    const x = a[i];
    out[i - from] = typeof x === 'object' ? cloneValue(x) : x;
  }
  return out;
}


/** Rhai `calc_offset_len(len, start, 0).0`: negative counts from the end (clamped to 0); past the end = len. */
export function offsetOf(total: number, start: number): number {
  if (start < 0) return total - Math.min(-start, total);
  return start >= total ? total : start;
}


function isFatal(e: unknown): boolean {
  return (
    e instanceof RhaiError &&
    (e.kind === 'ErrorTooManyOperations' || e.kind === 'ErrorStackOverflow' || e.kind === 'ErrorTerminated' || e.kind === 'ErrorDataTooLarge' || e.extra.fatal === true)
  );
}

function sortDefault(a: Value[], desc: boolean): void {
  if (a.length <= 1) return;
  const k0 = typeTag(a[0]);
  for (let i = 1; i < a.length; i++) {
    if (typeTag(a[i]) !== k0) {
      throw new RhaiError('ErrorFunctionNotFound', 'Function not found: sort() cannot be called with elements of different types');
    }
  }
  let cmp: ((x: Value, y: Value) => number) | undefined;
  switch (k0) {
    case 'int':
      cmp = (x, y) => ((x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0);
      break;
    case 'float':
      // Rust partial_cmp: exact comparison, NaN compares as equal
      cmp = (x, y) => ((x as RFloat).v < (y as RFloat).v ? -1 : (x as RFloat).v > (y as RFloat).v ? 1 : 0);
      break;
    case 'string':
    case 'char':
    case 'bool':
      cmp = (x, y) => compareValues(x, y) ?? 0;
      break;
    default:
      return; // other types are left as they are (Rhai sorts only primitive types)
  }
  const c = cmp;
  a.sort(desc ? (x, y) => c(y, x) : c);
}

function sortWith(ctx: NativeCallContext, a: Value[], fn: FnPtr, desc: boolean): void {
  a.sort((x, y) => {
    let v: Value;
    try {
      v = ctx.callFn(fn, [x, y]);
    } catch (e) {
      if (isFatal(e)) throw e;
      return 0;
    }
    const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0;
    const c = n > 0 ? 1 : n < 0 ? -1 : 0;
    return desc ? -c : c;
  });
}

/** Rhai `index_of` start position, or -1 when past the end. */
function startIndex(total: number, start: number): number {
  if (start < 0) {
    const n = -start;
    return n > total ? 0 : total - n;
  }
  return start >= total ? -1 : start;
}

function indexOfValue(a: Value[], v: Value, start: number): number {
  const s = startIndex(a.length, start);
  if (s < 0) return -1;
  for (let i = s; i < a.length; i++) if (valuesEqual(a[i], v)) return i;
  return -1;
}

function indexOfFn(ctx: NativeCallContext, a: Value[], fn: FnPtr, start: number): number {
  const s = startIndex(a.length, start);
  if (s < 0) return -1;
  for (let i = s; i < a.length; i++) if (truthy(callItem(ctx, 'index_of', fn, a, i))) return i;
  return -1;
}

/** A string argument names a filter function when such a function exists; otherwise it is a value. */
function namesFn(ctx: NativeCallContext, s: string): boolean {
  return ctx.hasFn(s, 1) || ctx.hasFn(s, 2);
}

/** Length, element access, operators and mutation in place. */
function basics(r: NativeRegistrar): void {
  const len: NativeFn = (_c, [a]) => (a as Value[]).length;
  const isEmpty: NativeFn = (_c, [a]) => (a as Value[]).length === 0;
  r.fn('len', ['array'], len);
  r.fn('get$len', ['array'], len);
  r.fn('is_empty', ['array'], isEmpty);
  r.fn('get$is_empty', ['array'], isEmpty);

  // get/set use Rhai's calc_offset_len: a negative index beyond the start clamps to 0
  r.fn('get', ['array', 'int'], (_c, [a, i]) => {
    const arr = a as Value[];
    const idx = offsetOf(arr.length, num(i));
    return idx < arr.length ? cloneValue(arr[idx]) : undefined;
  });
  r.fn('set', ['array', 'int', 'any'], (_c, [a, i, v]) => {
    const arr = a as Value[];
    const idx = offsetOf(arr.length, num(i));
    if (idx < arr.length) arr[idx] = v;
    return undefined;
  }, MUT);

  r.fn('push', ['array', 'any'], (c, [a, v]) => {
    const arr = a as Value[];
    arr.push(v);
    if (c.limits.maxArraySize > 0) checkArrayGrow(c, arr, v);
    return undefined;
  }, MUT);
  r.fn('+=', ['array', 'any'], (c, [a, v]) => {
    const arr = a as Value[];
    if (Array.isArray(v)) {
      const src = v === arr ? cloneAll(v) : v;
      for (let i = 0; i < src.length; i++) arr.push(src[i]);
      if (c.limits.maxArraySize > 0) checkArray(c, arr);
    } else {
      arr.push(v);
      if (c.limits.maxArraySize > 0) checkArrayGrow(c, arr, v);
    }
    return undefined;
  }, MUT);
  r.fn('append', ['array', 'array'], (c, [a, b]) => {
    const arr = a as Value[];
    const src = b === a ? cloneAll(b as Value[]) : (b as Value[]);
    for (const x of src) arr.push(x);
    if (c.limits.maxArraySize > 0) checkArray(c, arr);
    return undefined;
  }, MUT);
  r.fn('+', ['array', 'array'], (c, [a, b]) => {
    const out = cloneAll(a as Value[]).concat(cloneAll(b as Value[]));
    if (c.limits.maxArraySize > 0) checkArray(c, out);
    return out;
  });
  r.fn('==', ['array', 'array'], (_c, [a, b]) => valuesEqual(a, b));
  r.fn('!=', ['array', 'array'], (_c, [a, b]) => !valuesEqual(a, b));

  r.fn('insert', ['array', 'int', 'any'], (c, [a, i, v]) => {
    const arr = a as Value[];
    const idx = num(i);
    if (arr.length === 0) arr.push(v);
    else if (idx < 0) {
      const p = arr.length + idx;
      arr.splice(p < 0 ? 0 : p, 0, v);
    } else if (idx >= arr.length) arr.push(v);
    else arr.splice(idx, 0, v);
    if (c.limits.maxArraySize > 0) checkArrayGrow(c, arr, v);
    return undefined;
  }, MUT);
  r.fn('pop', ['array'], (_c, [a]) => (a as Value[]).pop(), MUT);
  r.fn('shift', ['array'], (_c, [a]) => (a as Value[]).shift(), MUT);
  r.fn('remove', ['array', 'int'], (_c, [a, i]) => {
    const arr = a as Value[];
    let idx = num(i);
    if (idx < 0) idx += arr.length;
    if (idx < 0 || idx >= arr.length) return undefined;
    return arr.splice(idx, 1)[0];
  }, MUT);
  r.fn('clear', ['array'], (_c, [a]) => {
    (a as Value[]).length = 0;
    return undefined;
  }, MUT);
  r.fn('truncate', ['array', 'int'], (_c, [a, n]) => {
    const arr = a as Value[];
    const l = num(n);
    if (l <= 0) arr.length = 0;
    else if (l < arr.length) arr.length = l;
    return undefined;
  }, MUT);
  r.fn('chop', ['array', 'int'], (_c, [a, n]) => {
    const arr = a as Value[];
    const l = num(n);
    if (l <= 0) arr.length = 0;
    else if (l < arr.length) arr.splice(0, arr.length - l);
    return undefined;
  }, MUT);
  r.fn('pad', ['array', 'int', 'any'], (c, [a, n, v]) => {
    const arr = a as Value[];
    const l = num(n);
    if (l <= 0) return undefined;
    const max = c.limits.maxArraySize;
    if (max > 0 && l > max) throw errDataTooLarge('Size of array');
    if (l > arr.length) {
      const isObj = typeof v === 'object';
      while (arr.length < l) arr.push(isObj ? cloneValue(v) : v);
      if (max > 0) checkArray(c, arr);
    }
    return undefined;
  }, MUT);
  r.fn('reverse', ['array'], (_c, [a]) => {
    (a as Value[]).reverse();
    return undefined;
  }, MUT);
}

/** Slicing: splice, extract, drain, retain, split (by offsets or ranges). */
function slicing(r: NativeRegistrar): void {
  const splice = (c: NativeCallContext, arr: Value[], start: number, l: number, rep: Value[]) => {
    const repl = rep === arr ? cloneAll(rep) : rep;
    let s: number;
    if (start < 0) {
      const n = -start;
      s = n > arr.length ? 0 : arr.length - n;
    } else s = Math.min(start, arr.length);
    const ln = l < 0 ? 0 : Math.min(l, arr.length - s);
    // no spread: replacement arrays may be far larger than the engine's argument limit
    const tail = arr.splice(s);
    for (let i = 0; i < repl.length; i++) arr.push(repl[i]);
    for (let i = ln; i < tail.length; i++) arr.push(tail[i]);
    if (c.limits.maxArraySize > 0) checkArray(c, arr);
    return undefined;
  };
  r.fn('splice', ['array', 'int', 'int', 'array'], (c, [a, s, l, rep]) => splice(c, a as Value[], num(s), num(l), rep as Value[]), MUT);
  const extract = (arr: Value[], start: number, l: number): Value[] => {
    const nr = normRange(arr.length, start, l);
    return nr ? cloneAll(arr, nr[0], nr[0] + nr[1]) : [];
  };
  r.fn('extract', ['array', 'int', 'int'], (_c, [a, s, l]) => extract(a as Value[], num(s), num(l)));
  r.fn('extract', ['array', 'int'], (_c, [a, s]) => extract(a as Value[], num(s), (a as Value[]).length));
  const drainRange = (arr: Value[], start: number, l: number): Value[] => {
    const nr = normRange(arr.length, start, l);
    return nr ? arr.splice(nr[0], nr[1]) : [];
  };
  r.fn('drain', ['array', 'int', 'int'], (_c, [a, s, l]) => drainRange(a as Value[], num(s), num(l)), MUT);
  const retainRange = (arr: Value[], start: number, l: number): Value[] => {
    const nr = normRange(arr.length, start, l);
    if (!nr) return []; // Rhai: nothing selected -> array unchanged
    const tail = arr.splice(nr[0] + nr[1]);
    const head = arr.splice(0, nr[0]);
    return head.concat(tail);
  };
  r.fn('retain', ['array', 'int', 'int'], (_c, [a, s, l]) => retainRange(a as Value[], num(s), num(l)), MUT);
  for (const t of ['range', 'rangeInclusive'] as const) {
    r.fn('extract', ['array', t], (_c, [a, rg]) => {
      const [s, l] = rangeArgs(rg as RRange);
      return extract(a as Value[], s, l);
    });
    r.fn('drain', ['array', t], (_c, [a, rg]) => {
      const [s, l] = rangeArgs(rg as RRange);
      return drainRange(a as Value[], s, l);
    }, MUT);
    r.fn('retain', ['array', t], (_c, [a, rg]) => {
      const [s, l] = rangeArgs(rg as RRange);
      return retainRange(a as Value[], s, l);
    }, MUT);
    r.fn('splice', ['array', t, 'array'], (c, [a, rg, rep]) => {
      const [s, l] = rangeArgs(rg as RRange);
      return splice(c, a as Value[], s, l, rep as Value[]);
    }, MUT);
  }
  r.fn('split', ['array', 'int'], (_c, [a, i]) => {
    const arr = a as Value[];
    if (arr.length === 0) return [];
    let s = num(i);
    if (s < 0) {
      const n = -s;
      if (n > arr.length) return arr.splice(0, arr.length);
      s = arr.length - n;
    }
    if (s >= arr.length) return [];
    return arr.splice(s);
  }, MUT);
}

/** Search: contains and index_of (by value or by predicate). */
function search(r: NativeRegistrar): void {
  r.fn('contains', ['array', 'any'], (_c, [a, v]) => indexOfValue(a as Value[], v, 0) >= 0);
  r.fn('index_of', ['array', 'fnptr'], (c, [a, f]) => indexOfFn(c, a as Value[], f as FnPtr, 0));
  r.fn('index_of', ['array', 'fnptr', 'int'], (c, [a, f, s]) => indexOfFn(c, a as Value[], f as FnPtr, num(s)));
  r.fn('index_of', ['array', 'string'], (c, [a, f]) =>
    namesFn(c, f as string) ? indexOfFn(c, a as Value[], new FnPtr(f as string), 0) : indexOfValue(a as Value[], f, 0),
  );
  r.fn('index_of', ['array', 'string', 'int'], (c, [a, f, s]) =>
    namesFn(c, f as string) ? indexOfFn(c, a as Value[], new FnPtr(f as string), num(s)) : indexOfValue(a as Value[], f, num(s)),
  );
  r.fn('index_of', ['array', 'any'], (_c, [a, v]) => indexOfValue(a as Value[], v, 0));
  r.fn('index_of', ['array', 'any', 'int'], (_c, [a, v, s]) => indexOfValue(a as Value[], v, num(s)));
}

/** Functions taking a callback (a function pointer or a function name): map, filter, reduce, find, sort_by, dedup and retain by predicate, … */
function higherOrder(r: NativeRegistrar): void {
  for (const ft of ['fnptr', 'string'] as const) {
    r.fn('map', ['array', ft], (c, [a, f]) => {
      const arr = a as Value[];
      const fn = toFnPtr(f);
      const out = new Array<Value>(arr.length);
      for (let i = 0; i < arr.length; i++) out[i] = callItem(c, 'map', fn, arr, i);
      return out;
    });
    r.fn('filter', ['array', ft], (c, [a, f]) => {
      const arr = a as Value[];
      const fn = toFnPtr(f);
      const out: Value[] = [];
      for (let i = 0; i < arr.length; i++) if (truthy(callItem(c, 'filter', fn, arr, i))) out.push(cloneValue(arr[i]));
      return out;
    });
    r.fn('for_each', ['array', ft], (c, [a, f]) => {
      const arr = a as Value[];
      const fn = toFnPtr(f);
      for (let i = 0; i < arr.length; i++) callItem(c, 'for_each', fn, arr, i, false);
      return undefined;
    }, MUT);
    r.fn('some', ['array', ft], (c, [a, f]) => {
      const arr = a as Value[];
      const fn = toFnPtr(f);
      for (let i = 0; i < arr.length; i++) if (truthy(callItem(c, 'some', fn, arr, i))) return true;
      return false;
    });
    r.fn('all', ['array', ft], (c, [a, f]) => {
      const arr = a as Value[];
      const fn = toFnPtr(f);
      for (let i = 0; i < arr.length; i++) if (!truthy(callItem(c, 'all', fn, arr, i))) return false;
      return true;
    });
    const find = (c: NativeCallContext, arr: Value[], fn: FnPtr, start: number): Value => {
      const s = startIndex(arr.length, start);
      if (s < 0) return undefined;
      for (let i = s; i < arr.length; i++) if (truthy(callItem(c, 'find', fn, arr, i))) return cloneValue(arr[i]);
      return undefined;
    };
    r.fn('find', ['array', ft], (c, [a, f]) => find(c, a as Value[], toFnPtr(f), 0));
    r.fn('find', ['array', ft, 'int'], (c, [a, f, s]) => find(c, a as Value[], toFnPtr(f), num(s)));
    const findMap = (c: NativeCallContext, arr: Value[], fn: FnPtr, start: number): Value => {
      const s = startIndex(arr.length, start);
      if (s < 0) return undefined;
      for (let i = s; i < arr.length; i++) {
        const v = callItem(c, 'find_map', fn, arr, i);
        if (v !== undefined) return v;
      }
      return undefined;
    };
    r.fn('find_map', ['array', ft], (c, [a, f]) => findMap(c, a as Value[], toFnPtr(f), 0));
    r.fn('find_map', ['array', ft, 'int'], (c, [a, f, s]) => findMap(c, a as Value[], toFnPtr(f), num(s)));
    const reduce = (c: NativeCallContext, arr: Value[], fn: FnPtr, init: Value, rev: boolean, name: string): Value => {
      let acc = init;
      if (rev) for (let i = arr.length - 1; i >= 0; i--) acc = callExtra(c, name, fn, [acc, arr[i]], [i]);
      else for (let i = 0; i < arr.length; i++) acc = callExtra(c, name, fn, [acc, arr[i]], [i]);
      return acc;
    };
    r.fn('reduce', ['array', ft], (c, [a, f]) => reduce(c, a as Value[], toFnPtr(f), undefined, false, 'reduce'));
    r.fn('reduce', ['array', ft, 'any'], (c, [a, f, init]) => reduce(c, a as Value[], toFnPtr(f), init, false, 'reduce'));
    r.fn('reduce_rev', ['array', ft], (c, [a, f]) => reduce(c, a as Value[], toFnPtr(f), undefined, true, 'reduce_rev'));
    r.fn('reduce_rev', ['array', ft, 'any'], (c, [a, f, init]) => reduce(c, a as Value[], toFnPtr(f), init, true, 'reduce_rev'));
    r.fn('drain', ['array', ft], (c, [a, f]) => {
      const arr = a as Value[];
      const fn = toFnPtr(f);
      const removed: Value[] = [];
      const kept: Value[] = [];
      for (let i = 0; i < arr.length; i++) (truthy(callItem(c, 'drain', fn, arr, i)) ? removed : kept).push(arr[i]);
      arr.length = 0;
      for (const x of kept) arr.push(x);
      return removed;
    }, MUT);
    r.fn('retain', ['array', ft], (c, [a, f]) => {
      const arr = a as Value[];
      const fn = toFnPtr(f);
      const removed: Value[] = [];
      const kept: Value[] = [];
      for (let i = 0; i < arr.length; i++) (truthy(callItem(c, 'retain', fn, arr, i)) ? kept : removed).push(arr[i]);
      arr.length = 0;
      for (const x of kept) arr.push(x);
      return removed;
    }, MUT);
    r.fn('dedup', ['array', ft], (c, [a, f]) => {
      const arr = a as Value[];
      const fn = toFnPtr(f);
      if (arr.length <= 1) return undefined;
      const out: Value[] = [arr[0]];
      for (let i = 1; i < arr.length; i++) {
        let same: Value = false;
        try {
          same = callPlain(c, 'dedup', fn, [out[out.length - 1], arr[i]]);
        } catch (e) {
          // Rhai: a failing comparer counts as "not equal" (unwrap_or_else(|_| false))
          if (isFatal(e) || (e instanceof RhaiError && isFatal(e.extra.inner))) throw e;
        }
        if (!truthy(same)) out.push(arr[i]);
      }
      arr.length = 0;
      for (const x of out) arr.push(x);
      return undefined;
    }, MUT);
    r.fn('zip', ['array', 'array', ft], (c, [a, b, f]) => {
      const x = a as Value[];
      const y = b as Value[];
      const fn = toFnPtr(f);
      const n = Math.min(x.length, y.length);
      const out = new Array<Value>(n);
      for (let i = 0; i < n; i++) out[i] = callExtra(c, 'zip', fn, [x[i], y[i]], [i]);
      return out;
    });
    r.fn('sort', ['array', ft], (c, [a, f]) => {
      sortWith(c, a as Value[], toFnPtr(f), false);
      return undefined;
    }, MUT);
    r.fn('sort_by', ['array', ft], (c, [a, f]) => {
      sortWith(c, a as Value[], toFnPtr(f), false);
      return undefined;
    }, MUT);
    r.fn('order', ['array', ft], (c, [a, f]) => {
      const out = cloneAll(a as Value[]);
      sortWith(c, out, toFnPtr(f), false);
      return out;
    });
    r.fn('order_by', ['array', ft], (c, [a, f]) => {
      const out = cloneAll(a as Value[]);
      sortWith(c, out, toFnPtr(f), false);
      return out;
    });
  }
}

/** Deduplication and sorting in the natural order: dedup, sort, sort_desc, order, order_desc. */
function dedupAndSort(r: NativeRegistrar): void {
  r.fn('dedup', ['array'], (_c, [a]) => {
    const arr = a as Value[];
    if (arr.length <= 1) return undefined;
    const out: Value[] = [arr[0]];
    for (let i = 1; i < arr.length; i++) if (!valuesEqual(out[out.length - 1], arr[i])) out.push(arr[i]);
    arr.length = 0;
    for (const x of out) arr.push(x);
    return undefined;
  }, MUT);
  r.fn('sort', ['array'], (_c, [a]) => {
    sortDefault(a as Value[], false);
    return undefined;
  }, MUT);
  r.fn('sort_desc', ['array'], (_c, [a]) => {
    sortDefault(a as Value[], true);
    return undefined;
  }, MUT);
  r.fn('order', ['array'], (_c, [a]) => {
    const out = cloneAll(a as Value[]);
    sortDefault(out, false);
    return out;
  });
  r.fn('order_desc', ['array'], (_c, [a]) => {
    const out = cloneAll(a as Value[]);
    sortDefault(out, true);
    return out;
  });
}

export const arrayPackage: Package = (r) => {
  basics(r);
  slicing(r);
  search(r);
  higherOrder(r);
  dedupAndSort(r);
};
