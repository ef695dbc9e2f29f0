/**
 * Run-time helpers of the resumable variant: awaiting an async host function (the suspension point), and the
 * generator versions of invoking a script function, calling a function pointer or a native overload, and the
 * array callbacks (map, filter, …) whose script callbacks may suspend.
 */
import { errFnNotFound, fill, mkErr } from '../compile/errors.ts';
import { callFnPtr, callNative, newFrame, resolvePtr, ScriptFn, wrapFnError } from '../compile/functions.ts';
import { currentRun, getCtl, invoke, progressAfterResume } from '../compile/run.ts';
import type { Overload } from '../runtime/registry.ts';
import { Ctl, type Frame, NO_THIS, RETURN } from '../runtime/state.ts';
import { cloneValue, FnPtr, type Value } from '../runtime/value.ts';
import { truthy, wrapCallbackError } from '../stdlib/util.ts';
import { HOF } from './analysis.ts';
import type { Gen } from './expressions.ts';

/** Await an async host function: yield its promise to the driver; a rejection is thrown here, at the call. */
export function* awaitHost(o: Overload, name: string, args: Value[], pos: number): Gen<Value> {
  const r = currentRun();
  const prev = r.fnName;
  r.fnName = name;
  let p: Promise<Value>;
  try {
    p = o.asyncFn!(r, args);
  } catch (e) {
    throw fill(e, pos);
  } finally {
    r.fnName = prev;
  }
  r.waitPos = pos;
  let v: Value;
  try {
    v = (yield p) as Value;
  } catch (e) {
    throw fill(e, pos);
  } finally {
    r.waitPos = -1;
  }
  progressAfterResume(pos);
  return v;
}

/** Call a resolved native overload: async ones suspend, the array callbacks may suspend, the rest is sync. */
export function* callNativeG(o: Overload, name: string, args: Value[], pos: number): Gen<Value> {
  if (o.asyncFn) return yield* awaitHost(o, name, args, pos);
  if (HOF.has(name) && Array.isArray(args[0]) && args[1] instanceof FnPtr) {
    const sf = resolvePtr(args[1], -1);
    if (sf && sf.gen) return yield* hofG(name, args, sf, pos);
  }
  return callNative(o, name, args, pos);
}

/** Invoke a script function (resumable body when it has one). Mirrors compile/run.ts `invoke`. */
export function* invokeG(sf: ScriptFn, frame: Frame, pos: number): Gen<Value> {
  if (!sf.gen) return invoke(sf, frame, pos);
  const r = currentRun();
  if (++r.depth > r.maxDepth) {
    r.depth--;
    throw mkErr('ErrorStackOverflow', 'Stack overflow', pos);
  }
  try {
    const v = yield* sf.gen(frame);
    if (v instanceof Ctl) return v === RETURN ? getCtl() : undefined;
    return v;
  } catch (e) {
    if (e === RETURN) return getCtl();
    throw wrapFnError(e, sf, pos);
  } finally {
    r.depth--;
  }
}

/** Call a function pointer (mirrors compile/functions.ts `callFnPtr`, resumable when the target is). */
export function* callFnPtrG(p: FnPtr, args: Value[], thisVal: Value | typeof NO_THIS, self: { value: Value } | undefined, pos: number): Gen<Value> {
  const all = p.curry.length ? [...p.curry, ...args] : args;
  const r = currentRun();
  const sf = p.fn instanceof ScriptFn ? p.fn : r.unit.getFn(p.name, all.length);
  if (sf && sf.gen) {
    if (sf.params.length !== all.length) throw errFnNotFound(p.name, all, pos);
    const f = newFrame(sf, thisVal);
    for (let i = 0; i < all.length; i++) f[i + 1] = all[i];
    const v = yield* invokeG(sf, f, pos);
    if (self) self.value = f[0];
    return v;
  }
  if (!sf) {
    const callArgs = thisVal !== NO_THIS ? [thisVal as Value, ...all] : all;
    const o = r.env.registry.resolve(p.name, callArgs);
    if (o && o.asyncFn) {
      const v = yield* awaitHost(o, p.name, callArgs, pos);
      if (self && thisVal !== NO_THIS) self.value = callArgs[0];
      return v;
    }
  }
  return callFnPtr(p, args, thisVal, self, pos);
}

/** Generator versions of the array callbacks (same calling convention as stdlib/util.ts callItem / callExtra). */
export function* hofG(name: string, args: Value[], sf: ScriptFn, pos: number): Gen<Value> {
  const arr = args[0] as Value[];
  const fn = args[1] as FnPtr;
  const c = fn.curry.length;
  const arity = sf.params.length;
  const item = function* (i: number, moveThis: boolean): Gen<Value> {
    const x = arr[i];
    if (arity === c || (!moveThis && arity === c + 1)) {
      const self = { value: x };
      const v = yield* callFnPtrG(fn, arity === c ? [] : [i], x, self, pos);
      arr[i] = self.value;
      return v;
    }
    const cx = typeof x === 'object' ? cloneValue(x) : x;
    return yield* callFnPtrG(fn, arity === c + 2 ? [cx, i] : [cx], NO_THIS, undefined, pos);
  };
  try {
    switch (name) {
      case 'map': {
        const out = new Array<Value>(arr.length);
        for (let i = 0; i < arr.length; i++) out[i] = yield* item(i, true);
        return out;
      }
      case 'filter': {
        const out: Value[] = [];
        for (let i = 0; i < arr.length; i++) if (truthy(yield* item(i, true))) out.push(cloneValue(arr[i]));
        return out;
      }
      case 'for_each':
        for (let i = 0; i < arr.length; i++) yield* item(i, false);
        return undefined;
      case 'some':
        for (let i = 0; i < arr.length; i++) if (truthy(yield* item(i, true))) return true;
        return false;
      case 'all':
        for (let i = 0; i < arr.length; i++) if (!truthy(yield* item(i, true))) return false;
        return true;
      case 'find': {
        let s = args.length > 2 ? Number(args[2]) : 0;
        if (s < 0) s = Math.max(0, arr.length + s);
        for (let i = s; i < arr.length; i++) if (truthy(yield* item(i, true))) return cloneValue(arr[i]);
        return undefined;
      }
      default: {
        // reduce(f) / reduce(f, init): f(acc, item) or f(acc, item, index)
        let acc = args.length > 2 ? args[2] : undefined;
        for (let i = 0; i < arr.length; i++) {
          const two = [acc, typeof arr[i] === 'object' ? cloneValue(arr[i]) : arr[i]];
          acc = yield* callFnPtrG(fn, arity === c + 3 ? [...two, i] : two, NO_THIS, undefined, pos);
        }
        return acc;
      }
    }
  } catch (e) {
    throw fill(wrapCallbackError(name, e, fn), pos);
  }
}
