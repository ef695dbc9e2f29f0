/**
 * Compiler from the AST (ast.ts) to JavaScript closures, plus the runtime support those closures call.
 *
 * - Variables are resolved at compile time to slots of a per-call frame array (slot 0 holds `this`).
 *   Names that cannot be resolved statically (host scope variables, variables defined by `eval`, the caller's
 *   variables in `f!()` calls) fall back to a by-name lookup.
 * - Statements return a value or a completion signal (`Ctl`: break / continue / return); loops and calls
 *   check it. Signals raised inside expression-position blocks are thrown and caught by the enclosing loop/call.
 * - Primitive operators are inlined with a small-integer fast path; everything else goes through
 *   `runtime/ops.ts` and then the native registry (per-call-site cache keyed by argument type tags).
 * - Two variants are compiled per program: `fast` (no operation counting, no data-size checks) and
 *   `checked` (counting at Rhai's granularity: statements, expression nodes, loop iterations, calls).
 */
/* oxlint-disable unicorn/no-new-array -- preallocated frames and argument arrays on hot paths */
import type * as A from './ast.ts';
import { errMismatch, RhaiError } from './runtime/errors.ts';
import { toDebug, toDisplay } from './runtime/format.ts';
import { arith, compare, intNeg, isInt, NO_BUILTIN, rangeContains } from './runtime/ops.ts';
import { type Overload, type Registry, tagOf } from './runtime/registry.ts';
import { Ctl, type Frame, NO_THIS, RETURN } from './runtime/state.ts';
import { cloneValue, FnPtr, RChar, RFloat, RRange, Shared, typeName, type Value } from './runtime/value.ts';
import { lineCol } from './source.ts';
import { errFnNotFound, ExitSignal, fill, mkErr } from './compile/errors.ts';
import { chainHasOptional, compileExpr, compileExprInner, compileValue, compileVarRead, compileVarWrite, readVarSlot, SHORT } from './compile/expressions.ts';
import { callFnPtr, callNative, newFrame, ScriptFn, Unit, wrapFnError } from './compile/functions.ts';
import { compileModuleCall } from './compile/modules.ts';
import { compileChain, compilePlace, isPlaceExpr } from './compile/places.ts';
import { analyse, compileFnBody } from './compile/program.ts';
import { type E, getCtl, invoke, R, type S, tick1 } from './compile/run.ts';
import { dynOf, DynScopeImpl, FnCtx, makeDynAccessor, type VarInfo } from './compile/scope.ts';
import { checkSize, hasSize } from './compile/sizes.ts';
import { compileStmts } from './compile/statements.ts';
export { errFnNotFound, fill, mkErr, throwValue, toRhaiError } from './compile/errors.ts';
export { chainHasOptional, compileExpr, compileValue, isFresh, type SlotExpr } from './compile/expressions.ts';
export { callFnPtr, callNative, type GenCompiler, newFrame, resolvePtr, ScriptFn, Unit, type UnitOptions, wrapFnError } from './compile/functions.ts';
export { forBind, forScope, forSource } from './compile/loops.ts';
export { compileImportBinding, compileModuleRef } from './compile/modules.ts';
export { compilePlace, isPlaceExpr } from './compile/places.ts';
export { analyse, compileUnit, enterDynamic } from './compile/program.ts';
export { callPtr, callUnitFn, currentRun, enterRun, type EvalParser, getCtl, invoke, leaveRun, newRunState, progressAfterResume, type RunOptions, type RunState, runUnit, setCtl, settleThrown, tick, tick1, tickN } from './compile/run.ts';
export { dynOf, FnCtx, makeDynAccessor } from './compile/scope.ts';
export { checkSize } from './compile/sizes.ts';
export { catchValue, caughtError, compileBlockS, compileBool, compileLet, compileStmt, compileStmtAsValue, exprWeight } from './compile/statements.ts';
export { buildSwitch, pickCase } from './compile/switch.ts';

const MAX_SAFE = 9007199254740991;
const I64_MAX_BIG = 9223372036854775807n;

export interface CallSiteCache {
  key: number;
  reg: Registry | undefined;
  ver: number;
  o: Overload | undefined;
}

function cacheKey(args: readonly Value[]): number {
  let k = args.length;
  for (let i = 0; i < args.length && i < 6; i++) k = k * 16 + tagOf(args[i]);
  return k;
}

