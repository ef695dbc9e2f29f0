/**
 * The resumable variant of the closure compiler, for `Engine.runAsync` / `callFnAsync`: a script may call async
 * host functions (registered with `{ async: true }`, e.g. `http::fetch`) and is suspended while the host's promise
 * is pending, holding no thread (architecture.md §7 "Suspending at host calls").
 *
 * Design. Statically (analysis below) we find the functions — named functions, closures, the main body, module
 * functions — from which an async host function is reachable. Only those get a second body, `ScriptFn.gen`, made of
 * generator closures that `yield` the host's promise; the driver (`drive`) awaits it and resumes the generator with
 * the value, or throws the rejection into it at the call site. Everything else — and inside a resumable function
 * every statement or sub-expression that cannot suspend — is compiled by compile.ts exactly as before, so scripts
 * that never reach an async function run the unchanged fast closures (runAsync then takes the sync path).
 *
 * Inside a resumable function only the constructs on a path to a suspension point are generators: statement lists,
 * blocks, if/switch/loops/try, `&&`/`||`/`??` with a suspending right side, and the calls that can suspend (script
 * functions with a resumable body, async natives, `call`/`.call`/map-property closures, script-module functions,
 * `f!()`, and the array callbacks map/filter/for_each/some/all/find/reduce). Every other construct whose operands
 * suspend is compiled by *hoisting*: its operands are evaluated first, in source order, into temporary frame slots
 * (generators for the suspending ones), and the construct itself is compiled by compile.ts over `$Slot` reads of
 * those temporaries; so operators, literals, property/index chains, native calls, assignments and `let` need no
 * second implementation. Side-effect-free operands (variables, literals, paths) are left in place, which keeps
 * l-value semantics (`x.push(http::fetch(u))` still mutates `x`).
 *
 * The run state compile.ts keeps in module-level variables (current run, operation counter, …) is saved when a
 * run suspends and restored when it resumes (enterRun/leaveRun), so several runs can be suspended at once on one
 * engine. Operation and call-depth limits count across suspensions; onProgress (the embedder's wall-clock check)
 * runs after every resume; the run's AbortSignal terminates a run while it waits.
 *
 * Not resumable (fails loudly with "… is asynchronous and cannot be called here"): an async call inside `eval`'d
 * code, inside a module's top level, inside a switch guard, or inside a native callback other than the array
 * callbacks above (sort comparators, map/string callbacks, …).
 */
import type * as A from './ast.ts';
import {
  FnCtx,
  ScriptFn,
  Unit,
  analyse,
  buildSwitch,
  callFnPtr,
  callNative,
  caughtError,
  catchValue,
  checkDataRace,
  checkMethodDataRace,
  methodRootVar,
  chainHasOptional,
  checkSize,
  compileBlockS,
  compileBool,
  compileStmtAsValue,
  compileExpr,
  compileLet,
  compileAssign,
  compileModuleRef,
  compilePlace,
  compileStmt,
  compileUnit,
  compileValue,
  currentRun,
  dynOf,
  enterDynamic,
  enterRun,
  errFnNotFound,
  exprWeight,
  fill,
  getCtl,
  compileImportBinding,
  invoke,
  isFresh,
  isPlaceExpr,
  leaveRun,
  makeDynAccessor,
  mkErr,
  newFrame,
  pickCase,
  progressAfterResume,
  resolveCached,
  resolvePtr,
  setCtl,
  settleThrown,
  throwValue,
  tick,
  tick1,
  tickN,
  wrapFnError,
  forBind,
  forScope,
  forSource,
  type CallSiteCache,
  type GenCompiler,
  type RunState,
  type SlotExpr,
  type UnitOptions,
} from './compile.ts';
import { BREAK, CONTINUE, Ctl, NO_THIS, RETURN, type Frame } from './runtime/state.ts';
import { FnPtr, cloneValue, typeName, type Value } from './runtime/value.ts';
import { errMismatch } from './runtime/errors.ts';
import type { Overload } from './runtime/registry.ts';
import { truthy, wrapCallbackError } from './stdlib/util.ts';

