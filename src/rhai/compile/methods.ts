/**
 * Method calls `obj.m(args)`: function-pointer methods, closures stored in map properties, script methods (typed
 * or not) that may change `this`, native methods with write-back of their receiver, and Rhai's data-race checks.
 */
/* oxlint-disable unicorn/no-new-array -- preallocated frames and argument arrays on hot paths */
import type * as A from '../ast.ts';
import { RhaiError } from '../runtime/errors.ts';
import { type Frame, NO_THIS } from '../runtime/state.ts';
import { FnPtr, Shared, typeName, type Value } from '../runtime/value.ts';
import { type CallSiteCache, compileArgs, resolveCached } from './calls.ts';
import { errFnNotFound, mkErr } from './errors.ts';
import { chainHasOptional, compileExpr, SHORT } from './expressions.ts';
import { callFnPtr, callNative, newFrame, ScriptFn, Unit, wrapFnError } from './functions.ts';
import { compileChain, compilePlace, isPlaceExpr } from './places.ts';
import { type E, invoke, R, tick1 } from './run.ts';
import { FnCtx, type VarInfo } from './scope.ts';
import { checkSize } from './sizes.ts';

export function compileMethod(ctx: FnCtx, e: A.MethodExpr): E {
  const name = e.name;
  const pos = e.pos;
  const n = e.args.length;
  const objIsChain = e.obj.k === 'Prop' || e.obj.k === 'Index' || e.obj.k === 'Method';
  const hasShort = objIsChain && chainHasOptional(e.obj);
  const optional = e.optional;
  const place = isPlaceExpr(e.obj) && !hasShort ? compilePlace(ctx, e.obj) : undefined;
  const recv: E = place ? place.get : objIsChain ? compileChain(ctx, e.obj as A.PropExpr) : compileExpr(ctx, e.obj);
  const args = compileArgs(ctx, e.args);
  const cache: CallSiteCache = { key: -1, reg: undefined, ver: -1, o: undefined };
  const constRoot = place?.constRoot;
  const checked = ctx.checked;
  const unit = ctx.unit;
  const sfStatic = unit.getFn(name, n);
  const typedMethods = unit.typed.get(name + '/' + n);

  if (name === 'is_shared' && n === 0 && e.obj.k === 'Var' && !e.obj.ns) {
    const v = ctx.lookup(e.obj.name);
    if (v) {
      const s0 = v.slot;
      return (f) => f[s0] instanceof Shared;
    }
  }
  const rootVar = methodRootVar(ctx, e.obj);
  const rootSharedSlot = rootVar && rootVar.shared ? rootVar.slot : -1;
  const special = name === 'call' || name === 'curry';
  const maybeScript = !!sfStatic || !!typedMethods || ctx.dynamic;
  const methodSlow = (f: Frame, o: Value, all: Value[]): Value => {
    const av = all.slice(1);
    // function pointer methods
    if (o instanceof FnPtr) {
      if (name === 'call') return callFnPtr(o, av, NO_THIS, undefined, pos);
      if (name === 'curry') return new FnPtr(o.name, [...o.curry, ...av], o.fn);
    }
    if (name === 'call' && n >= 1 && av[0] instanceof FnPtr) {
      // x.call(f, args): bind this = x
      checkDataRace(f, rootSharedSlot, av[0], pos);
      const self = { value: o };
      const r = callFnPtr(av[0], av.slice(1), o, self, pos);
      if (place && self.value !== o) {
        if (constRoot !== undefined) throw mkErr('ErrorNonPureMethodCallOnConstant', `Non-pure method '${av[0].name}' cannot be called on constant`, pos);
        place.update(f, () => self.value);
      }
      return r;
    }
    // OOP-style: map property holding a function pointer
    if (o instanceof Map) {
      const p = o.get(name);
      if (p instanceof FnPtr) {
        checkMethodDataRace(f, rootSharedSlot, p, pos);
        const self = { value: o as Value };
        return callFnPtr(p, av, o, self, pos);
      }
    }
    const sf = scriptMethod(typedMethods, sfStatic, unit, R.unit, name, n, o);
    if (sf) {
      const nf = newFrame(sf, o);
      for (let i = 0; i < n; i++) nf[i + 1] = av[i];
      if (checked) tick1();
      const r = invoke(sf, nf, pos);
      const nt = nf[0];
      if (nt !== o || (typeof o === 'object' && place)) {
        if (place) {
          if (constRoot !== undefined) {
            if (nt !== o) throw mkErr('ErrorNonPureMethodCallOnConstant', `Non-pure method '${name}' cannot be called on constant`, pos);
          } else place.update(f, () => nt);
        }
      }
      return r;
    }
    return methodNative(f, o, all);
  };
  return (f) => {
    const o = recv(f);
    if (o === (SHORT as unknown)) return o;
    if (optional && o === undefined) return SHORT as unknown as Value;
    const all = new Array<Value>(n + 1);
    all[0] = o;
    for (let i = 0; i < n; i++) all[i + 1] = args[i]!(f);
    if (special || o instanceof Map || maybeScript) return methodSlow(f, o, all);
    return methodNative(f, o, all);
  };
  function methodNative(f: Frame, o: Value, all: Value[]): Value {
    const ov = resolveCached(cache, name, all);
    if (!ov) {
      throw errFnNotFound(name, all, pos);
    }
    if (!ov.pure) {
      if (constRoot !== undefined) {
        throw mkErr('ErrorNonPureMethodCallOnConstant', `Non-pure method '${name}' cannot be called on constant`, pos);
      }
      const r = callNative(ov, name, all, pos);
      if (place && all[0] !== o) place.update(f, () => all[0]);
      if (checked && R.checkData) {
        checkSize(all[0], pos);
        checkSize(r, pos);
      }
      return r;
    }
    const r = callNative(ov, name, all, pos);
    if (checked && R.checkData) checkSize(r, pos);
    return r;
  };
}

