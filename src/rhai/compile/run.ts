/**
 * The run state of the closure compiler and its entry points.
 *
 * The state of the current run (the `Run`, the operation counter and its next checkpoint, the value carried by a
 * break/return signal, the statement being executed) lives in module-level variables of this file, for speed:
 * compiled closures in other files reach the counter through `withTick` / `tick*` and the signal value through
 * `getCtl` / `setCtl`, which V8 inlines. `invoke` (the call protocol) lives here because it reads that value.
 * The resumable variant swaps this state in and out around each suspension (`enterRun` / `leaveRun`).
 */
import type * as A from '../ast.ts';
import { RhaiError } from '../runtime/errors.ts';
import type { Limits } from '../runtime/limits.ts';
import type { NativeCallContext } from '../runtime/native.ts';
import { Ctl, type DynScope, type EngineEnv, type Frame, type ModuleSource, NO_THIS, RETURN, type RunHooks } from '../runtime/state.ts';
import { cloneValue, FnPtr, type Value } from '../runtime/value.ts';
import { errFnNotFound, ExitSignal, mkErr, toRhaiError } from './errors.ts';
import { callFnPtr, newFrame, resolvePtr, ScriptFn, Unit, wrapFnError } from './functions.ts';
import { ModuleValue } from './modules.ts';
import { FnCtx } from './scope.ts';

export type E = (f: Frame) => Value;
export type S = (f: Frame) => Value | Ctl;

export let R: Run = undefined as unknown as Run;
let ops = 0;
let opsNext = Infinity;
let ctlVal: Value = undefined;
/** source offset of the statement being executed (checked mode only), for limit errors */
let curPos = -1;

/** What one run needs besides the compiled unit: the engine, the source, the host scope, `eval`'s parser, hooks. */
export interface RunOptions {
  env: EngineEnv;
  /** script source, for line/position in catch values and debug() */
  source: string;
  hostScope?: Map<string, Value>;
  /** parse function for `eval` */
  parse?: EvalParser;
  /** per-run hooks (print/debug/progress, data, signal, module resolver): override the engine's */
  hooks?: RunHooks;
}

export type EvalParser = (
  source: string,
) => { ok: true; program: A.Program } | { ok: false; error: RhaiError };

const DYN_SCOPES = new WeakMap<Frame, DynScope>();

export class Run implements NativeCallContext {
  depth = 0;
  readonly globals = new Map<string, Value>();
  /** name-based scopes of frames (shared by all runs: frames are unique, entries die with them) */
  readonly dyn = DYN_SCOPES;
  private mods: Map<string, ModuleValue> | undefined;
  get modules(): Map<string, ModuleValue> {
    return (this.mods ??= new Map());
  }
  private topImports: Map<Unit, Map<string, ModuleValue>> | undefined;
  /** aliases imported at the top level of each unit (script or module) in this run */
  get imports(): Map<Unit, Map<string, ModuleValue>> {
    return (this.topImports ??= new Map());
  }
  readonly maxDepth: number;
  readonly maxOps: number;
  readonly checkData: boolean;
  readonly limits: Limits;
  fnName = '';
  readonly onPrint: ((s: string) => void) | undefined;
  readonly onDebug: ((s: string, pos: { line: number; position: number } | undefined) => void) | undefined;
  readonly onProgress: ((ops: number) => boolean) | undefined;
  readonly onEnd: ((ops: number) => void) | undefined;
  readonly resolveModule: ((path: string) => ModuleSource | undefined) | undefined;
  readonly data: unknown;
  readonly signal: AbortSignal | undefined;
  /** source offset of the async host call this run is waiting for (-1: none) */
  waitPos = -1;
  constructor(
    readonly source: string,
    readonly env: EngineEnv,
    public unit: Unit,
    readonly hostScope: Map<string, Value> | undefined,
    readonly parse: EvalParser | undefined,
    hooks: RunHooks | undefined,
  ) {
    this.limits = env.limits;
    this.maxDepth = env.limits.maxCallLevels;
    this.maxOps = env.limits.maxOperations;
    this.checkData = env.limits.maxStringSize > 0 || env.limits.maxArraySize > 0 || env.limits.maxMapSize > 0;
    this.onPrint = hooks?.onPrint ?? env.onPrint;
    this.onDebug = hooks?.onDebug ?? env.onDebug;
    this.onProgress = hooks?.onProgress ?? env.onProgress;
    this.onEnd = hooks?.onEnd ?? env.onEnd;
    this.resolveModule = hooks?.resolveModule ?? env.resolveModule;
    this.data = hooks?.data;
    this.signal = hooks?.signal;
  }
  /** source offset of the native call in progress: callbacks it makes are positioned there (Rhai `call_position`) */
  callPos = -1;
  callFn(fn: FnPtr, args: Value[]): Value {
    return callFnPtr(fn, args, NO_THIS, undefined, this.callPos);
  }
  callFnWithThis(fn: FnPtr, self: { value: Value }, args: Value[]): Value {
    return callFnPtr(fn, args, self.value, self, this.callPos);
  }
  fnArity(fn: FnPtr): number | undefined {
    const sf = resolvePtr(fn, -1);
    return sf ? sf.params.length : undefined;
  }
  hasFn(name: string, arity: number): boolean {
    return this.unit.hasScriptFn(name, arity) || this.env.registry.hasArity(name, arity);
  }
}