export function resolveCached(c: CallSiteCache, name: string, args: readonly Value[]): Overload | undefined {
  const reg = R.env.registry;
  const key = cacheKey(args);
  if (c.reg === reg && c.ver === reg.version && c.key === key && args.length <= 6) return c.o;
  const o = reg.resolve(name, args);
  c.reg = reg;
  c.ver = reg.version;
  c.key = key;
  c.o = o;
  return o;
}

export function compileArgs(ctx: FnCtx, args: readonly A.Expr[]): E[] {
  return args.map((a) => compileValue(ctx, a));
}

export function evalArgs(f: Frame, args: readonly E[]): Value[] {
  const n = args.length;
  const r = new Array<Value>(n);
  for (let i = 0; i < n; i++) r[i] = args[i]!(f);
  return r;
}

export function compileCall(ctx: FnCtx, e: A.CallExpr): E {
  if (e.ns) return compileModuleCall(ctx, e);
  if (e.capture) return compileCaptureCall(ctx, e);
  const builtin = compileBuiltinCall(ctx, e);
  if (builtin) return builtin;
  const sf = ctx.unit.getFn(e.name, e.args.length);
  if (sf) return compileScriptCall(ctx, sf, e.args, e.pos);
  return compileNativeCall(ctx, e);
}

/** The functions the engine implements itself (print, type_of, is_def_var, Fn, call, curry, eval, exit, …), or undefined. */
function compileBuiltinCall(ctx: FnCtx, e: A.CallExpr): E | undefined {
  const name = e.name;
  const pos = e.pos;
  const n = e.args.length;
  switch (name) {
    case 'print':
    case 'debug': {
      const a = e.args.map((x) => compileExpr(ctx, x));
      const isPrint = name === 'print';
      return (f) => {
        const v = n ? a[0]!(f) : undefined;
        if (isPrint) {
          const s = typeof v === 'string' ? v : toDisplay(v);
          R.onPrint?.(s);
        } else {
          const s = toDebug(v);
          R.onDebug?.(s, R.source ? lineCol(R.source, pos) : undefined);
        }
        return undefined;
      };
    }
    case 'type_of':
      if (n === 1) {
        const a = compileExpr(ctx, e.args[0]!);
        return (f) => typeName(a(f));
      }
      break;
    case 'is_shared':
      if (n === 1) {
        const a0 = e.args[0]!;
        if (a0.k === 'Var' && !a0.ns) {
          const v = ctx.lookup(a0.name);
          if (v) {
            const s = v.slot;
            return (f) => f[s] instanceof Shared;
          }
        }
        const a = compileExpr(ctx, a0);
        return (f) => (a(f), false);
      }
      break;
    case 'is_def_var':
      if (n === 1) {
        const a = compileExpr(ctx, e.args[0]!);
        const snap = ctx.snapshot();
        const isTop = ctx.isTop;
        return (f) => {
          const nm = a(f);
          if (typeof nm !== 'string') throw errFnNotFound('is_def_var', [nm], pos);
          if (snap.has(nm)) return true;
          const d = R.dyn.get(f);
          if (d && d.get(nm).found) return true;
          return isTop && !!R.hostScope && R.hostScope.has(nm);
        };
      }
      break;
    case 'is_def_fn':
      if (n === 2) {
        const a = compileExpr(ctx, e.args[0]!);
        const b = compileExpr(ctx, e.args[1]!);
        return (f) => {
          const nm = a(f);
          const ar = b(f);
          if (typeof nm !== 'string' || !isInt(ar)) throw errFnNotFound('is_def_fn', [nm, ar], pos);
          return R.unit.hasScriptFn(nm, Number(ar));
        };
      }
      break;
    case 'Fn':
      if (n === 1) {
        const a = compileExpr(ctx, e.args[0]!);
        return (f) => {
          const nm = a(f);
          if (typeof nm !== 'string') throw errMismatch('string', typeName(nm)).fill(pos);
          return makeFnPtr(nm, pos);
        };
      }
      break;
    case 'call':
      if (n >= 1) {
        const a = compileArgs(ctx, e.args);
        return (f) => {
          const args = evalArgs(f, a);
          const p = args[0];
          if (!(p instanceof FnPtr)) throw errMismatch('Fn', typeName(p)).fill(pos);
          return callFnPtr(p, args.slice(1), NO_THIS, undefined, pos);
        };
      }
      break;
    case 'curry':
      if (n >= 1) {
        const a = compileArgs(ctx, e.args);
        return (f) => {
          const args = evalArgs(f, a);
          const p = args[0];
          if (!(p instanceof FnPtr)) throw errMismatch('Fn', typeName(p)).fill(pos);
          return new FnPtr(p.name, [...p.curry, ...args.slice(1)], p.fn);
        };
      }
      break;
    case 'eval':
      if (n === 1) return compileEval(ctx, e);
      break;
    case 'exit':
      if (n <= 1 && !ctx.unit.getFn('exit', n)) {
        const a = n ? compileValue(ctx, e.args[0]!) : undefined;
        return (f) => {
          throw new ExitSignal(a ? a(f) : undefined);
        };
      }
      break;
  }
  return undefined;
}