type Gen<T> = Generator<unknown, T, unknown>;
type S = (f: Frame) => Value | Ctl;
type GE = (f: Frame) => Gen<Value>;
type GS = (f: Frame) => Gen<Value | Ctl>;

/** What the analysis needs to know about the engine's host functions. */
export interface AsyncInfo {
  /** identifies the set of async functions (part of cache keys) */
  readonly key: string;
  /** is `ns::name` (ns undefined: a global function) registered as async? */
  isAsync(ns: string | undefined, name: string): boolean;
  /** is `ns` a host module (registerModule), as opposed to a script module alias? */
  isHostModule(ns: string): boolean;
  /** is there a native function of this name (so a method call of it is not a closure stored in a map)? */
  isNative(name: string): boolean;
}

/**
 * For tests only: treat every script-function, method, `call` and module call as one that can suspend, so that the
 * resumable variant of every construct runs (the conformance corpus is run this way against the sync results, see
 * test/conformance/conformance.test.ts). Native function calls stay sync (only async ones suspend for real).
 */
export const testing = { everyCall: false };

/** Array methods whose script callbacks may suspend (generator versions below). */
const HOF = new Set(['map', 'filter', 'for_each', 'some', 'all', 'find', 'reduce']);

// ============================================================== analysis: what can suspend

/** Visit every AST node under `n`; without `intoClosures`, a closure's body is not entered (it is a function of its own). */
function walk(n: unknown, visit: (n: { k: string }) => void, intoClosures = false): void {
  if (n === null || typeof n !== 'object') return;
  if (Array.isArray(n)) {
    for (const x of n) walk(x, visit, intoClosures);
    return;
  }
  const o = n as Record<string, unknown>;
  if (typeof o['k'] === 'string') {
    visit(o as { k: string });
    if (o['k'] === 'Closure' && !intoClosures) return;
  }
  for (const key in o) {
    const v = o[key];
    if (v !== null && typeof v === 'object') walk(v, visit, intoClosures);
  }
}

/**
 * Which function bodies and which AST nodes can suspend. A body suspends when it contains a call that can:
 * an async host function (by name / namespace), a script function whose body suspends, or — once anything in the
 * program suspends (or it imports modules) — a dynamic call that could reach such a function.
 */
export class Analysis {
  /** bodies (keyed by their first statement, see bodyKey) that suspend */
  private readonly suspending = new Set<object>();
  /** name/arity of named functions that suspend, and their names (method-style calls) */
  private readonly fnKeys = new Set<string>();
  private readonly fnNames = new Set<string>();
  private dyn = false;
  private readonly memo = new WeakMap<object, boolean>();
  private readonly defs: Map<string, A.FnDef>;
  readonly any: boolean;

  constructor(
    prog: A.Program,
    private readonly info: AsyncInfo,
  ) {
    this.defs = new Map(prog.functions.filter((d) => d.thisType === undefined).map((d) => [d.name + '/' + d.params.length, d]));
    const bodies: { key: object; nodes: unknown; def?: A.FnDef }[] = [{ key: bodyKey(prog.statements), nodes: prog.statements }];
    let imports = false;
    const collect = (n: { k: string }): void => {
      if (n.k === 'Closure') bodies.push({ key: (n as A.ClosureExpr).body, nodes: (n as A.ClosureExpr).body });
      if (n.k === 'Import') imports = true;
    };
    for (const d of prog.functions) bodies.push({ key: bodyKey(d.body.body), nodes: d.body.body, def: d });
    walk(prog, collect, true);
    this.dyn = imports;
    for (let changed = true; changed; ) {
      changed = false;
      for (const b of bodies) {
        if (this.suspending.has(b.key)) continue;
        let hit = false;
        walk(b.nodes, (n) => {
          if (!hit && this.site(n)) hit = true;
        });
        if (hit) {
          this.suspending.add(b.key);
          if (b.def) {
            this.fnKeys.add(b.def.name + '/' + b.def.params.length);
            this.fnNames.add(b.def.name);
          }
          this.dyn = true;
          changed = true;
        }
      }
    }
    this.any = this.suspending.size > 0;
  }

