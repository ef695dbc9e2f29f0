/**
 * The generator compiler's statements: lists, `let`/assignments with hoisted operands, break/return/throw, blocks,
 * if/switch, loops and try/catch, counting operations as compile/ does in the checked variant.
 */
import type * as A from '../ast.ts';
import { compileAssign } from '../compile/assign.ts';
import { throwValue } from '../compile/errors.ts';
import { forBind, forScope, forSource } from '../compile/loops.ts';
import { compileImportBinding } from '../compile/modules.ts';
import { currentRun, getCtl, type S, setCtl, tick, tick1, tickN } from '../compile/run.ts';
import { dynOf } from '../compile/scope.ts';
import { compileBlockS, compileBool, compileLet, compileStmt, compileStmtAsValue, declareCatch, enterCatch, exprWeight, weightOf } from '../compile/statements.ts';
import { buildSwitch, pickCase } from '../compile/switch.ts';
import { BREAK, CONTINUE, Ctl, type Frame, RETURN } from '../runtime/state.ts';
import type { Value } from '../runtime/value.ts';
import { type Either, ExprGen, type Gen, type GS, run, runSteps, type Step } from './expressions.ts';

/** The generator compiler of one function body: expressions (ExprGen) and statements. */
export class StmtGen extends ExprGen {
  // -------------------------------------------------------------- statements

  stmts(body: readonly A.Stmt[], topLevel = false): GS {
    const items: Either<Value | Ctl>[] = body.map((st) =>
      this.an.may(st) ? { g: true, s: this.stmt(st, topLevel) } : { g: false, s: compileStmt(this.ctx, st, topLevel) },
    );
    const n = items.length;
    return function* (f) {
      let r: Value | Ctl = undefined;
      for (let i = 0; i < n; i++) {
        const it = items[i]!;
        r = it.g ? yield* it.s(f) : it.s(f);
        if (r instanceof Ctl) return r;
      }
      return r;
    };
  }

  /** Count the statement's operations (as compile/run.ts withTick does), then run it. */
  protected ticked(s: GS, pos: number, weight: number): GS {
    if (!this.checked) return s;
    return function* (f) {
      tick(weight, pos);
      return yield* s(f);
    };
  }

  protected stmt(st: A.Stmt, topLevel: boolean): GS {
    const ctx = this.ctx;
    switch (st.k) {
      case 'Expr':
        return this.ticked(this.exprStmt(st.expr), st.pos, 1 + weightOf(st.expr));
      case 'Let': {
        const s = this.hoisted(st.value!, (value) => compileLet(ctx, { ...st, value }, topLevel));
        return this.ticked(s, st.pos, 1 + weightOf(st.value));
      }
      case 'Assign': {
        const steps: Step[] = [];
        const [value] = this.operands([st.value], steps);
        const s = compileAssign(ctx, { ...st, value: value! });
        return this.ticked(function* (f) {
          yield* runSteps(steps, f);
          return s(f);
        }, st.pos, 1 + weightOf(st.target) + weightOf(st.value));
      }
      case 'Return':
      case 'Break': {
        if (st.k === 'Break') {
          const loop = ctx.loops[ctx.loops.length - 1];
          if (loop && ctx.exprBlock > 0) loop.exprCtl = true;
        }
        const v = this.value(st.value!);
        const sig = st.k === 'Return' ? RETURN : BREAK;
        return this.ticked(function* (f) {
          setCtl(yield* run(v, f));
          return sig;
        }, st.pos, 1);
      }
      case 'Throw': {
        const v = this.value(st.value!);
        const pos = st.pos;
        return this.ticked(function* (f) {
          throw throwValue(yield* run(v, f), pos);
        }, st.pos, 1);
      }
      case 'Try':
        return this.ticked(this.tryStmt(st), st.pos, 1);
      case 'Import': {
        const p = this.expr(st.path);
        const bind = compileImportBinding(ctx, st);
        return this.ticked(function* (f) {
          return bind(f, yield* run(p, f));
        }, st.pos, 1);
      }
      default:
        // Noop / Continue / Export never suspend
        return lift(compileStmt(ctx, st, topLevel));
    }
  }

  /** Statement-position form (blocks, if, switch and loops return completion signals). */
  protected exprStmt(e: A.Expr): GS {
    switch (e.k) {
      case 'Block':
        return this.block(e);
      case 'If':
        return this.ifS(e);
      case 'Switch':
        return this.switchS(e);
      case 'While':
      case 'Loop':
      case 'Do':
        return this.whileS(e);
      case 'For':
        return this.forS(e);
      default:
        return this.gexpr(e);
    }
  }

  protected block(b: A.BlockExpr): GS {
    const ctx = this.ctx;
    ctx.push();
    const s = this.stmts(b.body);
    ctx.pop();
    if (!ctx.dynamic) return s;
    return function* (f) {
      const d = dynOf(f);
      const m = d.mark();
      try {
        return yield* s(f);
      } finally {
        d.reset(m);
      }
    };
  }

  /** A block that may or may not suspend. */
  protected blockE(b: A.BlockExpr): Either<Value | Ctl> {
    if (!this.an.may(b)) return { g: false, s: compileBlockS(this.ctx, b) };
    return { g: true, s: this.block(b) };
  }