/** A call of a native function (its first argument by reference when it is a variable). */
function compileNativeCall(ctx: FnCtx, e: A.CallExpr): E {
  const name = e.name;
  const pos = e.pos;
  const n = e.args.length;
  const args = e.args.map((a, i) => (i === 0 && isPlaceExpr(a) ? compileExpr(ctx, a) : compileValue(ctx, a)));
  const firstPlace = n > 0 && e.args[0]!.k === 'Var' ? compilePlace(ctx, e.args[0]!) : undefined;
  const cache: CallSiteCache = { key: -1, reg: undefined, ver: -1, o: undefined };
  const checked = ctx.checked;
  const v0 = n > 0 && e.args[0]!.k === 'Var' ? ctx.lookup((e.args[0] as A.VarExpr).name) : undefined;
  const slot0 = v0 && v0.shared ? v0.slot : -1;
  return (f) => {
    let av: Value[];
    if (firstPlace) {
      // the by-reference first argument is taken after the other arguments are evaluated
      av = new Array<Value>(n);
      for (let i = 1; i < n; i++) av[i] = args[i]!(f);
      av[0] = args[0]!(f);
    } else av = evalArgs(f, args);
    const o = resolveCached(cache, name, av);
    if (!o) {
      throw errFnNotFound(name, av, pos);
    }
    const a0 = av[0];
    if (firstPlace && !o.pure && firstPlace.constRoot === undefined && !(slot0 >= 0 && f[slot0] instanceof Shared)) {
      const r = callNative(o, name, av, pos);
      if (av[0] !== a0) firstPlace.update(f, () => av[0]);
      if (checked && R.checkData) checkSize(av[0], pos);
      return r;
    }
    if (firstPlace && !o.pure && typeof a0 === 'object') av[0] = cloneValue(a0);
    const r = callNative(o, name, av, pos);
    if (checked && R.checkData) checkSize(r, pos);
    return r;
  };
}

function makeFnPtr(nm: string, pos: number): FnPtr {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(nm) || nm === '_') {
    throw mkErr('ErrorFunctionNotFound', `Function not found: ${nm}`, pos);
  }
  return new FnPtr(nm);
}

function compileScriptCall(ctx: FnCtx, sf: ScriptFn, argExprs: readonly A.Expr[], pos: number): E {
  const args = compileArgs(ctx, argExprs);
  const checked = ctx.checked;
  const n = args.length;
  if (n === 1) {
    const a0 = args[0]!;
    return (f) => {
      const nf = new Array(sf.nslots);
      nf[0] = NO_THIS;
      nf[1] = a0(f);
      if (checked) tick1();
      return invoke(sf, nf, pos);
    };
  }
  if (n === 2) {
    const a0 = args[0]!;
    const a1 = args[1]!;
    return (f) => {
      const nf = new Array(sf.nslots);
      nf[0] = NO_THIS;
      nf[1] = a0(f);
      nf[2] = a1(f);
      if (checked) tick1();
      return invoke(sf, nf, pos);
    };
  }
  return (f) => {
    const nf = new Array(sf.nslots);
    nf[0] = NO_THIS;
    for (let i = 0; i < n; i++) nf[i + 1] = args[i]!(f);
    if (checked) tick1();
    return invoke(sf, nf, pos);
  };
}

