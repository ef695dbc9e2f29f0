/** Shared helpers for the standard-library packages. */
import { RhaiError, errDataTooLarge } from '../runtime/errors.ts';
import type { NativeCallContext } from '../runtime/native.ts';
import { FnPtr, RChar, RRange, cloneValue, intFromBig, type Value } from '../runtime/value.ts';
import { utf8Length } from '../runtime/format.ts';

/** An i64 argument as a JS number (bigints are clamped into the safe range, which is fine for indices/lengths). */
export function num(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return 0;
}

/** Canonical i64 from a bigint; throws the given error when out of range. */
export function bigToInt(b: bigint, onOverflow: () => RhaiError): number | bigint {
  const r = intFromBig(b);
  if (r === null) throw onOverflow();
  return r;
}

export function errArith(msg: string): RhaiError {
  return new RhaiError('ErrorArithmetic', msg);
}

/** ErrorInFunctionCall wrapping an error raised inside a callback (Rhai wraps with the stdlib fn's name). */
export function errInFunctionCall(fnName: string, inner: RhaiError): RhaiError {
  return new RhaiError('ErrorInFunctionCall', `${inner.text}\nin call to function '${fnName}'`, { inner, fnName });
}

/** ErrorInFunctionCall for an error raised directly by a native function (e.g. `range` with a zero step). */
export function errInNative(fnName: string, inner: RhaiError): RhaiError {
  return errInFunctionCall(fnName, inner);
}

// ---- data-size limits ----

export function checkString(ctx: NativeCallContext, s: string): string {
  const max = ctx.limits.maxStringSize;
  if (max > 0 && s.length > max / 4 && utf8Length(s) > max) throw errDataTooLarge('Length of string');
  return s;
}

/** Recursive element count of an array as Rhai's `calc_data_sizes` does: [array items, map items, string bytes]. */
export function dataSizes(v: Value, out: [number, number, number] = [0, 0, 0]): [number, number, number] {
  if (Array.isArray(v)) {
    out[0] += v.length;
    for (const x of v) if (typeof x === 'object' && x !== null) dataSizes(x, out);
    else if (typeof x === 'string') out[2] += utf8Length(x);
  } else if (v instanceof Map) {
    out[1] += v.size;
    for (const x of v.values()) {
      if (x instanceof Uint8Array) out[0] += 1; // a blob map value counts 1 + its length towards arrays
      if (typeof x === 'object' && x !== null) dataSizes(x, out);
      else if (typeof x === 'string') out[2] += utf8Length(x);
    }
  } else if (v instanceof Uint8Array) {
    out[0] += v.length;
  }
  return out;
}

export function checkArray(ctx: NativeCallContext, a: Value[] | Uint8Array): void {
  const max = ctx.limits.maxArraySize;
  if (max > 0 && a.length > 0) {
    if (a.length > max || dataSizes(a)[0] > max) throw errDataTooLarge('Size of array');
  }
}

/**
 * Cheaper check after adding one `added` item to `a`: the full recursive count is only redone when the new
 * item is itself a container (otherwise the total grew by one and the length check suffices for what this
 * call added; the core re-checks whole values on assignment).
 */
export function checkArrayGrow(ctx: NativeCallContext, a: Value[], added: Value): void {
  const max = ctx.limits.maxArraySize;
  if (max <= 0) return;
  if (a.length > max) throw errDataTooLarge('Size of array');
  if (Array.isArray(added) || added instanceof Map || added instanceof Uint8Array) checkArray(ctx, a);
}

export function checkMap(ctx: NativeCallContext, m: Map<string, Value>): void {
  const max = ctx.limits.maxMapSize;
  if (max > 0 && (m.size > max || dataSizes(m)[1] > max)) throw errDataTooLarge('Size of object map');
}


/** Copy of a value handed to a callback (Rhai passes `item.clone()`). */
const cp = (v: Value): Value => (typeof v === 'object' ? cloneValue(v) : v);

// ---- callbacks ----

/** A callback argument: a function pointer, or a string naming a function. */
export function toFnPtr(v: Value): FnPtr {
  if (v instanceof FnPtr) return v;
  return new FnPtr(String(v));
}

function isNotFoundFor(e: unknown, fn: FnPtr): boolean {
  return e instanceof RhaiError && e.kind === 'ErrorFunctionNotFound' && e.text.startsWith(`Function not found: ${fn.name}`);
}

/** How a native function reports an error of the script callback `fn` it called (see wrap). */
export function wrapCallbackError(fnName: string, e: unknown, fn: FnPtr): unknown {
  return wrap(fnName, e, fn);
}

/**
 * Rhai's `FnPtr::call_raw_with_extra_args` (types/fn_ptr.rs): a pointer linked to a script function (an anonymous
 * function or closure, which carries its compiled body here) is called directly and its error passes through
 * (already an ErrorInFunctionCall "in closure call"); a pointer by name goes through the general call and its
 * error is wrapped in ErrorInFunctionCall naming the stdlib function (`map`, `filter`, ...).
 */
