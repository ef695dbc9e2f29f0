/**
 * Function calls: engine built-ins (`print`, `type_of`, `Fn`, `call`, `curry`, `eval`, `exit`, …), script
 * functions, native functions (per-call-site overload cache, first argument by reference), capture calls `f!()`
 * and `eval`.
 */
/* oxlint-disable unicorn/no-new-array -- preallocated frames and argument arrays on hot paths */
import type * as A from '../ast.ts';
import { errMismatch, RhaiError } from '../runtime/errors.ts';
import { toDebug, toDisplay } from '../runtime/format.ts';
import { isInt } from '../runtime/ops.ts';
import { type Overload, type Registry, tagOf } from '../runtime/registry.ts';
import { Ctl, type Frame, NO_THIS, RETURN } from '../runtime/state.ts';
import { cloneValue, FnPtr, Shared, typeName, type Value } from '../runtime/value.ts';
import { lineCol } from '../source.ts';
import { errFnNotFound, ExitSignal, fill, mkErr } from './errors.ts';
import { compileExpr, compileValue } from './expressions.ts';
import { argsFrame, callFnPtr, callNative, ScriptFn, Unit, wrapFnError } from './functions.ts';
import { compileModuleCall } from './modules.ts';
import { compilePlace, isPlaceExpr } from './places.ts';
import { analyse, compileFnBody } from './program.ts';
import { type E, getCtl, invoke, R, tick1 } from './run.ts';
import { DynScopeImpl, FnCtx, makeDynAccessor } from './scope.ts';
import { checkSize } from './sizes.ts';
import { compileStmts } from './statements.ts';

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
    const [sf, nf] = captureCallee(name, evalArgs(f, args), pos);
    R.dyn.set(nf, scope(f));
    return invoke(sf, nf, pos);
  };
}

/** The script function `name!(av)` (or `call!(fp, …)`) calls, and its frame with the arguments. */
export function captureCallee(name: string, av: Value[], pos: number): [ScriptFn, Frame] {
  let fname = name;
  if (name === 'call' && av[0] instanceof FnPtr) {
    const p = av[0];
    av = [...p.curry, ...av.slice(1)];
    fname = p.name;
  }
  const sf = R.unit.getFn(fname, av.length);
  if (!sf) throw errFnNotFound(fname, av, pos);
  return [sf, argsFrame(sf, NO_THIS, av)];
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