/** `f!(args)`: run the script function with access to the caller's variables by name. */
function compileCaptureCall(ctx: FnCtx, e: A.CallExpr): E {
  const name = e.name;
  const pos = e.pos;
  const args = compileArgs(ctx, e.args);
  const scope = makeDynAccessor(ctx);
  return (f) => {
    let av = evalArgs(f, args);
    let fname = name;
    if (name === 'call' && av[0] instanceof FnPtr) {
      const p = av[0];
      av = [...p.curry, ...av.slice(1)];
      fname = p.name;
    }
    const sf = R.unit.getFn(fname, av.length);
    if (!sf) throw errFnNotFound(fname, av, pos);
    const nf = newFrame(sf, NO_THIS);
    for (let i = 0; i < av.length; i++) nf[i + 1] = av[i];
    R.dyn.set(nf, scope(f));
    return invoke(sf, nf, pos);
  };
}

function compileEval(ctx: FnCtx, e: A.CallExpr): E {
  const a = compileExpr(ctx, e.args[0]!);
  const pos = e.pos;
  const checked = ctx.checked;
  const opts = ctx.unit.options;
  const evalTop = ctx.isTop && ctx.scopes.length <= 2;
  return (f) => {
    const src = a(f);
    if (typeof src !== 'string') throw errFnNotFound('eval', [src], pos);
    if (!R.parse) throw errFnNotFound('eval', [src], pos);
    const evalFn = new ScriptFn('eval', [], pos, false, R.unit);
    const parsed = R.parse(src);
    if (!parsed.ok) throw wrapFnError(parsed.error, evalFn, pos, true);
    // the evaluated script shares the caller's name-based scope (the caller is compiled in dynamic mode)
    let d = R.dyn.get(f);
    if (!d) {
      d = new DynScopeImpl(undefined);
      R.dyn.set(f, d);
    }
    const sub = new Unit(checked, opts);
    for (const [k, v] of R.unit.fns) sub.fns.set(k, v);
    for (const [k, v] of R.unit.byName) sub.byName.set(k, [...v]);
    for (const [k, v] of R.unit.typed) sub.typed.set(k, v);
    for (const fd of parsed.program.functions) {
      const sf = new ScriptFn(fd.name, fd.params.map((p) => p.name), fd.pos, false, sub);
      sub.addFn(sf);
      compileFnBody(sub, sf, fd.params, fd.body.body, false);
    }
    const an = analyse(parsed.program.statements);
    const ectx = new FnCtx(sub, false, an.shared, true, evalTop);
    ectx.push();
    const body = compileStmts(ectx, parsed.program.statements);
    ectx.pop();
    const nf = new Array(ectx.nslots);
    nf[0] = f[0];
    R.dyn.set(nf, d);
    const prevUnit = R.unit;
    R.unit = sub;
    try {
      const v = body(nf);
      if (v instanceof Ctl) return v === RETURN ? getCtl() : undefined;
      return v;
    } catch (err) {
      if (err === RETURN) return getCtl();
      if (err instanceof Ctl || err instanceof ExitSignal) throw err;
      const inner = fill(err, -1) as RhaiError;
      for (let x: RhaiError | undefined = inner; x; x = x.extra.inner) if (!x.pos && x.offset !== undefined) x.pos = lineCol(src, x.offset);
      throw wrapFnError(inner, evalFn, pos, true);
    } finally {
      R.unit = prevUnit;
    }
  };
}

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
    const tm = typedMethods;
    const sf = (tm && tm.get(typeName(o))) || (sfStatic ?? (R.unit !== unit ? R.unit.getFn(name, n) : undefined));
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

export function compileClosure(ctx: FnCtx, e: A.ClosureExpr): E {
  const unit = ctx.unit;
  if (ctx.dynamic) {
    const name = `anon$${unit.anonCount++}_${e.pos}`;
    const capNames = e.captures;
    const params: A.Param[] = [...capNames.map((n) => ({ name: n, pos: e.pos })), ...e.params];
    const sf = new ScriptFn(name, params.map((p) => p.name), e.pos, true, unit);
    compileFnBody(unit, sf, params, [e.body], false, capNames);
    return (f) => {
      const d = dynOf(f);
      const curry: Value[] = [];
      for (const c of capNames) {
        const sh = d.share(c);
        curry.push((sh ?? new Shared(undefined)) as unknown as Value);
      }
      return new FnPtr(name, curry, sf);
    };
  }
  // captures resolvable in the enclosing function
  const caps: VarInfo[] = [];
  const capNames: string[] = [];
  for (const c of e.captures) {
    const v = ctx.lookup(c);
    if (v) {
      caps.push(v);
      capNames.push(c);
    }
  }
  const name = `anon$${unit.anonCount++}_${e.pos}`;
  const params: A.Param[] = [...capNames.map((n) => ({ name: n, pos: e.pos })), ...e.params];
  const sf = new ScriptFn(
    name,
    params.map((p) => p.name),
    e.pos,
    true,
    unit,
  );
  const body: A.Stmt[] = [e.body];
  compileFnBody(unit, sf, params, body, false, capNames);
  const slots = caps.map((v) => v.slot);
  if (slots.length === 0) {
    const ptr = new FnPtr(name, [], sf);
    return () => ptr;
  }
  return (f) => {
    const curry: Value[] = [];
    for (const s of slots) {
      let c = f[s];
      if (!(c instanceof Shared)) {
        c = new Shared(c);
        f[s] = c;
      }
      curry.push(c as unknown as Value);
    }
    return new FnPtr(name, curry, sf);
  };
}