function wrap(fnName: string, e: unknown, fn: FnPtr): unknown {
  // script payloads are ScriptFn objects; native closures (FnPtrType::Native) are JS functions and are wrapped
  if (typeof fn.fn === 'object' && fn.fn !== null) return e;
  if (e instanceof RhaiError && e.kind !== 'ErrorTooManyOperations' && e.kind !== 'ErrorStackOverflow' && e.kind !== 'ErrorDataTooLarge' && e.kind !== 'ErrorTerminated' && !e.extra.fatal) {
    return errInFunctionCall(fnName, e);
  }
  return e;
}

/**
 * Call a per-item callback the way Rhai's `FnPtr::call_raw_with_extra_args` does, for `arr[i]`:
 *  - a callback with no parameters gets `this = item` (by reference: mutations are written back to `arr[i]`);
 *  - `moveThis` (map, filter, some, all, find, ...): `(item)` or `(item, index)`;
 *  - `!moveThis` (for_each): `this = item` plus `(index)`.
 * Without `ctx.fnArity` (native callbacks, string names): `(item)`, and on ErrorFunctionNotFound for that
 * name, `(item, index)`.
 */
export function callItem(
  ctx: NativeCallContext,
  fnName: string,
  fn: FnPtr,
  arr: Value[],
  i: number,
  moveThis = true,
): Value {
  const item = arr[i];
  try {
    const arity = ctx.fnArity ? ctx.fnArity(fn) : undefined;
    if (arity !== undefined) {
      const c = fn.curry.length;
      if (ctx.callFnWithThis && (arity === c || (!moveThis && arity === c + 1))) {
        const self = { value: item };
        const r = ctx.callFnWithThis(fn, self, arity === c ? [] : [i]);
        arr[i] = self.value;
        return r;
      }
      if (arity === c + 2) return ctx.callFn(fn, [cp(item), i]);
      return ctx.callFn(fn, [cp(item)]);
    }
    try {
      return ctx.callFn(fn, [cp(item)]);
    } catch (e) {
      if (isNotFoundFor(e, fn)) return ctx.callFn(fn, [cp(item), i]);
      throw e;
    }
  } catch (e) {
    throw wrap(fnName, e, fn);
  }
}

/** Call `fn` with fixed `args`, plus `extra` when the callback takes them (used by reduce: (acc, item[, index])). */
export function callExtra(ctx: NativeCallContext, fnName: string, fn: FnPtr, args: Value[], extra: Value[]): Value {
  args = args.map(cp);
  try {
    const arity = ctx.fnArity ? ctx.fnArity(fn) : undefined;
    if (arity !== undefined) {
      const c = fn.curry.length;
      if (arity === args.length + extra.length + c) return ctx.callFn(fn, [...args, ...extra]);
      return ctx.callFn(fn, args);
    }
    try {
      return ctx.callFn(fn, args);
    } catch (e) {
      if (isNotFoundFor(e, fn)) return ctx.callFn(fn, [...args, ...extra]);
      throw e;
    }
  } catch (e) {
    throw wrap(fnName, e, fn);
  }
}

/** Plain call with error wrapping. */
export function callPlain(ctx: NativeCallContext, fnName: string, fn: FnPtr, args: Value[]): Value {
  args = args.map(cp);
  try {
    return ctx.callFn(fn, args);
  } catch (e) {
    throw wrap(fnName, e, fn);
  }
}

/** Truthiness of a predicate result: Rhai uses `as_bool().unwrap_or(false)`. */
export function truthy(v: Value): boolean {
  return v === true;
}

// ---- strings ----

/** Split a string into code points (chars). */
export function charsOf(s: string): string[] {
  return Array.from(s);
}

/** Does s contain surrogate pairs (so UTF-16 index != char index)? */
// eslint-disable-next-line no-control-regex
const ASTRAL = /[\ud800-\udfff]/;
export function isBmp(s: string): boolean {
  return !ASTRAL.test(s);
}

/** Number of chars (code points). */
export function charLen(s: string): number {
  if (isBmp(s)) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++;
    n++;
  }
  return n;
}

export function mkChar(c: string): RChar {
  return new RChar(c);
}

/** Rhai's (start, len) normalisation for extract/drain/retain/splice and blob parse/write: a negative start counts
 * from the end (clamped to 0), the length is clamped to what is left; null = nothing selected. */
export function normRange(total: number, start: number, len: number): [number, number] | null {
  if (total === 0 || len <= 0) return null;
  let s: number;
  if (start < 0) {
    const n = -start;
    s = n > total ? 0 : total - n;
  } else if (start >= total) return null;
  else s = start;
  return [s, Math.min(len, total - s)];
}

/** A range argument as (start, len), start clamped to 0 and an inclusive end made exclusive. */
export function rangeArgs(rg: RRange): [number, number] {
  const start = Math.max(num(rg.start as Value), 0);
  let end = Math.max(num(rg.end as Value), start);
  if (rg.inclusive) end += 1;
  return [start, end - start];
}
