/**
 * Program compilation: a program's functions and main body into a `Unit`, and one function body into its closure
 * (parameters, name-based scope when it uses `eval`, value semantics of the returned value).
 */
import type * as A from '../ast.ts';
import type { Frame } from '../runtime/state.ts';
import { cloneValue, type Value } from '../runtime/value.ts';
import { mkErr } from './errors.ts';
import { isFresh } from './expressions.ts';
import { type GenCompiler, ScriptFn, Unit, type UnitOptions } from './functions.ts';
import { R, type S } from './run.ts';
import { DynScopeImpl, FnCtx } from './scope.ts';
import { compileStmts } from './statements.ts';

/** Walk an AST subtree (plain JSON) calling visit on every object with a `k`; visit returns false to skip children. */
export function walk(n: unknown, visit: (n: { k: string }) => boolean): void {
  if (n === null || typeof n !== 'object') return;
  if (Array.isArray(n)) {
    for (const x of n) walk(x, visit);
    return;
  }
  const o = n as Record<string, unknown>;
  if (typeof o['k'] === 'string' && !visit(o as { k: string })) return;
  for (const key in o) {
    const v = o[key];
    if (v !== null && typeof v === 'object') walk(v, visit);
  }
}

export function analyse(body: unknown): { shared: Set<string>; dynamic: boolean } {
  const shared = new Set<string>();
  let dynamic = false;
  walk(body, (n) => {
    if (n.k === 'Closure') {
      for (const c of (n as A.ClosureExpr).captures) shared.add(c);
      return false;
    }
    if (n.k === 'Call') {
      const c = n as A.CallExpr;
      if ((c.name === 'eval' && !c.ns) || c.capture) dynamic = true;
    }
    return true;
  });
  return { shared, dynamic };
}

export function compileUnit(prog: A.Program, checked: boolean, options: UnitOptions, moduleMain = false, gen?: GenCompiler): Unit {
  const unit = new Unit(checked, options);
  unit.gen = gen;
  const defs: [ScriptFn, A.FnDef][] = [];
  for (const d of prog.functions) {
    const sf = new ScriptFn(
      d.name,
      d.params.map((p) => p.name),
      d.pos,
      false,
      unit,
    );
    if (d.thisType !== undefined) {
      const key = d.name + '/' + d.params.length;
      let m = unit.typed.get(key);
      if (!m) unit.typed.set(key, (m = new Map()));
      m.set(d.thisType, sf);
    } else unit.addFn(sf);
    sf.isPrivate = d.private;
    defs.push([sf, d]);
  }
  for (const [sf, d] of defs) compileFnBody(unit, sf, d.params, d.body.body, false);
  compileFnBody(unit, unit.main, [], prog.statements, true, undefined, moduleMain);
  return unit;
}

export function compileFnBody(
  unit: Unit,
  sf: ScriptFn,
  params: readonly A.Param[],
  body: A.Stmt[],
  isTop: boolean,
  extraShared?: readonly string[],
  forceDynamic = false,
): void {
  const ctx = fnBodyCtx(unit, params, body, isTop, extraShared, forceDynamic);
  ctx.push();
  let s = compileStmts(ctx, body, isTop);
  ctx.pop();
  sf.nslots = ctx.nslots;
  const np = params.length;
  // value semantics: a function whose value is read from a place (`this`, a captured variable, `global::X`, …)
  // returns a copy, so the caller cannot alias the original container
  if (returnsPlace(body, isTop)) {
    const inner = s;
    s = (f) => {
      const r = inner(f);
      return typeof r === 'object' ? cloneValue(r as Value) : r;
    };
  }
  const body1 = unit.checked && np > 0 ? checkParams(s, np, sf.pos) : s;
  if (unit.gen) unit.gen.fnBody(unit, sf, params, body, isTop, extraShared, forceDynamic);
  if (!ctx.dynamic) {
    sf.body = body1;
    return;
  }
  const names = params.map((p) => p.name);
  sf.body = (f) => {
    enterDynamic(f, names);
    return body1(f);
  };
}

/** A checked function's body that first checks its parameter count against `maxVariables`. */
function checkParams(s: S, np: number, pos: number): S {
  return (f) => {
    const mv = R.limits.maxVariables;
    if (mv > 0 && np > mv) throw mkErr('ErrorTooManyVariables', 'Too many variables defined', pos);
    return s(f);
  };
}

/** The compile-time context of a function body: its parameters declared, name-based when it uses `eval` / `f!()`. */
export function fnBodyCtx(
  unit: Unit,
  params: readonly A.Param[],
  body: A.Stmt[],
  isTop: boolean,
  extraShared: readonly string[] | undefined,
  forceDynamic: boolean,
): FnCtx {
  const an = analyse(body);
  if (extraShared) for (const n of extraShared) an.shared.add(n);
  const ctx = new FnCtx(unit, isTop, an.shared, an.dynamic || forceDynamic);
  for (const p of params) ctx.declare(p.name, false);
  return ctx;
}

/** Does a function's value come from a place (`this`, a captured variable, `global::X`, …), so it must be copied? */
export function returnsPlace(body: readonly A.Stmt[], isTop: boolean): boolean {
  const last = body[body.length - 1];
  return !isTop && !!last && last.k === 'Expr' && !isFresh(last.expr);
}

/** Prologue of a function compiled with a name-based scope: a new scope holding the parameters. */
export function enterDynamic(f: Frame, names: readonly string[]): void {
  const d = new DynScopeImpl(R.dyn.get(f));
  R.dyn.set(f, d);
  for (let i = 0; i < names.length; i++) d.define(names[i]!, f[i + 1]);
}