function slowBinary(op: string, a: Value, b: Value, pos: number): Value {
  let r: Value | typeof NO_BUILTIN;
  try {
    switch (op) {
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        r = compare(op, a, b);
        break;
      default:
        r = arith(op, a, b);
    }
  } catch (e) {
    throw fill(e, pos);
  }
  if (r !== NO_BUILTIN) {
    if (R.checkData && (typeof r === 'string' || typeof r === 'object')) checkSize(r, pos);
    return r;
  }
  const args = [a, b];
  const o = R.env.registry.resolve(op, args);
  if (o) return callNative(o, op, args, pos);
  throw errFnNotFound(op, args, pos);
}

function inOp(a: Value, b: Value, pos: number): boolean {
  if (b instanceof RRange) return rangeContains(b, a);
  if (typeof b === 'string') {
    if (typeof a === 'string') return b.includes(a);
    if (a instanceof RChar) return b.includes(a.c);
  }
  if (b instanceof Map) {
    if (typeof a === 'string') return b.has(a);
    if (a instanceof RChar) return b.has(a.c);
  }
  if (Array.isArray(b)) {
    for (const x of b) {
      const r = compare('==', x, a);
      if (r === true) return true;
      if (r === NO_BUILTIN) {
        const o = R.env.registry.resolve('==', [x, a]);
        if (o && callNative(o, '==', [x, a], pos) === true) return true;
      }
    }
    return false;
  }
  const args = [b, a];
  const o = R.env.registry.resolve('contains', args);
  if (o) return callNative(o, 'contains', args, pos) === true;
  throw errFnNotFound('contains', args, pos);
}

/** `a <op> c` with an integer literal `c` (fast variant): the closure for the operators it specialises, else undefined. */
function compileBinaryConst(L: E, op: string, c: number, pos: number): E | undefined {
  switch (op) {
    case '+':
      return (f) => {
        const a = L(f);
        if (typeof a === 'number') {
          const r = a + c;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
        }
        return slowBinary(op, a, c, pos);
      };
    case '-':
      return (f) => {
        const a = L(f);
        if (typeof a === 'number') {
          const r = a - c;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
        }
        return slowBinary(op, a, c, pos);
      };
    case '<':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a < c : slowBinary(op, a, c, pos);
      };
    case '>':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a > c : slowBinary(op, a, c, pos);
      };
    case '<=':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a <= c : slowBinary(op, a, c, pos);
      };
    case '>=':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a >= c : slowBinary(op, a, c, pos);
      };
    case '==':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a === c : slowBinary(op, a, c, pos);
      };
    case '!=':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a !== c : slowBinary(op, a, c, pos);
      };
  }
  return undefined;
}

