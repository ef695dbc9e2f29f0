/**
 * Places (l-values: `x`, `this`, `a[i]`, `a.b`, chains of them) and property / index chains read as values,
 * including `?.` / `?[` short-circuiting.
 */
import type * as A from '../ast.ts';
import type { Frame } from '../runtime/state.ts';
import type { Value } from '../runtime/value.ts';
import { chainHasOptional, compileExpr, compileExprInner, compileVarRead, compileVarWrite, SHORT } from './expressions.ts';
import { getIndex, getIndexForUpdate, getProp, getPropForUpdate, setIndex, setProp } from './indexing.ts';
import { compileMethod } from './methods.ts';
import type { E } from './run.ts';
import { FnCtx } from './scope.ts';

export interface Place {
  get: E;
  /** Apply `upd` to the current value and store the result. */
  update: (f: Frame, upd: (old: Value) => Value) => void;
  constRoot: string | undefined;
}

export function isPlaceExpr(e: A.Expr): boolean {
  while (e.k === 'Prop' || e.k === 'Index') e = e.obj;
  return e.k === 'Var' || e.k === 'This';
}

export function compilePlace(ctx: FnCtx, e: A.Expr): Place {
  if (e.k === 'Var') {
    const get = compileVarRead(ctx, e);
    const v = e.ns ? undefined : ctx.lookup(e.name);
    const constRoot = v && v.constant ? e.name : e.ns ? e.name : undefined;
    const set = compileVarWrite(ctx, e);
    return {
      get,
      update: (f, upd) => {
        const o = get(f);
        const n = upd(o);
        if (n !== o || (typeof o !== 'object' && typeof o !== 'undefined')) set(f, n);
      },
      constRoot,
    };
  }
  if (e.k === 'This') {
    const get = compileExprInner(ctx, e);
    return {
      get,
      update: (f, upd) => {
        const o = get(f);
        f[0] = upd(o);
      },
      constRoot: undefined,
    };
  }
  if (e.k === 'Index') {
    const parent = compilePlace(ctx, e.obj);
    const idx = compileExpr(ctx, e.index);
    const pos = e.pos;
    const fail = ctx.unit.options.failOnInvalidMapProperty;
    const opt = e.optional;
    return {
      get: (f) => getIndex(parent.get(f), idx(f), pos, fail),
      update: (f, upd) => {
        const k = idx(f);
        parent.update(f, (o) => (opt && o === undefined ? o : setIndex(o, k, upd(getIndexForUpdate(o, k, pos)), pos)));
      },
      constRoot: parent.constRoot,
    };
  }
  if (e.k === 'Prop') {
    const parent = compilePlace(ctx, e.obj);
    const name = e.name;
    const pos = e.pos;
    const fail = ctx.unit.options.failOnInvalidMapProperty;
    const opt = e.optional;
    const getter = 'get$' + name;
    return {
      get: (f) => getProp(parent.get(f), name, pos, fail, getter),
      update: (f, upd) => {
        parent.update(f, (o) => (opt && o === undefined ? o : setProp(o, name, upd(getPropForUpdate(o, name, pos)), pos)));
      },
      constRoot: parent.constRoot,
    };
  }
  // not a place: a temporary
  const get = compileExpr(ctx, e);
  return { get, update: (f, upd) => void upd(get(f)), constRoot: undefined };
}

/** Compile a Prop / Index / Method chain for reading. Returns SHORT when an optional step short-circuits. */
export function compileChain(ctx: FnCtx, e: A.PropExpr | A.IndexExpr | A.MethodExpr): E {
  const objIsChain = e.obj.k === 'Prop' || e.obj.k === 'Index' || e.obj.k === 'Method';
  const fail = ctx.unit.options.failOnInvalidMapProperty;
  const pos = e.pos;
  if (e.k === 'Method') return compileMethod(ctx, e);
  const obj = objIsChain ? compileChain(ctx, e.obj as A.PropExpr) : compileExpr(ctx, e.obj);
  const optional = e.optional;
  const hasShort = objIsChain && chainHasOptional(e.obj);
  if (e.k === 'Prop') {
    const name = e.name;
    const getter = 'get$' + name;
    if (!optional && !hasShort)
      return (f) => {
        const o = obj(f);
        if (o instanceof Map) {
          const v = o.get(name);
          if (v !== undefined || !fail) return v;
        }
        return getProp(o, name, pos, fail, getter);
      };
    return (f) => {
      const o = obj(f);
      if (o === (SHORT as unknown)) return o;
      if (optional && o === undefined) return SHORT as unknown as Value;
      return getProp(o, name, pos, fail, getter);
    };
  }
  const idx = compileExpr(ctx, e.index);
  if (!optional && !hasShort)
    return (f) => {
      const o = obj(f);
      const k = idx(f);
      if (Array.isArray(o) && typeof k === 'number' && k >= 0 && k < o.length) return o[k];
      return getIndex(o, k, pos, fail);
    };
  return (f) => {
    const o = obj(f);
    if (o === (SHORT as unknown)) return o;
    if (optional && o === undefined) return SHORT as unknown as Value;
    return getIndex(o, idx(f), pos, fail);
  };
}