  protected cond(e: A.Expr): Either<boolean> {
    if (!this.an.may(e)) return { g: false, s: compileBool(this.ctx, e) };
    return { g: true, s: this.hoisted(e, (e2) => compileBool(this.ctx, e2)) };
  }

  protected ifS(e: A.IfExpr): GS {
    const c = this.cond(e.cond);
    const t = this.blockE(e.then);
    const o: Either<Value | Ctl> | undefined = e.otherwise
      ? e.otherwise.k === 'If'
        ? { g: true, s: this.ifS(e.otherwise) }
        : this.blockE(e.otherwise)
      : undefined;
    return function* (f) {
      if (yield* run(c, f)) return yield* run(t, f);
      return o ? yield* run(o, f) : undefined;
    };
  }

  protected switchS(e: A.SwitchExpr): GS {
    const subj = this.expr(e.subject);
    const sw = buildSwitch(this.ctx, e, (st): Either<Value | Ctl> => {
      if (!this.an.may(st)) return { g: false, s: compileStmtAsValue(this.ctx, st) };
      if (st.k === 'Expr') return { g: true, s: this.ticked(this.exprStmt(st.expr), st.pos, exprWeight(st.expr)) };
      return { g: true, s: this.stmt(st, false) };
    });
    return function* (f) {
      const idx = pickCase(sw, yield* run(subj, f), f);
      const b = idx >= 0 ? sw.bodies[idx] : sw.def;
      return b ? yield* run(b, f) : undefined;
    };
  }

  protected loopBody(body: A.BlockExpr): Either<Value | Ctl> {
    const ctx = this.ctx;
    const saved = ctx.exprBlock;
    ctx.exprBlock = 0;
    ctx.loops.push({ exprCtl: false });
    const s = this.blockE(body);
    ctx.loops.pop();
    ctx.exprBlock = saved;
    return s;
  }

  protected whileS(e: A.WhileExpr | A.LoopExpr | A.DoExpr): GS {
    const cond = e.k === 'Loop' ? undefined : this.cond(e.cond);
    const body = this.loopBody(e.body);
    const checked = this.checked;
    const cw = 1 + (e.k === 'Loop' ? 0 : exprWeight(e.cond));
    const isDo = e.k === 'Do';
    const until = e.k === 'Do' ? e.until : false;
    return function* (f) {
      for (;;) {
        if (checked) tickN(cw);
        if (cond && !isDo && !(yield* run(cond, f))) return undefined;
        const r = yield* loopStep(body, f);
        if (r === BREAK) return getCtl();
        if (r === RETURN) return r;
        if (isDo && (yield* run(cond!, f)) === until) return undefined;
      }
    };
  }

  protected forS(e: A.ForExpr): GS {
    const ctx = this.ctx;
    const iterable = this.expr(e.iterable);
    ctx.push();
    const v = ctx.declare(e.var, false);
    const cnt = e.counter ? ctx.declare(e.counter, false) : undefined;
    const body = this.loopBody(e.body);
    ctx.pop();
    const slot = v.slot;
    const cslot = cnt ? cnt.slot : -1;
    const dyn = ctx.dynamic;
    const vname = e.var;
    const cname = e.counter;
    const checked = this.checked;
    const pos = e.iterable.pos;
    return function* (f) {
      const it = yield* run(iterable, f);
      f[slot] = undefined;
      if (cslot >= 0) f[cslot] = undefined;
      const src = forSource(it, pos);
      const d = dyn ? dynOf(f) : undefined;
      const mark = forScope(d, vname, cname);
      try {
        let idx = 0;
        for (const x of src) {
          forBind(f, d, slot, cslot, vname, cname, x, idx);
          idx++;
          if (checked) tick1();
          const r = yield* loopStep(body, f);
          if (r === BREAK) return getCtl();
          if (r === RETURN) return r;
        }
      } finally {
        if (d) d.reset(mark);
      }
      return undefined;
    };
  }

  protected tryStmt(st: A.TryStmt): GS {
    const ctx = this.ctx;
    const body = this.blockE(st.body);
    const c = declareCatch(ctx, st, (b) => this.blockE(b));
    const cbody = c.body;
    return function* (f) {
      const depth = currentRun().depth;
      let thrown: unknown;
      try {
        const r = yield* run(body, f);
        return r instanceof Ctl ? r : undefined;
      } catch (e) {
        thrown = e;
      }
      const m = enterCatch(f, thrown, depth, c);
      let r: Value | Ctl;
      if (m >= 0) {
        try {
          r = yield* run(cbody, f);
        } finally {
          dynOf(f).reset(m);
        }
      } else r = yield* run(cbody, f);
      return r instanceof Ctl ? r : undefined;
    };
  }
}

/** One loop iteration: a break/continue thrown from an expression-position block becomes a completion signal. */
function* loopStep(body: Either<Value | Ctl>, f: Frame): Gen<Value | Ctl> {
  try {
    return yield* run(body, f);
  } catch (e) {
    if (e === BREAK || e === CONTINUE) return e as Ctl;
    throw e;
  }
}

function lift(s: S): GS {
  const x: Either<Value | Ctl> = { g: false, s };
  return (f) => run(x, f);
}