export function compileBinary(ctx: FnCtx, e: A.BinaryExpr): E {
  const L = compileExpr(ctx, e.left);
  const op = e.op;
  const pos = e.pos;
  // specialise on an integer literal right operand
  if (e.right.k === 'Int' && typeof e.right.value === 'number' && !ctx.checked) {
    const withConst = compileBinaryConst(L, op, e.right.value, pos);
    if (withConst) return withConst;
  }
  const Rr = compileExpr(ctx, e.right);
  switch (op) {
    case '+':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        if (typeof a === 'number' && typeof b === 'number') {
          const r = a + b;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
        } else if (a instanceof RFloat && b instanceof RFloat) return new RFloat(a.v + b.v);
        return slowBinary(op, a, b, pos);
      };
    case '-':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        if (typeof a === 'number' && typeof b === 'number') {
          const r = a - b;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
        } else if (a instanceof RFloat && b instanceof RFloat) return new RFloat(a.v - b.v);
        return slowBinary(op, a, b, pos);
      };
    case '*':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        if (typeof a === 'number' && typeof b === 'number') {
          const r = a * b;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r === 0 ? 0 : r;
        } else if (a instanceof RFloat && b instanceof RFloat) return new RFloat(a.v * b.v);
        return slowBinary(op, a, b, pos);
      };
    case '<':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a < b : slowBinary(op, a, b, pos);
      };
    case '<=':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a <= b : slowBinary(op, a, b, pos);
      };
    case '>':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a > b : slowBinary(op, a, b, pos);
      };
    case '>=':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a >= b : slowBinary(op, a, b, pos);
      };
    case '==':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a === b : slowBinary(op, a, b, pos);
      };
    case '!=':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a !== b : slowBinary(op, a, b, pos);
      };
    case 'in':
      return (f) => {
        const a = L(f);
        return inOp(a, Rr(f), pos);
      };
    case '!in':
      return (f) => {
        const a = L(f);
        return !inOp(a, Rr(f), pos);
      };
    case '..':
    case '..=': {
      const incl = op === '..=';
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        if (isInt(a) && isInt(b)) return new RRange(a, b, incl);
        if (isInt(a) && b === undefined) return new RRange(a, I64_MAX_BIG, false);
        const args = [a, b];
        const o = R.env.registry.resolve(op, args);
        if (o) return callNative(o, op, args, pos);
        throw errFnNotFound(op, args, pos);
      };
    }
    default:
      return (f) => {
        const a = L(f);
        return slowBinary(op, a, Rr(f), pos);
      };
  }
}

