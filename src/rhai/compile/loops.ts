/**
 * Loops: `while`, `loop`, `do … while/until` and `for … in`, with a small-integer fast path for ranges, arrays and
 * `range(a, b, step)`; iteration counting in the checked variant.
 */
import type * as A from '../ast.ts';
import { BREAK, CONTINUE, Ctl, type Frame, RETURN } from '../runtime/state.ts';
import { cloneValue, RIterable, RRange, type Value } from '../runtime/value.ts';
import { iterate } from '../stdlib/iter.ts';
import { errFnNotFound, mkErr } from './errors.ts';
import { compileExpr } from './expressions.ts';
import { callNative } from './functions.ts';
import { type E, getCtl, R, type S, tick1, tickN } from './run.ts';
import { dynOf, DynScopeImpl, FnCtx, writeSlot } from './scope.ts';
import { compileBlockS, compileBool, exprWeight } from './statements.ts';

function loopBody(ctx: FnCtx, body: A.BlockExpr): { s: S; exprCtl: boolean } {
  const saved = ctx.exprBlock;
  ctx.exprBlock = 0;
  const info = { exprCtl: false };
  ctx.loops.push(info);
  const s = compileBlockS(ctx, body);
  ctx.loops.pop();
  ctx.exprBlock = saved;
  return { s, exprCtl: info.exprCtl };
}

/** Wrap a loop body so that signals thrown from expression-position blocks become completion codes. */
function catching(s: S): S {
  return (f) => {
    try {
      return s(f);
    } catch (e) {
      if (e === BREAK || e === CONTINUE) return e as Ctl;
      throw e;
    }
  };
}

export function compileWhileS(ctx: FnCtx, e: A.WhileExpr | A.LoopExpr | A.DoExpr): S {
  const cond = e.k === 'Loop' ? undefined : compileBool(ctx, e.cond);
  const lb = loopBody(ctx, e.body);
  const body = lb.exprCtl ? catching(lb.s) : lb.s;
  const checked = ctx.checked;
  const cw = 1 + (e.k === 'Loop' ? 0 : exprWeight(e.cond));
  if (e.k === 'Do') {
    const until = e.until;
    const c = cond!;
    return (f) => {
      for (;;) {
        if (checked) tickN(cw);
        const r = body(f);
        if (r instanceof Ctl) {
          if (r === BREAK) return getCtl();
          if (r === RETURN) return r;
        }
        if (c(f) === until) return undefined;
      }
    };
  }
  if (!cond) {
    return (f) => {
      for (;;) {
        if (checked) tickN(cw);
        const r = body(f);
        if (r instanceof Ctl) {
          if (r === BREAK) return getCtl();
          if (r === RETURN) return r;
        }
      }
    };
  }
  return (f) => {
    for (;;) {
      if (checked) tickN(cw);
      if (!cond(f)) return undefined;
      const r = body(f);
      if (r instanceof Ctl) {
        if (r === BREAK) return getCtl();
        if (r === RETURN) return r;
      }
    }
  };
}