  /** Does this function body (as given to compileFnBody) suspend? */
  body(body: readonly A.Stmt[]): boolean {
    return this.suspending.has(bodyKey(body));
  }

  /** Can evaluating this node (outside nested closure bodies) suspend? */
  may(n: A.Expr | A.Stmt | readonly A.Stmt[] | undefined): boolean {
    if (!n || !this.any) return false;
    const m = this.memo.get(n);
    if (m !== undefined) return m;
    let hit = false;
    walk(n, (x) => {
      if (!hit && this.site(x)) hit = true;
    });
    this.memo.set(n, hit);
    return hit;
  }

  /** Can this call itself (not its arguments) suspend? */
  site(n: { k: string }): boolean {
    if (testing.everyCall && n.k === 'Method' && (n as A.MethodExpr).name !== 'is_shared') return true;
    if (n.k === 'Call') {
      const c = n as A.CallExpr;
      const nargs = c.args.length;
      if (testing.everyCall && (c.ns || c.capture || (c.name === 'call' && nargs >= 1) || this.defs.has(c.name + '/' + nargs))) return true;
      if (c.ns) {
        const ns = c.ns.join('::');
        return this.info.isHostModule(ns) ? this.info.isAsync(ns, c.name) : true;
      }
      if (c.capture) return this.dyn;
      if (c.name === 'call' && nargs >= 1) return this.dyn;
      if (this.defs.has(c.name + '/' + nargs)) return this.fnKeys.has(c.name + '/' + nargs);
      if (this.info.isAsync(undefined, c.name)) return true;
      return HOF.has(c.name) && nargs >= 2 && this.dyn;
    }
    if (n.k === 'Method') {
      const m = n as A.MethodExpr;
      if (this.fnNames.has(m.name) || this.info.isAsync(undefined, m.name)) return true;
      if (m.name === 'call' || HOF.has(m.name)) return this.dyn;
      return this.dyn && !this.info.isNative(m.name);
    }
    return false;
  }
}

/** A function body's identity: its statement array, or for a closure (compiled as `[body]`) its one statement. */
function bodyKey(body: readonly A.Stmt[]): object {
  return body.length === 1 ? body[0]! : body;
}

// ============================================================== unit compilation

/** The GenCompiler of one program (one analysis). */
class Resumable implements GenCompiler {
  constructor(
    readonly an: Analysis,
    readonly info: AsyncInfo,
  ) {}
  get key(): string {
    return this.info.key;
  }
  fnBody(unit: Unit, sf: ScriptFn, params: readonly A.Param[], body: A.Stmt[], isTop: boolean, extraShared: readonly string[] | undefined, forceDynamic: boolean): void {
    if (!this.an.body(body)) return;
    compileGenBody(this.an, unit, sf, params, body, isTop, extraShared, forceDynamic);
  }
  moduleUnit(prog: A.Program, checked: boolean, options: UnitOptions): Unit {
    const an = new Analysis(prog, this.info);
    return compileUnit(prog, checked, options, true, an.any ? new Resumable(an, this.info) : undefined);
  }
}

/**
 * Compile a program for runAsync: the sync closures of every function plus resumable bodies (`ScriptFn.gen`) where
 * an async function is reachable; undefined when none is (runAsync then uses the program's sync unit).
 */
export function compileResumable(prog: A.Program, checked: boolean, options: UnitOptions, info: AsyncInfo): Unit | undefined {
  const an = new Analysis(prog, info);
  return an.any ? compileUnit(prog, checked, options, false, new Resumable(an, info)) : undefined;
}