/**
 * The variable at the root of a method call's receiver chain (`a` in `a.call(f)`, `a.b[0].call(f)`): Rhai locks
 * it (a shared one) for the whole call.
 */
export function methodRootVar(ctx: FnCtx, obj: A.Expr): VarInfo | undefined {
  let root = obj;
  while (root.k === 'Prop' || root.k === 'Index') root = root.obj;
  return root.k === 'Var' && !root.ns ? ctx.lookup(root.name) : undefined;
}

/**
 * `x.call(f)` where `f` captured `x` itself: Rhai locks the shared receiver for the call, then
 * `ensure_no_data_race` (func/call.rs) finds the same cell among the pointer's curried (captured) arguments:
 * ErrorDataRace("argument #N of function 'name'"), raised with Position::NONE and never positioned on its way
 * up (so a caught map has no line/position).
 */
export function checkDataRace(f: Frame, rootSharedSlot: number, p: FnPtr, pos: number): void {
  if (rootSharedSlot < 0) return;
  const cell = f[rootSharedSlot];
  const at = cell instanceof Shared ? p.curry.indexOf(cell as unknown as Value) : -1;
  void pos;
  if (at >= 0) throw new RhaiError('ErrorDataRace', `Data race detected on variable 'argument #${at + 1} of function '${p.name}''`);
}

/**
 * `obj.m()` where the map property `m` is a closure that captured `obj`: Rhai calls it with `obj` locked and no
 * argument check, so reading the captured `obj` inside fails (Target::try_from: ErrorDataRace with no name),
 * which the call wraps like any error in a closure.
 */
export function checkMethodDataRace(f: Frame, rootSharedSlot: number, p: FnPtr, pos: number): void {
  if (rootSharedSlot < 0 || !(p.fn instanceof ScriptFn)) return;
  const cell = f[rootSharedSlot];
  if (!(cell instanceof Shared) || !p.curry.includes(cell as unknown as Value)) return;
  const inner = new RhaiError('ErrorDataRace', 'Data race detected');
  throw wrapFnError(inner, p.fn, pos);
}

/**
 * The script function a method call `o.name(…)` runs, if any: a typed method for `o`'s type (`fn T.name()`), the
 * unit's function `name` of that arity, or — inside a module's function called from elsewhere — the running unit's.
 */
export function scriptMethod(
  typed: Map<string, ScriptFn> | undefined,
  sfStatic: ScriptFn | undefined,
  unit: Unit,
  cur: Unit,
  name: string,
  n: number,
  o: Value,
): ScriptFn | undefined {
  return (typed && typed.get(typeName(o))) || (sfStatic ?? (cur !== unit ? cur.getFn(name, n) : undefined));
}
