/**
 * The generator compiler's core and its expressions: an `Either` is a sync closure (from compile/) or a generator
 * closure when the code can suspend. Operands that can suspend are hoisted into frame slots so that compile/
 * compiles the construct itself over `$Slot` reads; calls that can suspend get generator versions here.
 * Statements are added by the subclass in statements.ts.
 */
import type * as A from '../ast.ts';
import { type CallSiteCache, captureCallee, resolveCached } from '../compile/calls.ts';
import { errFnNotFound, mkErr } from '../compile/errors.ts';
import { chainHasOptional, compileExpr, compileValue, isFresh, type SlotExpr } from '../compile/expressions.ts';
import { argsFrame, newFrame } from '../compile/functions.ts';
import { checkDataRace, checkMethodDataRace, methodRootVar, scriptMethod } from '../compile/methods.ts';
import { compileModuleRef, hostModuleFn, moduleFn } from '../compile/modules.ts';
import { notBool } from '../compile/operators.ts';
import { compilePlace, isPlaceExpr } from '../compile/places.ts';
import { currentRun, tick1 } from '../compile/run.ts';
import { FnCtx, makeDynAccessor } from '../compile/scope.ts';
import { checkSize } from '../compile/sizes.ts';
import { errMismatch } from '../runtime/errors.ts';
import { Ctl, type Frame, NO_THIS } from '../runtime/state.ts';
import { cloneValue, FnPtr, typeName, type Value } from '../runtime/value.ts';
import { Analysis } from './analysis.ts';
import { callFnPtrG, callNativeG, invokeG } from './calls.ts';

export type Gen<T> = Generator<unknown, T, unknown>;
export type GE = (f: Frame) => Gen<Value>;
export type GS = (f: Frame) => Gen<Value | Ctl>;

/** A compiled piece: a sync closure, or a generator closure when it can suspend. */
export type Either<T> = { g: false; s: (f: Frame) => T } | { g: true; s: (f: Frame) => Gen<T> };

export function* run<T>(x: Either<T>, f: Frame): Gen<T> {
  return x.g ? yield* x.s(f) : x.s(f);
}

/** One hoisted operand: evaluated into frame slot `slot` before the construct that reads it. */
export interface Step {
  slot: number;
  x: Either<Value>;
}

export function* runSteps(steps: readonly Step[], f: Frame): Gen<void> {
  for (const st of steps) f[st.slot] = st.x.g ? yield* st.x.s(f) : st.x.s(f);
}

/** Operands that can be evaluated later than their position without a visible difference (no side effects). */
function isPure(e: A.Expr): boolean {
  switch (e.k) {
    case 'Int':
    case 'Float':
    case 'Bool':
    case 'Char':
    case 'Str':
    case 'Unit':
    case 'Var':
    case 'This':
    case 'Closure':
      return true;
    case 'Prop':
      return isPure(e.obj);
    case 'Index':
      return isPure(e.obj) && isPure(e.index);
    default:
      return false;
  }
}

/** Compiles expressions of one function body (statements: see StmtGen in statements.ts). */
export abstract class ExprGen {
  constructor(
    readonly an: Analysis,
    readonly ctx: FnCtx,
  ) {}

  protected get checked(): boolean {
    return this.ctx.checked;
  }

  // -------------------------------------------------------------- hoisting

  /** Evaluate `e` into a new temporary slot (as a step) and return the `$Slot` expression reading it. */
  protected hoist(e: A.Expr, steps: Step[]): A.Expr {
    const slot = this.ctx.nslots++;
    steps.push({ slot, x: this.expr(e) });
    const s: SlotExpr = { k: '$Slot', pos: e.pos, slot, fresh: isFresh(e) };
    return s as unknown as A.Expr;
  }

  /** Rewrite operands evaluated in this order so that the suspending ones (and any with effects before them) are hoisted. */
  protected operands(es: readonly (A.Expr | undefined)[], steps: Step[]): (A.Expr | undefined)[] {
    let last = -1;
    for (let i = 0; i < es.length; i++) if (this.an.may(es[i])) last = i;
    return es.map((e, i) => {
      if (!e || i > last || (!this.an.may(e) && isPure(e))) return e;
      return this.rewrite(e, steps);
    });
  }