function compileGenBody(
  an: Analysis,
  unit: Unit,
  sf: ScriptFn,
  params: readonly A.Param[],
  body: A.Stmt[],
  isTop: boolean,
  extraShared: readonly string[] | undefined,
  forceDynamic: boolean,
): void {
  const a = analyse(body);
  if (extraShared) for (const n of extraShared) a.shared.add(n);
  const ctx = new FnCtx(unit, isTop, a.shared, a.dynamic || forceDynamic);
  for (const p of params) ctx.declare(p.name, false);
  const g = new G(an, ctx);
  ctx.push();
  const s = g.stmts(body, isTop);
  ctx.pop();
  sf.nslots = Math.max(sf.nslots, ctx.nslots);
  const last = body[body.length - 1];
  const cloneLast = !isTop && !!last && last.k === 'Expr' && !isFresh(last.expr);
  const np = params.length;
  const checkVars = unit.checked && np > 0;
  const dynamic = ctx.dynamic;
  const names = params.map((p) => p.name);
  sf.gen = function* (f) {
    if (checkVars) {
      const mv = currentRun().limits.maxVariables;
      if (mv > 0 && np > mv) throw mkErr('ErrorTooManyVariables', 'Too many variables defined', sf.pos);
    }
    if (dynamic) enterDynamic(f, names);
    const r = yield* s(f);
    return cloneLast && typeof r === 'object' && !(r instanceof Ctl) ? cloneValue(r) : r;
  };
}

// ============================================================== runtime helpers

/** Await an async host function: yield its promise to the driver; a rejection is thrown here, at the call. */
function* awaitHost(o: Overload, name: string, args: Value[], pos: number): Gen<Value> {
  const r = currentRun();
  const prev = r.fnName;
  r.fnName = name;
  let p: Promise<Value>;
  try {
    p = o.asyncFn!(r, args);
  } catch (e) {
    throw fill(e, pos);
  } finally {
    r.fnName = prev;
  }
  r.waitPos = pos;
  let v: Value;
  try {
    v = (yield p) as Value;
  } catch (e) {
    throw fill(e, pos);
  } finally {
    r.waitPos = -1;
  }
  progressAfterResume(pos);
  return v;
}

/** Call a resolved native overload: async ones suspend, the array callbacks may suspend, the rest is sync. */
function* callNativeG(o: Overload, name: string, args: Value[], pos: number): Gen<Value> {
  if (o.asyncFn) return yield* awaitHost(o, name, args, pos);
  if (HOF.has(name) && Array.isArray(args[0]) && args[1] instanceof FnPtr) {
    const sf = resolvePtr(args[1], -1);
    if (sf && sf.gen) return yield* hofG(name, args, sf, pos);
  }
  return callNative(o, name, args, pos);
}

/** Invoke a script function (resumable body when it has one). Mirrors compile.ts `invoke`. */
function* invokeG(sf: ScriptFn, frame: Frame, pos: number): Gen<Value> {
  if (!sf.gen) return invoke(sf, frame, pos);
  const r = currentRun();
  if (++r.depth > r.maxDepth) {
    r.depth--;
    throw mkErr('ErrorStackOverflow', 'Stack overflow', pos);
  }
  try {
    const v = yield* sf.gen(frame);
    if (v instanceof Ctl) return v === RETURN ? getCtl() : undefined;
    return v;
  } catch (e) {
    if (e === RETURN) return getCtl();
    throw wrapFnError(e, sf, pos);
  } finally {
    r.depth--;
  }
}