export function opsSlow(): void {
  const r = R;
  if (r.maxOps > 0 && ops > r.maxOps) throw mkErr('ErrorTooManyOperations', 'Too many operations', curPos >= 0 ? curPos : undefined);
  if (r.onProgress) {
    let stop = false;
    try {
      stop = r.onProgress(ops) === true;
    } catch {
      stop = true;
    }
    if (stop) throw mkErr('ErrorTerminated', 'Script terminated', curPos >= 0 ? curPos : undefined);
  }
  setOpsNext();
}
function setOpsNext(): void {
  const lim = R.maxOps > 0 ? R.maxOps + 1 : Infinity;
  const prog = R.onProgress ? ops + 1024 - (ops % 1024) : Infinity;
  opsNext = Math.min(lim, prog);
}

/**
 * Operation counting (checked variant): each statement adds 1 plus the number of expression nodes it evaluates
 * (Rhai's `track_operation` per statement and per expression node), counted statically so that expressions need
 * no per-node wrapper. Nested blocks count their own statements; loops add 1 (+ condition) per iteration.
 */
export function withTick(ctx: FnCtx, s: S, pos: number, weight = 1): S {
  if (!ctx.checked) return s;
  return (f) => {
    curPos = pos;
    if ((ops += weight) >= opsNext) opsSlow();
    return s(f);
  };
}

/** Count `weight` operations for the statement at `pos` (checked variant). */
export function tick(weight: number, pos: number): void {
  curPos = pos;
  if ((ops += weight) >= opsNext) opsSlow();
}

/** Count `n` operations (a loop iteration with its condition, checked variant). */
export function tickN(n: number): void {
  if ((ops += n) >= opsNext) opsSlow();
}

/** Count one operation (a call or a loop iteration, checked variant). */
export function tick1(): void {
  if (++ops >= opsNext) opsSlow();
}

export function getCtl(): Value {
  return ctlVal;
}
export function setCtl(v: Value): void {
  ctlVal = v;
}

export function invoke(fn: ScriptFn, frame: Frame, pos: number): Value {
  const r = R;
  if (++r.depth > r.maxDepth) {
    r.depth--;
    throw mkErr('ErrorStackOverflow', 'Stack overflow', pos);
  }
  try {
    const v = fn.body(frame);
    if (v instanceof Ctl) return v === RETURN ? ctlVal : undefined;
    return v;
  } catch (e) {
    if (e === RETURN) return ctlVal;
    throw wrapFnError(e, fn, pos);
  } finally {
    r.depth--;
  }
}

export interface RunResult {
  value: Value;
}

