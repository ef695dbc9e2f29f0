/**
 * Expressions: the dispatch over expression kinds, literals, string interpolation, array and map literals,
 * `this`, and variable reads and writes (frame slots, shared cells, name-based scopes, `global::`).
 */
/* oxlint-disable unicorn/no-new-array -- preallocated frames and argument arrays on hot paths */
import type * as A from '../ast.ts';
import { toDisplay } from '../runtime/format.ts';
import { type Frame, NO_THIS } from '../runtime/state.ts';
import { cloneValue, FnPtr, Shared, type Value } from '../runtime/value.ts';
import { compileCall } from './calls.ts';
import { compileClosure } from './closures.ts';
import { mkErr } from './errors.ts';
import { compileForS, compileWhileS } from './loops.ts';
import { compileModuleRef } from './modules.ts';
import { compileBinary, compileLogic, compileUnary } from './operators.ts';
import { compileChain } from './places.ts';
import { type E, R } from './run.ts';
import { FnCtx, type VarInfo, writeSlot } from './scope.ts';
import { checkLiteralSize, checkSize } from './sizes.ts';
import { compileBlockS, compileIfS, exprFromS } from './statements.ts';
import { compileSwitchS, literalValue } from './switch.ts';

/**
 * A value the resumable compiler computed before this expression runs, read from a frame slot (not produced by
 * the parser; see resumable.ts). `fresh` is the freshness of the expression it replaces.
 */
export interface SlotExpr {
  k: '$Slot';
  pos: number;
  slot: number;
  fresh: boolean;
}
function isSlot(e: A.Expr): boolean {
  return (e as unknown as SlotExpr).k === '$Slot';
}

/** Is the expression's value guaranteed not to alias a stored array/map? */
export function isFresh(e: A.Expr): boolean {
  if (isSlot(e)) return (e as unknown as SlotExpr).fresh;
  switch (e.k) {
    case 'Int':
    case 'Float':
    case 'Bool':
    case 'Char':
    case 'Str':
    case 'Unit':
    case 'Interp':
    case 'Array':
    case 'Map':
    case 'Unary':
    case 'Closure':
    case 'Call':
    case 'Method':
      return true;
    case 'Binary':
      return true;
    default:
      return false;
  }
}

/** Compile an expression whose value will be stored (copy arrays/maps read from places). */
export function compileValue(ctx: FnCtx, e: A.Expr): E {
  const c = compileExpr(ctx, e);
  if (isFresh(e)) return c;
  return (f) => {
    const v = c(f);
    return typeof v === 'object' ? cloneValue(v) : v;
  };
}

export function compileExpr(ctx: FnCtx, e: A.Expr): E {
  return compileExprInner(ctx, e);
}

export const SHORT: unique symbol = Symbol('short');

export function compileExprInner(ctx: FnCtx, e: A.Expr): E {
  if (isSlot(e)) {
    const slot = (e as unknown as SlotExpr).slot;
    return (f) => f[slot];
  }
  switch (e.k) {
    case 'Int':
    case 'Float':
    case 'Bool':
    case 'Char':
    case 'Str':
    case 'Unit': {
      const v = literalValue(e);
      return () => v;
    }
    case 'Interp': {
      const parts = e.parts.map((p) => compileExpr(ctx, p));
      const pos = e.pos;
      return (f) => {
        let s = '';
        for (let i = 0; i < parts.length; i++) {
          const v = parts[i]!(f);
          s += typeof v === 'string' ? v : toDisplay(v);
        }
        if (R.checkData) checkSize(s, pos);
        return s;
      };
    }
    case 'Array': {
      const items = e.items.map((x) => compileValue(ctx, x));
      const pos = e.pos;
      const itemPos = e.items.map((x) => x.pos);
      const checked = ctx.checked;
      return (f) => {
        const n = items.length;
        const a = new Array<Value>(n);
        for (let i = 0; i < n; i++) a[i] = items[i]!(f);
        if (checked && R.checkData) checkLiteralSize(a, a, itemPos, pos);
        return a;
      };
    }
    case 'Map': {
      const keys = e.entries.map((x) => x.key);
      const vals = e.entries.map((x) => compileValue(ctx, x.value));
      const pos = e.pos;
      const itemPos = e.entries.map((x) => x.value.pos);
      const checked = ctx.checked;
      return (f) => {
        const m = new Map<string, Value>();
        for (let i = 0; i < keys.length; i++) m.set(keys[i]!, vals[i]!(f));
        if (checked && R.checkData) checkLiteralSize(m, Array.from(m.values()), itemPos, pos);
        return m;
      };
    }
    case 'Var':
      return compileVarRead(ctx, e);
    case 'This': {
      const pos = e.pos;
      return (f) => {
        const t = f[0];
        if (t === NO_THIS) throw mkErr('ErrorUnboundThis', "'this' not bound", pos);
        return t;
      };
    }
    case 'Prop':
    case 'Index':
    case 'Method': {
      const c = compileChain(ctx, e);
      if (!chainHasOptional(e)) return c;
      return (f) => {
        const v = c(f);
        return v === (SHORT as unknown) ? undefined : v;
      };
    }
    case 'Call':
      return compileCall(ctx, e);
    case 'Binary':
      return compileBinary(ctx, e);
    case 'Logic':
      return compileLogic(ctx, e);
    case 'Unary':
      return compileUnary(ctx, e);
    case 'Block':
      return exprFromS(ctx, () => compileBlockS(ctx, e));
    case 'If':
      return exprFromS(ctx, () => compileIfS(ctx, e));
    case 'Switch':
      return exprFromS(ctx, () => compileSwitchS(ctx, e));
    case 'While':
    case 'Loop':
    case 'Do':
      return exprFromS(ctx, () => compileWhileS(ctx, e));
    case 'For':
      return exprFromS(ctx, () => compileForS(ctx, e));
    case 'Closure':
      return compileClosure(ctx, e);
  }
}