/** Call a function pointer (mirrors compile.ts `callFnPtr`, resumable when the target is). */
function* callFnPtrG(p: FnPtr, args: Value[], thisVal: Value | typeof NO_THIS, self: { value: Value } | undefined, pos: number): Gen<Value> {
  const all = p.curry.length ? [...p.curry, ...args] : args;
  const r = currentRun();
  const sf = p.fn instanceof ScriptFn ? p.fn : r.unit.getFn(p.name, all.length);
  if (sf && sf.gen) {
    if (sf.params.length !== all.length) throw errFnNotFound(p.name, all, pos);
    const f = newFrame(sf, thisVal);
    for (let i = 0; i < all.length; i++) f[i + 1] = all[i];
    const v = yield* invokeG(sf, f, pos);
    if (self) self.value = f[0];
    return v;
  }
  if (!sf) {
    const callArgs = thisVal !== NO_THIS ? [thisVal as Value, ...all] : all;
    const o = r.env.registry.resolve(p.name, callArgs);
    if (o && o.asyncFn) {
      const v = yield* awaitHost(o, p.name, callArgs, pos);
      if (self && thisVal !== NO_THIS) self.value = callArgs[0];
      return v;
    }
  }
  return callFnPtr(p, args, thisVal, self, pos);
}

/** Generator versions of the array callbacks (same calling convention as stdlib/util.ts callItem / callExtra). */
function* hofG(name: string, args: Value[], sf: ScriptFn, pos: number): Gen<Value> {
  const arr = args[0] as Value[];
  const fn = args[1] as FnPtr;
  const c = fn.curry.length;
  const arity = sf.params.length;
  const item = function* (i: number, moveThis: boolean): Gen<Value> {
    const x = arr[i];
    if (arity === c || (!moveThis && arity === c + 1)) {
      const self = { value: x };
      const v = yield* callFnPtrG(fn, arity === c ? [] : [i], x, self, pos);
      arr[i] = self.value;
      return v;
    }
    const cx = typeof x === 'object' ? cloneValue(x) : x;
    return yield* callFnPtrG(fn, arity === c + 2 ? [cx, i] : [cx], NO_THIS, undefined, pos);
  };
  try {
    switch (name) {
      case 'map': {
        const out = new Array<Value>(arr.length);
        for (let i = 0; i < arr.length; i++) out[i] = yield* item(i, true);
        return out;
      }
      case 'filter': {
        const out: Value[] = [];
        for (let i = 0; i < arr.length; i++) if (truthy(yield* item(i, true))) out.push(cloneValue(arr[i]));
        return out;
      }
      case 'for_each':
        for (let i = 0; i < arr.length; i++) yield* item(i, false);
        return undefined;
      case 'some':
        for (let i = 0; i < arr.length; i++) if (truthy(yield* item(i, true))) return true;
        return false;
      case 'all':
        for (let i = 0; i < arr.length; i++) if (!truthy(yield* item(i, true))) return false;
        return true;
      case 'find': {
        let s = args.length > 2 ? Number(args[2]) : 0;
        if (s < 0) s = Math.max(0, arr.length + s);
        for (let i = s; i < arr.length; i++) if (truthy(yield* item(i, true))) return cloneValue(arr[i]);
        return undefined;
      }
      default: {
        // reduce(f) / reduce(f, init): f(acc, item) or f(acc, item, index)
        let acc = args.length > 2 ? args[2] : undefined;
        for (let i = 0; i < arr.length; i++) {
          const two = [acc, typeof arr[i] === 'object' ? cloneValue(arr[i]) : arr[i]];
          acc = yield* callFnPtrG(fn, arity === c + 3 ? [...two, i] : two, NO_THIS, undefined, pos);
        }
        return acc;
      }
    }
  } catch (e) {
    throw fill(wrapCallbackError(name, e, fn), pos);
  }
}

// ============================================================== driver

/**
 * Run a resumable computation to its end: resume it with each awaited value (or throw the rejection into it),
 * with its run state swapped in while it runs. Settles with the script's value or a RhaiError.
 */
