/**
 * Assignments `target = value` and `target op= value` to variables, `this`, and index / property chains, with a
 * fast path for `a[i] = x` on arrays and data-size checks in the checked variant.
 */
import type * as A from '../ast.ts';
import { fill, mkErr } from './errors.ts';
import type { Frame } from '../runtime/state.ts';
import type { Value } from '../runtime/value.ts';
import { compileExpr, compileExprInner, compileValue, compileVarRead, compileVarWrite, readVarSlot } from './expressions.ts';
import { compound, MAX_SAFE } from './operators.ts';
import { compilePlace } from './places.ts';
import { type E, R, type S } from './run.ts';
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
    if (v && !v.shared && !v.constant && (op === '+' || op === '-')) {
      // `x += n` / `x -= n` on a local integer (speed_test's loop counter): no call, and no size check, which
      // only a string or container result needs
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
        const r = compound(op, a, b, pos);
        if (checked && (typeof r === 'string' || typeof r === 'object') && R.checkData) checkSize(r, pos);
        f[s] = r;
        return undefined;
      };
    }
    return (f) => {
      const b = rhs(f);
      const r = compound(op, get(f), b, pos);
      if (checked && (typeof r === 'string' || typeof r === 'object') && R.checkData) checkSize(r, pos);
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
  const general = (f: Frame, x: Value): undefined => {
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
  if (t.k === 'Index' && constRoot === undefined) {
    const fast = arrayElementAssign(ctx, t, rhs, op, pos, rootGet, general);
    if (fast) return fast;
  }
  return (f) => general(f, rhs(f));
}

/** A local variable or an integer literal: an index expression whose evaluation has no effect and cannot fail. */
function plainIndex(ctx: FnCtx, e: A.Expr): E | undefined {
  if (e.k === 'Int' && typeof e.value === 'number') {
    const n = e.value;
    return () => n;
  }
  if (e.k !== 'Var' || e.ns) return undefined;
  const v = ctx.lookup(e.name);
  return v ? readVarSlot(v) : undefined;
}

/**
 * `a[i] op= x` and `a[i][j] op= x` where `a` is a local variable and the indices are local variables or literals
 * (`c[i][j] += a[i][z] * b[j][z]`, `map[key] = i`): on arrays with indices in range (and, one level deep, on maps
 * with a string key), the element is updated in place without
 * building the update chain of `compilePlace` (a closure per level per assignment). Anything else (a map, a string,
 * a negative or out-of-range index, …) goes to `general` with the value already evaluated; the indices are plain
 * reads, so evaluating them again there is unobservable. Evaluation order is the general path's: value, then the
 * indices from the last one, then the variable. `compound` positions its own errors at `pos`.
 */
function arrayElementAssign(
  ctx: FnCtx,
  t: A.IndexExpr,
  rhs: E,
  op: string | undefined,
  pos: number,
  rootGet: E | undefined,
  general: (f: Frame, x: Value) => undefined,
): S | undefined {
  if (ctx.dynamic) return undefined;
  const keys: E[] = [];
  let e: A.Expr = t;
  while (e.k === 'Index') {
    if (e.optional || keys.length === 2) return undefined;
    const k = plainIndex(ctx, e.index);
    if (!k) return undefined;
    keys.unshift(k);
    e = e.obj;
  }
  if (e.k !== 'Var' || e.ns) return undefined;
  const v = ctx.lookup(e.name);
  if (!v || v.constant) return undefined;
  const arr = readVarSlot(v);
  const check = rootGet !== undefined;
  if (keys.length === 1) {
    const ki = keys[0]!;
    return (f) => {
      const x = rhs(f);
      const i = ki(f);
      const a = arr(f);
      let old: Value;
      let r: Value;
      if (Array.isArray(a) && typeof i === 'number' && i >= 0 && i < a.length) {
        old = a[i];
        r = op === undefined ? x : compound(op, old, x, pos);
        a[i] = r;
      } else if (a instanceof Map && typeof i === 'string') {
        old = a.get(i);
        r = op === undefined ? x : compound(op, old, x, pos);
        a.set(i, r);
      } else return general(f, x);
      if (check && R.checkData && (old === undefined || hasSize(x) || hasSize(r))) checkSize(rootGet(f), pos);
      return undefined;
    };
  }
  const ki = keys[0]!;
  const kj = keys[1]!;
  return (f) => {
    const x = rhs(f);
    const j = kj(f);
    const i = ki(f);
    const a = arr(f);
    if (!Array.isArray(a) || typeof i !== 'number' || i < 0 || i >= a.length) return general(f, x);
    const b = a[i];
    if (!Array.isArray(b) || typeof j !== 'number' || j < 0 || j >= b.length) return general(f, x);
    const old = b[j];
    const r = op === undefined ? x : compound(op, old, x, pos);
    b[j] = r;
    if (check && R.checkData && (old === undefined || hasSize(x) || hasSize(r))) checkSize(rootGet(f), pos);
    return undefined;
  };
}