export function compileLogic(ctx: FnCtx, e: A.LogicExpr): E {
  const L = compileExpr(ctx, e.left);
  const Rr = compileExpr(ctx, e.right);
  const pos = e.pos;
  const lpos = e.left.pos;
  const rpos = e.right.pos;
  if (e.op === '??')
    return (f) => {
      const a = L(f);
      return a === undefined ? Rr(f) : a;
    };
  const isAnd = e.op === '&&';
  return (f) => {
    const a = L(f);
    if (typeof a !== 'boolean') throw logicErr(e.op, a, pos, lpos);
    if (isAnd ? !a : a) return a;
    const b = Rr(f);
    if (typeof b !== 'boolean') throw logicErr(e.op, b, pos, rpos);
    return b;
  };
}
function logicErr(op: string, v: Value, pos: number, vpos: number): RhaiError {
  void op;
  void pos;
  return mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting bool)`, vpos);
}

export function compileUnary(ctx: FnCtx, e: A.UnaryExpr): E {
  const x = compileExpr(ctx, e.operand);
  const pos = e.pos;
  switch (e.op) {
    case '-':
      return (f) => {
        const v = x(f);
        if (typeof v === 'number') return v === 0 ? 0 : -v;
        if (typeof v === 'bigint') {
          try {
            return intNeg(v);
          } catch (err) {
            throw fill(err, pos);
          }
        }
        if (v instanceof RFloat) return new RFloat(-v.v);
        const o = R.env.registry.resolve('-', [v]);
        if (o) return callNative(o, '-', [v], pos);
        throw errFnNotFound('-', [v], pos);
      };
    case '+':
      return (f) => {
        const v = x(f);
        if (isInt(v) || v instanceof RFloat) return v;
        const o = R.env.registry.resolve('+', [v]);
        if (o) return callNative(o, '+', [v], pos);
        throw errFnNotFound('+', [v], pos);
      };
    case '!':
      return (f) => {
        const v = x(f);
        if (typeof v === 'boolean') return !v;
        const o = R.env.registry.resolve('!', [v]);
        if (o) return callNative(o, '!', [v], pos);
        throw errFnNotFound('!', [v], pos);
      };
  }
}

function opOf(op: A.AssignOp): string {
  return op.slice(0, -1);
}

export function compileAssign(ctx: FnCtx, st: A.AssignStmt): S {
  const rhs = compileValue(ctx, st.value);
  const pos = st.pos;
  const t = st.target;
  const checked = ctx.checked;
  if (t.k === 'Var') {
    const get = compileVarRead(ctx, t);
    const set = compileVarWrite(ctx, t);
    if (st.op === '=') {
      if (checked)
        return (f) => {
          const v = rhs(f);
          if (R.checkData) checkSize(v, pos);
          set(f, v);
          return undefined;
        };
      return (f) => {
        set(f, rhs(f));
        return undefined;
      };
    }
    const op = opOf(st.op);
    const v = t.ns ? undefined : ctx.lookup(t.name);
    if (v && !v.shared && !v.constant && !checked && (op === '+' || op === '-')) {
      const s = v.slot;
      const isAdd = op === '+';
      return (f) => {
        const b = rhs(f);
        const a = f[s];
        if (typeof a === 'number' && typeof b === 'number') {
          const r = isAdd ? a + b : a - b;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) {
            f[s] = r;
            return undefined;
          }
        }
        f[s] = compound(op, a, b, pos);
        return undefined;
      };
    }
    return (f) => {
      const b = rhs(f);
      const r = compound(op, get(f), b, pos);
      if (checked && R.checkData) checkSize(r, pos);
      set(f, r);
      return undefined;
    };
  }
  if (t.k === 'This') {
    const get = compileExprInner(ctx, t);
    if (st.op === '=')
      return (f) => {
        get(f);
        f[0] = rhs(f);
        return undefined;
      };
    const op = opOf(st.op);
    return (f) => {
      const a = get(f);
      f[0] = compound(op, a, rhs(f), pos);
      return undefined;
    };
  }
  const place = compilePlace(ctx, t);
  const constRoot = place.constRoot;
  const op = st.op === '=' ? undefined : opOf(st.op);
  // fast path: var[index] = value on arrays
  if (t.k === 'Index' && t.obj.k === 'Var' && !t.obj.ns && constRoot === undefined && !checked) {
    const v = ctx.lookup(t.obj.name);
    if (v) {
      const arr = readVarSlot(v);
      const idx = compileExpr(ctx, t.index);
      const ipos = t.pos;
      return (f) => {
        const x = rhs(f);
        const a = arr(f);
        const k = idx(f);
        if (Array.isArray(a) && typeof k === 'number' && k >= 0 && k < a.length) {
          a[k] = op === undefined ? x : compound(op, a[k], x, pos);
          return undefined;
        }
        try {
          place.update(f, (o) => (op === undefined ? x : compound(op, o, x, pos)));
        } catch (e) {
          throw fill(e, pos);
        }
        void ipos;
        return undefined;
      };
    }
  }
  let root: A.Expr = t;
  while (root.k === 'Prop' || root.k === 'Index') root = root.obj;
  const rootGet = checked ? compileExprInner(ctx, root) : undefined;
  return (f) => {
    const x = rhs(f);
    if (constRoot !== undefined) throw mkErr('ErrorAssignmentToConstant', `Cannot modify constant ${constRoot}`, pos);
    if (rootGet && R.checkData) {
      // the root can only grow when a string / container is stored, or a map gains a key
      let grew = hasSize(x);
      try {
        place.update(f, (o) => {
          const r = op === undefined ? x : compound(op, o, x, pos);
          if (o === undefined || hasSize(r)) grew = true;
          return r;
        });
      } catch (e) {
        throw fill(e, pos);
      }
      if (grew) checkSize(rootGet(f), pos);
      return undefined;
    }
    try {
      place.update(f, (o) => (op === undefined ? x : compound(op, o, x, pos)));
    } catch (e) {
      throw fill(e, pos);
    }
    return undefined;
  };
}

function compound(op: string, a: Value, b: Value, pos: number): Value {
  if (typeof a === 'number' && typeof b === 'number') {
    if (op === '+') {
      const r = a + b;
      if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
    }
  }
  if (op === '+' && Array.isArray(a)) {
    // `a += x` on arrays: append an array, else push
    if (Array.isArray(b)) {
      for (const x of b) a.push(x);
    } else a.push(b);
    if (R.checkData) checkSize(a, pos);
    return a;
  }
  if (op === '+' && a instanceof Map && b instanceof Map) {
    for (const [k, v] of b) a.set(k, v);
    if (R.checkData) checkSize(a, pos);
    return a;
  }
  if (op === '+' && a instanceof Uint8Array && Array.isArray(b)) {
    return slowBinary(op, a, b, pos);
  }
  return slowBinary(op, a, b, pos);
}
