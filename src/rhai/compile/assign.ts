/**
 * Assignments `target = value` and `target op= value` to variables, `this`, and index / property chains, with a
 * fast path for `a[i] = x` on arrays and data-size checks in the checked variant.
 */
import type * as A from '../ast.ts';
import { fill, mkErr } from './errors.ts';
import { compileExpr, compileExprInner, compileValue, compileVarRead, compileVarWrite, readVarSlot } from './expressions.ts';
import { compound, MAX_SAFE } from './operators.ts';
import { compilePlace } from './places.ts';
import { R, type S } from './run.ts';
import { FnCtx } from './scope.ts';
import { checkSize, hasSize } from './sizes.ts';

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