export function chainHasOptional(e: A.Expr): boolean {
  while (e.k === 'Prop' || e.k === 'Index' || e.k === 'Method') {
    if (e.optional) return true;
    e = e.obj;
  }
  return false;
}

export function readVarSlot(v: VarInfo): E {
  const s = v.slot;
  if (v.shared)
    return (f) => {
      const x = f[s];
      return x instanceof Shared ? x.v : x;
    };
  return (f) => f[s];
}

export function compileVarRead(ctx: FnCtx, e: A.VarExpr): E {
  const name = e.name;
  const pos = e.pos;
  if (e.ns) {
    if (e.ns.length === 1 && e.ns[0] === 'global') {
      const isTop = ctx.isTop;
      return () => {
        if (!isTop && R.globals.has(name)) return R.globals.get(name);
        throw mkErr('ErrorVariableNotFound', `Variable not found: global::${name}`, pos);
      };
    }
    const full = [...e.ns, name].join('::');
    const mref = e.ns.length === 1 ? compileModuleRef(ctx, e.ns[0]!) : undefined;
    return (f) => {
      const m = mref ? mref(f) : undefined;
      if (m && m.vars.has(name)) return m.vars.get(name);
      throw mkErr('ErrorVariableNotFound', `Variable not found: ${full}`, pos);
    };
  }
  const v = ctx.lookup(name);
  if (v) return readVarSlot(v);
  const isTop = ctx.isTop;
  const unit = ctx.unit;
  return (f) => {
    const d = R.dyn.get(f);
    if (d) {
      const r = d.get(name);
      if (r.found) return r.value;
    }
    if (isTop && R.hostScope && R.hostScope.has(name)) return R.hostScope.get(name);
    if (unit.byName.has(name)) return new FnPtr(name);
    throw mkErr('ErrorVariableNotFound', `Variable not found: ${name}`, pos);
  };
}

/** Write to a variable; returns nothing, throws on constants / unknown. */
export function compileVarWrite(ctx: FnCtx, e: A.VarExpr): (f: Frame, v: Value) => void {
  const name = e.name;
  const pos = e.pos;
  if (e.ns) {
    return () => {
      throw mkErr('ErrorAssignmentToConstant', `Cannot modify constant ${name}`, pos);
    };
  }
  const v = ctx.lookup(name);
  if (v) {
    const s = v.slot;
    if (v.constant)
      return () => {
        throw mkErr('ErrorAssignmentToConstant', `Cannot modify constant ${name}`, pos);
      };
    if (v.shared) return (f, x) => writeSlot(f, s, x);
    return (f, x) => {
      f[s] = x;
    };
  }
  const isTop = ctx.isTop;
  return (f, x) => {
    const d = R.dyn.get(f);
    if (d && d.set(name, x)) return;
    if (isTop && R.hostScope && R.hostScope.has(name)) {
      R.hostScope.set(name, x);
      return;
    }
    throw mkErr('ErrorVariableNotFound', `Variable not found: ${name}`, pos);
  };
}
