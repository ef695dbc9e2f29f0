/**
 * Statements: statement lists, `let`, `break`/`continue`/`return`/`throw`, `try`/`catch`, blocks and `if`, and
 * operation counting per statement (checked variant). Statements return a value or a completion signal (`Ctl`);
 * in expression position a block-like form throws its signal instead (`exprFromS`).
 */
import type * as A from '../ast.ts';
import { errMismatch, errorFields, messageWithoutPosition, RhaiError } from '../runtime/errors.ts';
import { BREAK, CONTINUE, Ctl, type Frame, RETURN } from '../runtime/state.ts';
import { typeName, type Value } from '../runtime/value.ts';
import { lineCol } from '../source.ts';
import { compileAssign } from './assign.ts';
import { ExitSignal, isSystemError, mkErr, throwValue, toRhaiError } from './errors.ts';
import { compileExpr, compileValue } from './expressions.ts';
import { Unit } from './functions.ts';
import { compileForS, compileWhileS } from './loops.ts';
import { compileImportBinding } from './modules.ts';
import { type E, R, type S, setCtl, withTick } from './run.ts';
import { dynOf, FnCtx, type VarInfo } from './scope.ts';
import { compileSwitchS } from './switch.ts';

export function compileStmts(ctx: FnCtx, body: readonly A.Stmt[], topLevel = false): S {
  const ss = body.map((st) => compileStmt(ctx, st, topLevel));
  const n = ss.length;
  if (n === 0) return () => undefined;
  if (n === 1) return ss[0]!;
  if (n === 2) {
    const a = ss[0]!;
    const b = ss[1]!;
    return (f) => {
      const r = a(f);
      if (r instanceof Ctl) return r;
      return b(f);
    };
  }
  if (n === 3) {
    const a = ss[0]!;
    const b = ss[1]!;
    const c = ss[2]!;
    return (f) => {
      let r = a(f);
      if (r instanceof Ctl) return r;
      r = b(f);
      if (r instanceof Ctl) return r;
      return c(f);
    };
  }
  return (f) => {
    let r: Value | Ctl = undefined;
    for (let i = 0; i < n; i++) {
      r = ss[i]!(f);
      if (r instanceof Ctl) return r;
    }
    return r;
  };
}

/** `exprWeight` of an optional expression (0 when absent). */
export function weightOf(e: A.Expr | undefined): number {
  return e ? exprWeight(e) : 0;
}
export function exprWeight(e: A.Expr): number {
  switch (e.k) {
    case 'Block':
    case 'Loop':
    case 'While':
    case 'Do':
    case 'Closure':
      return 1;
    case 'If':
      return 1 + weightOf(e.cond);
    case 'Switch':
      return 1 + weightOf(e.subject);
    case 'For':
      return 1 + weightOf(e.iterable);
    case 'Interp':
      return 1 + e.parts.reduce((a, p) => a + weightOf(p), 0);
    case 'Array':
      return 1 + e.items.reduce((a, p) => a + weightOf(p), 0);
    case 'Map':
      return 1 + e.entries.reduce((a, p) => a + weightOf(p.value), 0);
    case 'Prop':
      return 1 + weightOf(e.obj);
    case 'Index':
      return 1 + weightOf(e.obj) + weightOf(e.index);
    case 'Method':
      return 1 + weightOf(e.obj) + e.args.reduce((a, p) => a + weightOf(p), 0);
    case 'Call':
      return 1 + e.args.reduce((a, p) => a + weightOf(p), 0);
    case 'Binary':
    case 'Logic':
      return 1 + weightOf(e.left) + weightOf(e.right);
    case 'Unary':
      return 1 + weightOf(e.operand);
    default:
      return 1;
  }
}