  /** `e` with its suspending parts hoisted: the construct itself when compile/ can run it over `$Slot`s, else `e` hoisted. */
  protected rewrite(e: A.Expr, steps: Step[]): A.Expr {
    if (!this.an.may(e)) return this.hoist(e, steps);
    return this.rewriteNode(e, steps) ?? this.hoist(e, steps);
  }

  protected rewriteNode(e: A.Expr, steps: Step[]): A.Expr | undefined {
    const an = this.an;
    switch (e.k) {
      case 'Interp':
        return { ...e, parts: this.operands(e.parts, steps) as A.Expr[] };
      case 'Array':
        return { ...e, items: this.operands(e.items, steps) as A.Expr[] };
      case 'Map': {
        const vs = this.operands(
          e.entries.map((x) => x.value),
          steps,
        );
        return { ...e, entries: e.entries.map((x, i) => ({ ...x, value: vs[i]! })) };
      }
      case 'Prop':
        return { ...e, obj: this.operands([e.obj], steps)[0]! };
      case 'Index': {
        const [obj, index] = this.operands([e.obj, e.index], steps);
        return { ...e, obj: obj!, index: index! };
      }
      case 'Binary': {
        const [left, right] = this.operands([e.left, e.right], steps);
        return { ...e, left: left!, right: right! };
      }
      case 'Unary':
        return { ...e, operand: this.operands([e.operand], steps)[0]! };
      case 'Logic':
        if (an.may(e.right)) return undefined;
        return { ...e, left: this.operands([e.left], steps)[0]! };
      case 'Method': {
        if (an.site(e)) return undefined;
        const [obj, ...args] = this.operands([e.obj, ...e.args], steps);
        return { ...e, obj: obj!, args: args as A.Expr[] };
      }
      case 'Call':
        if (an.site(e)) return undefined;
        return { ...e, args: this.operands(e.args, steps) as A.Expr[] };
      default:
        return undefined;
    }
  }

  /** Compile `e` (which may suspend) with its suspending operands hoisted, using compile/ for the rest. */
  protected hoisted<T>(e: A.Expr, make: (e2: A.Expr) => (f: Frame) => T): (f: Frame) => Gen<T> {
    const steps: Step[] = [];
    const e2 = this.rewrite(e, steps);
    const s = make(e2);
    return function* (f) {
      yield* runSteps(steps, f);
      return s(f);
    };
  }

  // -------------------------------------------------------------- expressions

  /** Any expression: sync closure when it cannot suspend. */
  expr(e: A.Expr): Either<Value> {
    if (!this.an.may(e)) return { g: false, s: compileExpr(this.ctx, e) };
    return { g: true, s: this.gexpr(e) };
  }

  /** An expression whose value is stored (arrays/maps read from places are copied). */
  value(e: A.Expr): Either<Value> {
    if (!this.an.may(e)) return { g: false, s: compileValue(this.ctx, e) };
    const x = this.gexpr(e);
    if (isFresh(e)) return { g: true, s: x };
    return {
      g: true,
      s: function* (f) {
        const v = yield* x(f);
        return typeof v === 'object' ? cloneValue(v) : v;
      },
    };
  }

  protected gexpr(e: A.Expr): GE {
    switch (e.k) {
      case 'Call':
        if (this.an.site(e)) return this.call(e);
        break;
      case 'Method':
        if (this.an.site(e)) return this.method(e);
        break;
      case 'Logic':
        if (this.an.may(e.right)) return this.logic(e);
        break;
      case 'Block':
      case 'If':
      case 'Switch':
      case 'While':
      case 'Loop':
      case 'Do':
      case 'For':
        return this.exprFromS(e);
    }
    const steps: Step[] = [];
    const e2 = this.rewriteNode(e, steps)!;
    const s = compileExpr(this.ctx, e2);
    return function* (f) {
      yield* runSteps(steps, f);
      return s(f);
    };
  }