/** Run a unit's main body. */
export function runUnit(unit: Unit, opts: RunOptions): Value {
  return withRun(unit, opts, () => {
    const f = newFrame(unit.main, NO_THIS);
    const v = unit.main.body(f);
    if (v instanceof Ctl) return v === RETURN ? ctlVal : undefined;
    return v;
  });
}

/** Call a named script function of the unit (after optionally running the main body). */
export function callUnitFn(unit: Unit, opts: RunOptions, name: string, args: Value[], runMain: boolean): Value {
  return withRun(unit, opts, () => {
    if (runMain) {
      const f = newFrame(unit.main, NO_THIS);
      unit.main.body(f);
    }
    const sf = unit.getFn(name, args.length);
    if (!sf) throw errFnNotFound(name, args, -1);
    const nf = newFrame(sf, NO_THIS);
    for (let i = 0; i < args.length; i++) nf[i + 1] = cloneValue(args[i]);
    return invoke(sf, nf, -1);
  });
}

/** Call a function pointer from the host. */
export function callPtr(unit: Unit, opts: RunOptions, p: FnPtr, args: Value[]): Value {
  return withRun(unit, opts, () => callFnPtr(p, args, NO_THIS, undefined, -1));
}

function withRun(unit: Unit, opts: RunOptions, body: () => Value): Value {
  const prevR = R;
  const prevOps = ops;
  const prevNext = opsNext;
  const prevCtl = ctlVal;
  const prevPos = curPos;
  curPos = -1;
  R = new Run(opts.source, opts.env, unit, opts.hostScope, opts.parse, opts.hooks);
  ops = 0;
  setOpsNext();
  try {
    return body();
  } catch (e) {
    return settleThrown(e);
  } finally {
    R.onEnd?.(ops);
    R = prevR;
    ops = prevOps;
    opsNext = prevNext;
    ctlVal = prevCtl;
    curPos = prevPos;
  }
}

/** What a run's escaping exception means: `return`/`exit` give the value, anything else is a RhaiError thrown. */
export function settleThrown(e: unknown): Value {
  if (e === RETURN) return ctlVal;
  if (e instanceof Ctl) return undefined;
  if (e instanceof ExitSignal) return e.value;
  throw toRhaiError(e);
}

/** The module-level run state of one run, kept while it is suspended and swapped in while it runs. */
export interface RunState {
  r: Run;
  ops: number;
  opsNext: number;
  ctlVal: Value;
  curPos: number;
}

/** A new run (not yet current): see enterRun. */
export function newRunState(unit: Unit, opts: RunOptions): RunState {
  const prev = enterRun({ r: new Run(opts.source, opts.env, unit, opts.hostScope, opts.parse, opts.hooks), ops: 0, opsNext: Infinity, ctlVal: undefined, curPos: -1 });
  setOpsNext();
  const st: RunState = { r: R, ops, opsNext, ctlVal, curPos };
  restoreRun(prev);
  return st;
}

/** Make `st` the current run; returns the state to give back to leaveRun (runs nest and interleave). */
export function enterRun(st: RunState): RunState {
  const prev: RunState = { r: R, ops, opsNext, ctlVal, curPos };
  restoreRun(st);
  return prev;
}

/** Save the current run's state into `st` and make `prev` current again. */
export function leaveRun(st: RunState, prev: RunState): void {
  st.ops = ops;
  st.opsNext = opsNext;
  st.ctlVal = ctlVal;
  st.curPos = curPos;
  restoreRun(prev);
}

function restoreRun(st: RunState): void {
  R = st.r;
  ops = st.ops;
  opsNext = st.opsNext;
  ctlVal = st.ctlVal;
  curPos = st.curPos;
}

/** The current run (the native call context). */
export function currentRun(): Run {
  return R;
}

/** After a suspension: the wall-clock check (onProgress) runs again before the script continues. */
export function progressAfterResume(pos: number): void {
  const p = R.onProgress;
  if (!p) return;
  let stop = false;
  try {
    stop = p(ops) === true;
  } catch {
    stop = true;
  }
  if (stop) throw mkErr('ErrorTerminated', 'Script terminated', pos >= 0 ? pos : undefined);
}