export function compileStmt(ctx: FnCtx, st: A.Stmt, topLevel: boolean): S {
  switch (st.k) {
    case 'Noop':
      return () => undefined;
    case 'Expr':
      return withTick(ctx, compileExprStmt(ctx, st.expr), st.pos, 1 + exprWeight(st.expr));
    case 'Let':
      return withTick(ctx, compileLet(ctx, st, topLevel), st.pos, 1 + weightOf(st.value));
    case 'Assign':
      return withTick(ctx, compileAssign(ctx, st), st.pos, 1 + weightOf(st.target) + weightOf(st.value));
    case 'Break': {
      const loop = ctx.loops[ctx.loops.length - 1];
      if (loop && ctx.exprBlock > 0) loop.exprCtl = true;
      if (st.value) {
        const v = compileValue(ctx, st.value);
        return withTick(ctx, (f) => {
          setCtl(v(f));
          return BREAK;
        }, st.pos);
      }
      return withTick(ctx, () => {
        setCtl(undefined);
        return BREAK;
      }, st.pos);
    }
    case 'Continue': {
      const loop = ctx.loops[ctx.loops.length - 1];
      if (loop && ctx.exprBlock > 0) loop.exprCtl = true;
      return withTick(ctx, () => CONTINUE, st.pos);
    }
    case 'Return': {
      if (st.value) {
        const v = compileValue(ctx, st.value);
        return withTick(ctx, (f) => {
          setCtl(v(f));
          return RETURN;
        }, st.pos);
      }
      return withTick(ctx, () => {
        setCtl(undefined);
        return RETURN;
      }, st.pos);
    }
    case 'Throw': {
      const pos = st.pos;
      if (st.value) {
        const v = compileValue(ctx, st.value);
        return withTick(ctx, (f) => {
          throw throwValue(v(f), pos);
        }, st.pos);
      }
      const caught = ctx.lookupStatic('\0caught');
      return withTick(ctx, (f) => {
        if (caught) {
          const c = f[caught.slot];
          if (c instanceof RhaiError) {
            // Rhai re-throws the caught error at the position of the bare `throw`
            c.offset = pos;
            c.pos = undefined;
            throw c;
          }
        }
        throw throwValue(undefined, pos);
      }, st.pos);
    }
    case 'Try':
      return withTick(ctx, compileTry(ctx, st), st.pos);
    case 'Import': {
      const p = compileExpr(ctx, st.path);
      const bind = compileImportBinding(ctx, st);
      return withTick(ctx, (f) => bind(f, p(f)), st.pos);
    }
    case 'Export':
      return () => undefined;
  }
}

export function compileLet(ctx: FnCtx, st: A.LetStmt, topLevel: boolean): S {
  if (ctx.dynamic) {
    const v = st.value ? compileValue(ctx, st.value) : () => undefined;
    const name = st.name;
    const constant = st.constant;
    const globalConst = constant && ((ctx.isTop && ctx.scopes.length <= 2) || (ctx.evalTop && ctx.scopes.length <= 2));
    return (f) => {
      const x = v(f);
      dynOf(f).define(name, x, constant);
      if (globalConst) R.globals.set(name, x);
      return undefined;
    };
  }
  const v = st.value ? compileValue(ctx, st.value) : undefined;
  const maxVarsCount = ctx.lookupStatic(st.name) ? -1 : ctx.liveCount();
  const info = ctx.declare(st.name, st.constant);
  const slot = info.slot;
  const isGlobalConst = st.constant && ctx.isTop && ctx.scopes.length <= 2;
  const name = st.name;
  const pos = st.pos;
  const checked = ctx.checked;
  const checkVars = (f: Frame): void => {
    const mv = R.limits.maxVariables;
    if (mv > 0 && maxVarsCount >= 0 && maxVarsCount >= mv)
      throw mkErr('ErrorTooManyVariables', 'Too many variables defined', pos);
    void f;
  };
  if (!v) {
    if (checked)
      return (f) => {
        checkVars(f);
        f[slot] = undefined;
        return undefined;
      };
    return (f) => {
      f[slot] = undefined;
      return undefined;
    };
  }
  if (isGlobalConst || topLevel) {
    return (f) => {
      if (checked) checkVars(f);
      const x = v(f);
      f[slot] = x;
      if (isGlobalConst) R.globals.set(name, x);
      return undefined;
    };
  }
  if (checked)
    return (f) => {
      checkVars(f);
      f[slot] = v(f);
      return undefined;
    };
  return (f) => {
    f[slot] = v(f);
    return undefined;
  };
}

export function compileTry(ctx: FnCtx, st: A.TryStmt): S {
  const body = compileBlockS(ctx, st.body);
  const c = declareCatch(ctx, st, (b) => compileBlockS(ctx, b));
  const cbody = c.body;
  return (f) => {
    const depth = R.depth;
    try {
      const r = body(f);
      if (r instanceof Ctl) return r;
      return undefined;
    } catch (e) {
      const m = enterCatch(f, e, depth, c);
      let r: Value | Ctl;
      if (m >= 0) {
        try {
          r = cbody(f);
        } finally {
          dynOf(f).reset(m);
        }
      } else r = cbody(f);
      if (r instanceof Ctl) return r;
      return undefined;
    }
  };
}

/** A compiled `catch` block and where it binds what it catches. */
export interface CatchClause<B> {
  body: B;
  /** `catch (x)`: x's slot (static scope) */
  cv: VarInfo | undefined;
  /** the caught error, for a bare `throw` inside the block */
  caught: VarInfo;
  cvName: string | undefined;
  dyn: boolean;
  unit: Unit;
}

/** Declare the variables of `catch (x) { … }` in a new scope and compile its block. */
export function declareCatch<B>(ctx: FnCtx, st: A.TryStmt, block: (b: A.BlockExpr) => B): CatchClause<B> {
  ctx.push();
  const cv = st.catchVar ? ctx.declare(st.catchVar, false) : undefined;
  const caught = ctx.declare('\0caught', false);
  const body = block(st.catchBody);
  ctx.pop();
  return { body, cv, caught, cvName: st.catchVar, dyn: ctx.dynamic, unit: ctx.unit };
}