export function drive(st: RunState, g: Gen<Value>, signal: AbortSignal | undefined): Promise<Value> {
  return new Promise<Value>((resolve, reject) => {
    let done = false;
    const onAbort = (): void => {
      if (done) return;
      done = true;
      const pos = st.r.waitPos;
      reject(mkErr('ErrorTerminated', 'Script terminated', pos >= 0 ? pos : undefined));
    };
    const end = (): void => {
      done = true;
      signal?.removeEventListener('abort', onAbort);
    };
    const step = (isErr: boolean, input: unknown): void => {
      if (done) return;
      const prev = enterRun(st);
      let res: IteratorResult<unknown, Value>;
      try {
        res = isErr ? g.throw(input) : g.next(input);
      } catch (e) {
        let v: Value;
        try {
          v = settleThrown(e);
        } catch (err) {
          leaveRun(st, prev);
          end();
          reject(err);
          return;
        }
        leaveRun(st, prev);
        end();
        resolve(v);
        return;
      }
      leaveRun(st, prev);
      if (res.done) {
        end();
        resolve(res.value);
        return;
      }
      Promise.resolve(res.value).then(
        (v) => step(false, v),
        (e: unknown) => step(true, e),
      );
    };
    if (signal) {
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
    }
    step(false, undefined);
  });
}

/** The main body (resumable or not) as a generator: its value, or the value of `return`. */
export function* runMainG(unit: Unit): Gen<Value> {
  const f = newFrame(unit.main, NO_THIS);
  const v = unit.main.gen ? yield* unit.main.gen(f) : unit.main.body(f);
  if (v instanceof Ctl) return v === RETURN ? getCtl() : undefined;
  return v;
}

/** callFn's body: optionally the main body, then the named function. */
export function* callFnG(unit: Unit, name: string, args: Value[], runMain: boolean): Gen<Value> {
  if (runMain) yield* runMainG(unit);
  const sf = unit.getFn(name, args.length);
  if (!sf) throw errFnNotFound(name, args, -1);
  const nf = newFrame(sf, NO_THIS);
  for (let i = 0; i < args.length; i++) nf[i + 1] = cloneValue(args[i]);
  return yield* invokeG(sf, nf, -1);
}

// ============================================================== the generator compiler

/** A compiled piece: a sync closure, or a generator closure when it can suspend. */
type Either<T> = { g: false; s: (f: Frame) => T } | { g: true; s: (f: Frame) => Gen<T> };

function* run<T>(x: Either<T>, f: Frame): Gen<T> {
  return x.g ? yield* x.s(f) : x.s(f);
}

/** One hoisted operand: evaluated into frame slot `slot` before the construct that reads it. */
interface Step {
  slot: number;
  x: Either<Value>;
}