export function compileForS(ctx: FnCtx, e: A.ForExpr): S {
  const iterable = compileExpr(ctx, e.iterable);
  ctx.push();
  const v = ctx.declare(e.var, false);
  const cnt = e.counter ? ctx.declare(e.counter, false) : undefined;
  const lb = loopBody(ctx, e.body);
  ctx.pop();
  const body = lb.exprCtl ? catching(lb.s) : lb.s;
  const slot = v.slot;
  const cslot = cnt ? cnt.slot : -1;
  const dyn = ctx.dynamic;
  const vname = e.var;
  const cname = e.counter;
  const shared = v.shared || (cnt ? cnt.shared : false) || dyn;
  const checked = ctx.checked;
  const pos = e.iterable.pos;
  // fast path for `for x in range(from, to, step)` with small integers (falls back to the stdlib otherwise)
  const it0 = e.iterable;
  if (
    it0.k === 'Call' &&
    it0.name === 'range' &&
    !it0.ns &&
    !it0.capture &&
    it0.args.length === 3 &&
    !ctx.unit.getFn('range', 3) &&
    !shared &&
    cslot < 0
  ) {
    const ra = it0.args.map((x) => compileExpr(ctx, x));
    const rpos = it0.pos;
    const generic = forLoop(iterable);
    return (f) => {
      const a = ra[0]!(f);
      const b = ra[1]!(f);
      const st = ra[2]!(f);
      if (typeof a !== 'number' || typeof b !== 'number' || typeof st !== 'number' || st === 0 || R.env.registry.resolve('range', [a, b, st]) === undefined)
        return generic(f, () => {
          const args = [a, b, st];
          const o = R.env.registry.resolve('range', args);
          if (!o) throw errFnNotFound('range', args, rpos);
          return callNative(o, 'range', args, rpos);
        });
      if (checked) tick1();
      f[slot] = undefined;
      if (st > 0) {
        for (let i = a; i < b; i += st) {
          f[slot] = i;
          if (checked) tick1();
          const r = body(f);
          if (r instanceof Ctl) {
            if (r === BREAK) return getCtl();
            if (r === RETURN) return r;
          }
        }
      } else {
        for (let i = a; i > b; i += st) {
          f[slot] = i;
          if (checked) tick1();
          const r = body(f);
          if (r instanceof Ctl) {
            if (r === BREAK) return getCtl();
            if (r === RETURN) return r;
          }
        }
      }
      return undefined;
    };
  }
  return forLoop(iterable);

  function forLoop(iterableE: E): (f: Frame, src0?: () => Value) => Value | Ctl {
  return (f, src0) => {
    const it = src0 ? src0() : iterableE(f);
    f[slot] = undefined;
    if (cslot >= 0) f[cslot] = undefined;
    if (it instanceof RRange && typeof it.start === 'number' && typeof it.end === 'number' && !shared && cslot < 0) {
      const end = it.inclusive ? it.end + 1 : it.end;
      for (let i = it.start; i < end; i++) {
        f[slot] = i;
        if (checked) tick1();
        const r = body(f);
        if (r instanceof Ctl) {
          if (r === BREAK) return getCtl();
          if (r === RETURN) return r;
        }
      }
      return undefined;
    }
    if (Array.isArray(it) && !shared && cslot < 0) {
      const n = it.length;
      for (let i = 0; i < n && i < it.length; i++) {
        const x = it[i];
        f[slot] = typeof x === 'object' ? cloneValue(x) : x;
        if (checked) tick1();
        const r = body(f);
        if (r instanceof Ctl) {
          if (r === BREAK) return getCtl();
          if (r === RETURN) return r;
        }
      }
      return undefined;
    }
    const src = forSource(it, pos);
    const d = dyn ? dynOf(f) : undefined;
    const mark = forScope(d, vname, cname);
    try {
      let idx = 0;
      for (const x of src) {
        forBind(f, d, slot, cslot, vname, cname, x, idx);
        idx++;
        if (checked) tick1();
        const r = body(f);
        if (r instanceof Ctl) {
          if (r === BREAK) return getCtl();
          if (r === RETURN) return r;
        }
      }
    } finally {
      if (d) d.reset(mark);
    }
    return undefined;
  };
  }
}

/** What a `for` loop iterates over (arrays are copied first), or ErrorFor. */
export function forSource(it: Value, pos: number): Iterable<Value> {
  let src: Iterable<Value> | null;
  if (Array.isArray(it)) src = it.slice();
  else if (it instanceof RRange || typeof it === 'string' || it instanceof Uint8Array || it instanceof RIterable) src = iterate(it);
  else src = null;
  if (src === null) throw mkErr('ErrorFor', 'For loop expects iterable type', pos);
  return src;
}

/** A `for` loop in a name-based scope defines its variables there; returns the scope mark to reset to. */
export function forScope(d: DynScopeImpl | undefined, vname: string, cname: string | undefined): number {
  if (!d) return 0;
  const mark = d.mark();
  d.define(vname, undefined);
  if (cname !== undefined) d.define(cname, undefined);
  return mark;
}

/** Bind a `for` loop's variable (a copy of the item) and counter for one iteration. */
export function forBind(f: Frame, d: DynScopeImpl | undefined, slot: number, cslot: number, vname: string, cname: string | undefined, x: Value, idx: number): void {
  const xv = typeof x === 'object' ? cloneValue(x) : x;
  if (d) {
    d.set(vname, xv);
    if (cname !== undefined) d.set(cname, idx);
  } else {
    writeSlot(f, slot, xv);
    if (cslot >= 0) writeSlot(f, cslot, idx);
  }
}