/**
 * Enter a `catch` block for the exception `e` (signals, `exit` and system errors are rethrown): bind the catch
 * variable and the caught error. In a name-based scope returns the mark to reset the scope to afterwards, else -1.
 */
export function enterCatch<B>(f: Frame, e: unknown, depth: number, c: CatchClause<B>): number {
  const inner = caughtError(e, depth);
  if (c.cv) f[c.cv.slot] = catchValue(inner, c.unit);
  f[c.caught.slot] = inner;
  if (!c.dyn) return -1;
  const d = dynOf(f);
  const m = d.mark();
  if (c.cvName !== undefined) d.define(c.cvName, catchValue(inner, c.unit));
  return m;
}

/**
 * What a `catch` sees of an exception (signals, `exit` and system errors pass through); restores the call depth.
 * Rhai (eval/stmt.rs TryCatch): a thrown value reaches `catch` unwrapped; any other error becomes a map
 * describing the error as raised here (an error inside a called function stays `ErrorInFunctionCall`).
 */
export function caughtError(e: unknown, depth: number): RhaiError {
  if (e instanceof Ctl || e instanceof ExitSignal) throw e;
  R.depth = depth;
  const err = e instanceof RhaiError ? e : toRhaiError(e);
  if (isSystemError(err)) throw err;
  return err;
}

/** The value `catch (e)` receives: the thrown value, or Rhai's error map (message, line/position when known, error, dump_fields). */
export function catchValue(err: RhaiError, unit: Unit): Value {
  const root = err.root;
  if (root.kind === 'ErrorRuntime' && 'thrown' in root.extra) return root.extra.thrown;
  for (let x: RhaiError | undefined = err; x; x = x.extra.inner)
    if (!x.pos && x.offset !== undefined && R.source) x.pos = lineCol(R.source, x.offset);
  const m = new Map<string, Value>();
  m.set('message', messageWithoutPosition(err));
  if (err.pos) {
    m.set('line', err.pos.line);
    m.set('position', err.pos.position);
  }
  m.set('error', err.kind);
  for (const [k, v] of errorFields(err)) m.set(k, v);
  void unit;
  return m;
}

/** Compile an expression in statement position (block-like forms propagate completion signals directly). */
export function compileExprStmt(ctx: FnCtx, e: A.Expr): S {
  switch (e.k) {
    case 'Block':
      return compileBlockS(ctx, e);
    case 'If':
      return compileIfS(ctx, e);
    case 'Switch':
      return compileSwitchS(ctx, e);
    case 'While':
    case 'Loop':
    case 'Do':
      return compileWhileS(ctx, e);
    case 'For':
      return compileForS(ctx, e);
    default:
      return compileExpr(ctx, e);
  }
}

export function compileBlockS(ctx: FnCtx, b: A.BlockExpr): S {
  ctx.push();
  const s = compileStmts(ctx, b.body);
  ctx.pop();
  return ctx.dynamic ? dynBlock(s) : s;
}

/** In name-based scope mode a block discards the variables defined inside it (including by eval). */
export function dynBlock(s: S): S {
  return (f) => {
    const d = dynOf(f);
    const m = d.mark();
    try {
      return s(f);
    } finally {
      d.reset(m);
    }
  };
}

export function compileBool(ctx: FnCtx, e: A.Expr): (f: Frame) => boolean {
  const c = compileExpr(ctx, e);
  const pos = e.pos;
  return (f) => {
    const v = c(f);
    if (v === true) return true;
    if (v === false) return false;
    throw errMismatch('bool', typeName(v)).fill(pos);
  };
}

export function compileIfS(ctx: FnCtx, e: A.IfExpr): S {
  const c = compileBool(ctx, e.cond);
  const t = compileBlockS(ctx, e.then);
  const o = e.otherwise ? (e.otherwise.k === 'If' ? compileIfS(ctx, e.otherwise) : compileBlockS(ctx, e.otherwise)) : undefined;
  if (!o) return (f) => (c(f) ? t(f) : undefined);
  return (f) => (c(f) ? t(f) : o(f));
}

export function compileStmtAsValue(ctx: FnCtx, st: A.Stmt): S {
  if (st.k === 'Expr') return withTick(ctx, compileExprStmt(ctx, st.expr), st.pos, exprWeight(st.expr));
  return compileStmt(ctx, st, false);
}

/** Block-like expression in expression position: signals are thrown to the enclosing loop / call. */
export function exprFromS(ctx: FnCtx, make: () => S): E {
  ctx.exprBlock++;
  const s = make();
  ctx.exprBlock--;
  return (f) => {
    const r = s(f);
    if (r instanceof Ctl) throw r;
    return r;
  };
}