function* runSteps(steps: readonly Step[], f: Frame): Gen<void> {
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

class G {
  constructor(
    readonly an: Analysis,
    readonly ctx: FnCtx,
  ) {}

  private get checked(): boolean {
    return this.ctx.checked;
  }

  // -------------------------------------------------------------- hoisting

  /** Evaluate `e` into a new temporary slot (as a step) and return the `$Slot` expression reading it. */
  private hoist(e: A.Expr, steps: Step[]): A.Expr {
    const slot = this.ctx.nslots++;
    steps.push({ slot, x: this.expr(e) });
    const s: SlotExpr = { k: '$Slot', pos: e.pos, slot, fresh: isFresh(e) };
    return s as unknown as A.Expr;
  }

  /** Rewrite operands evaluated in this order so that the suspending ones (and any with effects before them) are hoisted. */
  private operands(es: readonly (A.Expr | undefined)[], steps: Step[]): (A.Expr | undefined)[] {
    let last = -1;
    for (let i = 0; i < es.length; i++) if (this.an.may(es[i])) last = i;
    return es.map((e, i) => {
      if (!e || i > last || (!this.an.may(e) && isPure(e))) return e;
      return this.rewrite(e, steps);
    });
  }

  /** `e` with its suspending parts hoisted: the construct itself when compile.ts can run it over `$Slot`s, else `e` hoisted. */
  private rewrite(e: A.Expr, steps: Step[]): A.Expr {
    if (!this.an.may(e)) return this.hoist(e, steps);
    return this.rewriteNode(e, steps) ?? this.hoist(e, steps);
  }

  private rewriteNode(e: A.Expr, steps: Step[]): A.Expr | undefined {
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

  /** Compile `e` (which may suspend) with its suspending operands hoisted, using compile.ts for the rest. */
  private hoisted<T>(e: A.Expr, make: (e2: A.Expr) => (f: Frame) => T): (f: Frame) => Gen<T> {
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

  private gexpr(e: A.Expr): GE {
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
  private exprFromS(e: A.Expr): GE {
    this.ctx.exprBlock++;
    const s = this.exprStmt(e);
    this.ctx.exprBlock--;
    return function* (f) {
      const r = yield* s(f);
      if (r instanceof Ctl) throw r;
      return r;
    };
  }

  private args(es: readonly A.Expr[]): (f: Frame) => Gen<Value[]> {
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

  private logic(e: A.LogicExpr): GE {
    const L = this.expr(e.left);
    const Rr = this.expr(e.right);
    const op = e.op;
    const lpos = e.left.pos;
    const rpos = e.right.pos;
    const bool = (v: Value, pos: number): boolean => {
      if (typeof v !== 'boolean') throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting bool)`, pos);
      return v;
    };
    return function* (f) {
      const a = yield* run(L, f);
      if (op === '??') return a === undefined ? yield* run(Rr, f) : a;
      if (op === '&&' ? !bool(a, lpos) : bool(a, lpos)) return a;
      return bool(yield* run(Rr, f), rpos);
    };
  }

  private call(e: A.CallExpr): GE {
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

  private moduleCall(e: A.CallExpr): GE {
    const ns = e.ns!.join('::');
    const { name, pos } = e;
    const args = this.args(e.args);
    const mref = e.ns!.length === 1 ? compileModuleRef(this.ctx, e.ns![0]!) : undefined;
    return function* (f) {
      const av = yield* args(f);
      const sm = mref ? mref(f) : undefined;
      const r = currentRun();
      if (sm) {
        const sf = sm.unit.getFn(name, av.length);
        if (!sf || sf.isPrivate) throw errFnNotFound(`${ns}::${name}`, av, pos);
        const nf = newFrame(sf, NO_THIS);
        for (let i = 0; i < av.length; i++) nf[i + 1] = av[i];
        const prev = r.unit;
        r.unit = sm.unit;
        try {
          return yield* invokeG(sf, nf, pos);
        } finally {
          r.unit = prev;
        }
      }
      const mod = r.env.modules.get(ns);
      if (!mod) throw mkErr('ErrorModuleNotFound', `Module not found: ${ns}`, pos);
      const o = mod.resolve(name, av);
      if (!o) throw errFnNotFound(`${ns}::${name}`, av, pos);
      return yield* callNativeG(o, `${ns}::${name}`, av, pos);
    };
  }

  private captureCall(e: A.CallExpr): GE {
    const { name, pos } = e;
    const args = this.args(e.args);
    const scope = makeDynAccessor(this.ctx);
    return function* (f) {
      let av = yield* args(f);
      let fname = name;
      if (name === 'call' && av[0] instanceof FnPtr) {
        const p = av[0];
        av = [...p.curry, ...av.slice(1)];
        fname = p.name;
      }
      const r = currentRun();
      const sf = r.unit.getFn(fname, av.length);
      if (!sf) throw errFnNotFound(fname, av, pos);
      const nf = newFrame(sf, NO_THIS);
      for (let i = 0; i < av.length; i++) nf[i + 1] = av[i];
      r.dyn.set(nf, scope(f));
      return yield* invokeG(sf, nf, pos);
    };
  }

  /** A method call that can suspend (mirrors compile.ts compileMethod's general path). */
  private method(e: A.MethodExpr): GE {
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
      const sf = (typedMethods && typedMethods.get(typeName(o))) || (sfStatic ?? (cur !== unit ? cur.getFn(name, n) : undefined));
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

  /** Count the statement's operations (as compile.ts withTick does), then run it. */
  private ticked(s: GS, pos: number, weight: number): GS {
    if (!this.checked) return s;
    return function* (f) {
      tick(weight, pos);
      return yield* s(f);
    };
  }

  private stmt(st: A.Stmt, topLevel: boolean): GS {
    const ctx = this.ctx;
    const w = (e: A.Expr | undefined): number => (e ? exprWeight(e) : 0);
    switch (st.k) {
      case 'Expr':
        return this.ticked(this.exprStmt(st.expr), st.pos, 1 + w(st.expr));
      case 'Let': {
        const s = this.hoisted(st.value!, (value) => compileLet(ctx, { ...st, value }, topLevel));
        return this.ticked(s, st.pos, 1 + w(st.value));
      }
      case 'Assign': {
        const steps: Step[] = [];
        const [value] = this.operands([st.value], steps);
        const s = compileAssign(ctx, { ...st, value: value! });
        return this.ticked(function* (f) {
          yield* runSteps(steps, f);
          return s(f);
        }, st.pos, 1 + w(st.target) + w(st.value));
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
  private exprStmt(e: A.Expr): GS {
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

  private block(b: A.BlockExpr): GS {
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
  private blockE(b: A.BlockExpr): Either<Value | Ctl> {
    if (!this.an.may(b)) return { g: false, s: compileBlockS(this.ctx, b) };
    return { g: true, s: this.block(b) };
  }

  private cond(e: A.Expr): Either<boolean> {
    if (!this.an.may(e)) return { g: false, s: compileBool(this.ctx, e) };
    return { g: true, s: this.hoisted(e, (e2) => compileBool(this.ctx, e2)) };
  }

  private ifS(e: A.IfExpr): GS {
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

  private switchS(e: A.SwitchExpr): GS {
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

  private loopBody(body: A.BlockExpr): Either<Value | Ctl> {
    const ctx = this.ctx;
    const saved = ctx.exprBlock;
    ctx.exprBlock = 0;
    ctx.loops.push({ exprCtl: false });
    const s = this.blockE(body);
    ctx.loops.pop();
    ctx.exprBlock = saved;
    return s;
  }

  private whileS(e: A.WhileExpr | A.LoopExpr | A.DoExpr): GS {
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

  private forS(e: A.ForExpr): GS {
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

  private tryStmt(st: A.TryStmt): GS {
    const ctx = this.ctx;
    const body = this.blockE(st.body);
    ctx.push();
    const cv = st.catchVar ? ctx.declare(st.catchVar, false) : undefined;
    const caught = ctx.declare('\0caught', false);
    const cbody = this.blockE(st.catchBody);
    ctx.pop();
    const unit = ctx.unit;
    const dyn = ctx.dynamic;
    const cvName = st.catchVar;
    return function* (f) {
      const depth = currentRun().depth;
      let thrown: unknown;
      try {
        const r = yield* run(body, f);
        return r instanceof Ctl ? r : undefined;
      } catch (e) {
        thrown = e;
      }
      const inner = caughtError(thrown, depth);
      if (cv) f[cv.slot] = catchValue(inner, unit);
      f[caught.slot] = inner;
      let r: Value | Ctl;
      if (dyn) {
        const d = dynOf(f);
        const m = d.mark();
        if (cvName !== undefined) d.define(cvName, catchValue(inner, unit));
        try {
          r = yield* run(cbody, f);
        } finally {
          d.reset(m);
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