  /** Block-like form in expression position: completion signals are thrown to the enclosing loop / call. */
  protected exprFromS(e: A.Expr): GE {
    this.ctx.exprBlock++;
    const s = this.exprStmt(e);
    this.ctx.exprBlock--;
    return function* (f) {
      const r = yield* s(f);
      if (r instanceof Ctl) throw r;
      return r;
    };
  }

  protected args(es: readonly A.Expr[]): (f: Frame) => Gen<Value[]> {
    const xs = es.map((a) => this.value(a));
    return function* (f) {
      const av = new Array<Value>(xs.length);
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!;
        av[i] = x.g ? yield* x.s(f) : x.s(f);
      }
      return av;
    };
  }

  protected logic(e: A.LogicExpr): GE {
    const L = this.expr(e.left);
    const Rr = this.expr(e.right);
    const op = e.op;
    const lpos = e.left.pos;
    const rpos = e.right.pos;
    const bool = (v: Value, pos: number): boolean => {
      if (typeof v !== 'boolean') throw notBool(v, pos);
      return v;
    };
    return function* (f) {
      const a = yield* run(L, f);
      if (op === '??') return a === undefined ? yield* run(Rr, f) : a;
      if (op === '&&' ? !bool(a, lpos) : bool(a, lpos)) return a;
      return bool(yield* run(Rr, f), rpos);
    };
  }

  protected call(e: A.CallExpr): GE {
    const { name, pos } = e;
    const n = e.args.length;
    const checked = this.checked;
    if (e.ns) return this.moduleCall(e);
    if (e.capture) return this.captureCall(e);
    const args = this.args(e.args);
    if (name === 'call' && n >= 1) {
      return function* (f) {
        const av = yield* args(f);
        const p = av[0];
        if (!(p instanceof FnPtr)) throw errMismatch('Fn', typeName(p)).fill(pos);
        return yield* callFnPtrG(p, av.slice(1), NO_THIS, undefined, pos);
      };
    }
    const sf = this.ctx.unit.getFn(name, n);
    if (sf) {
      return function* (f) {
        const av = yield* args(f);
        const nf = new Array(sf.nslots);
        nf[0] = NO_THIS;
        for (let i = 0; i < n; i++) nf[i + 1] = av[i];
        if (checked) tick1();
        return yield* invokeG(sf, nf, pos);
      };
    }
    const cache: CallSiteCache = { key: -1, reg: undefined, ver: -1, o: undefined };
    return function* (f) {
      const av = yield* args(f);
      const o = resolveCached(cache, name, av);
      if (!o) throw errFnNotFound(name, av, pos);
      const r = yield* callNativeG(o, name, av, pos);
      if (checked && currentRun().checkData) checkSize(r, pos);
      return r;
    };
  }

  protected moduleCall(e: A.CallExpr): GE {
    const ns = e.ns!.join('::');
    const { name, pos } = e;
    const args = this.args(e.args);
    const mref = e.ns!.length === 1 ? compileModuleRef(this.ctx, e.ns![0]!) : undefined;
    return function* (f) {
      const av = yield* args(f);
      const sm = mref ? mref(f) : undefined;
      const r = currentRun();
      if (sm) {
        const sf = moduleFn(sm, ns, name, av, pos);
        const nf = argsFrame(sf, NO_THIS, av);
        const prev = r.unit;
        r.unit = sm.unit;
        try {
          return yield* invokeG(sf, nf, pos);
        } finally {
          r.unit = prev;
        }
      }
      return yield* callNativeG(hostModuleFn(ns, name, av, pos), `${ns}::${name}`, av, pos);
    };
  }

  protected captureCall(e: A.CallExpr): GE {
    const { name, pos } = e;
    const args = this.args(e.args);
    const scope = makeDynAccessor(this.ctx);
    return function* (f) {
      const [sf, nf] = captureCallee(name, yield* args(f), pos);
      currentRun().dyn.set(nf, scope(f));
      return yield* invokeG(sf, nf, pos);
    };
  }

  /** A method call that can suspend (mirrors compile/methods.ts compileMethod's general path). */
  protected method(e: A.MethodExpr): GE {
    const ctx = this.ctx;
    const { name, pos } = e;
    const n = e.args.length;
    const objIsChain = e.obj.k === 'Prop' || e.obj.k === 'Index' || e.obj.k === 'Method';
    const hasShort = objIsChain && chainHasOptional(e.obj);
    const optional = e.optional;
    const place = isPlaceExpr(e.obj) && !hasShort && !this.an.may(e.obj) ? compilePlace(ctx, e.obj) : undefined;
    const recv: Either<Value> = place ? { g: false, s: place.get } : this.expr(e.obj);
    const args = this.args(e.args);
    const cache: CallSiteCache = { key: -1, reg: undefined, ver: -1, o: undefined };
    const constRoot = place?.constRoot;
    const checked = this.checked;
    const unit = ctx.unit;
    const sfStatic = unit.getFn(name, n);
    const typedMethods = unit.typed.get(name + '/' + n);
    const rootVar = methodRootVar(ctx, e.obj);
    const rootSharedSlot = rootVar && rootVar.shared ? rootVar.slot : -1;
    const writeBack = (f: Frame, nv: Value, fname: string): void => {
      if (!place) return;
      if (constRoot !== undefined) throw mkErr('ErrorNonPureMethodCallOnConstant', `Non-pure method '${fname}' cannot be called on constant`, pos);
      place.update(f, () => nv);
    };
    return function* (f) {
      const o = yield* run(recv, f);
      if (optional && o === undefined) return undefined;
      const av = yield* args(f);
      if (o instanceof FnPtr) {
        if (name === 'call') return yield* callFnPtrG(o, av, NO_THIS, undefined, pos);
        if (name === 'curry') return new FnPtr(o.name, [...o.curry, ...av], o.fn);
      }
      if (name === 'call' && n >= 1 && av[0] instanceof FnPtr) {
        checkDataRace(f, rootSharedSlot, av[0], pos);
        const self = { value: o };
        const r = yield* callFnPtrG(av[0], av.slice(1), o, self, pos);
        if (self.value !== o) writeBack(f, self.value, av[0].name);
        return r;
      }
      if (o instanceof Map) {
        const p = o.get(name);
        if (p instanceof FnPtr) {
          checkMethodDataRace(f, rootSharedSlot, p, pos);
          return yield* callFnPtrG(p, av, o, { value: o as Value }, pos);
        }
      }
      const cur = currentRun().unit;
      const sf = scriptMethod(typedMethods, sfStatic, unit, cur, name, n, o);
      if (sf) {
        const nf = newFrame(sf, o);
        for (let i = 0; i < n; i++) nf[i + 1] = av[i];
        if (checked) tick1();
        const r = yield* invokeG(sf, nf, pos);
        const nt = nf[0];
        if (place && (nt !== o || typeof o === 'object')) {
          if (constRoot === undefined) place.update(f, () => nt);
          else if (nt !== o) writeBack(f, nt, name);
        }
        return r;
      }
      const all = [o, ...av];
      const ov = resolveCached(cache, name, all);
      if (!ov) throw errFnNotFound(name, all, pos);
      if (!ov.pure && constRoot !== undefined) throw mkErr('ErrorNonPureMethodCallOnConstant', `Non-pure method '${name}' cannot be called on constant`, pos);
      const r = yield* callNativeG(ov, name, all, pos);
      if (!ov.pure && all[0] !== o) writeBack(f, all[0], name);
      if (checked && currentRun().checkData) {
        if (!ov.pure) checkSize(all[0], pos);
        checkSize(r, pos);
      }
      return r;
    };
  }

  /** Statement-position form of a block-like expression (implemented by the statement compiler). */
  protected abstract exprStmt(e: A.Expr): GS;
}
