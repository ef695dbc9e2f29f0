/**
 * Script functions and compiled units: `ScriptFn`, `Unit` (the functions of one program variant), calling a
 * function pointer or a native overload, and the wrapping of errors raised inside a function
 * ("in call to function 'f'").
 */
/* oxlint-disable unicorn/no-new-array -- preallocated frames and argument arrays on hot paths */
import type * as A from '../ast.ts';
import { RhaiError } from '../runtime/errors.ts';
import type { Overload } from '../runtime/registry.ts';
import { Ctl, type Frame, NO_THIS } from '../runtime/state.ts';
import { FnPtr, type Value } from '../runtime/value.ts';
import { lineCol } from '../source.ts';
import { errFnNotFound, ExitSignal, fill, isSystemError, toRhaiError } from './errors.ts';
import { invoke, R, type S } from './run.ts';

/** The body of a function not compiled yet (one shared closure: a new one per ScriptFn costs a closure each). */
const NO_BODY: S = () => undefined;

export class ScriptFn {
  nslots = 1;
  isPrivate = false;
  body: S = NO_BODY;
  /** the resumable (generator) body, compiled only when an async host function is reachable from this function */
  gen: ((f: Frame) => Generator<unknown, Value | Ctl, unknown>) | undefined = undefined;
  constructor(
    readonly name: string,
    readonly params: readonly string[],
    readonly pos: number,
    readonly anon: boolean,
    readonly unit: Unit,
  ) {}
}

export function wrapFnError(e: unknown, fn: ScriptFn, pos: number, always = false): unknown {
  if (e instanceof Ctl || e instanceof ExitSignal) return e;
  const err = e instanceof RhaiError ? e : toRhaiError(e);
  if (isSystemError(err) && !always) {
    // system errors pass straight through, positioned at the call (Rhai `err.set_position(pos)`)
    if (pos >= 0) {
      err.offset = pos;
      err.pos = undefined;
    }
    return err;
  }
  // an error raised inside a module's function is positioned in that module's source, not the caller's
  const modSrc = MODULE_SOURCE.get(fn.unit);
  if (modSrc !== undefined) for (let x: RhaiError | undefined = err; x; x = x.extra.inner) if (!x.pos && x.offset !== undefined) x.pos = lineCol(modSrc, x.offset);
  const text = err.text + (fn.anon ? '\nin closure call' : `\nin call to function '${fn.name}'`);
  const w = new RhaiError('ErrorInFunctionCall', text, { inner: err, fnName: fn.name }, pos >= 0 ? pos : undefined);
  return w;
}

export function newFrame(fn: ScriptFn, thisVal: Value | typeof NO_THIS): Frame {
  const f = new Array(fn.nslots);
  f[0] = thisVal;
  return f;
}

/** A new frame for calling `fn` with `this` and the arguments `av`. */
export function argsFrame(fn: ScriptFn, thisVal: Value | typeof NO_THIS, av: readonly Value[]): Frame {
  const f = newFrame(fn, thisVal);
  for (let i = 0; i < av.length; i++) f[i + 1] = av[i];
  return f;
}

/** Resolve the script function a pointer refers to (closure payload or by name + arity of curry). */
export function resolvePtr(p: FnPtr, nargs: number): ScriptFn | undefined {
  if (p.fn instanceof ScriptFn) return p.fn;
  const u = R.unit;
  if (nargs >= 0) return u.getFn(p.name, p.curry.length + nargs);
  return u.anyFn(p.name);
}

/** Call a function pointer with args (curry prepended). `self` receives the new `this` for by-ref calls. */
export function callFnPtr(
  p: FnPtr,
  args: Value[],
  thisVal: Value | typeof NO_THIS,
  self: { value: Value } | undefined,
  pos: number,
): Value {
  const all = p.curry.length ? [...p.curry, ...args] : args;
  const sf = p.fn instanceof ScriptFn ? p.fn : R.unit.getFn(p.name, all.length);
  if (sf) {
    if (sf.params.length !== all.length) throw errFnNotFound(p.name, all, pos);
    const f = newFrame(sf, thisVal);
    for (let i = 0; i < all.length; i++) f[i + 1] = all[i];
    const r = invoke(sf, f, pos);
    if (self) self.value = f[0];
    return r;
  }
  // native
  const callArgs = thisVal !== NO_THIS ? [thisVal as Value, ...all] : all;
  const o = R.env.registry.resolve(p.name, callArgs);
  if (!o) {
    if (thisVal !== NO_THIS) {
      const o2 = R.env.registry.resolve(p.name, all);
      if (o2) return callNative(o2, p.name, all, pos);
    }
    throw errFnNotFound(p.name, callArgs, pos);
  }
  const r = callNative(o, p.name, callArgs, pos);
  if (self && thisVal !== NO_THIS) self.value = callArgs[0];
  return r;
}

export function callNative(o: Overload, name: string, args: Value[], pos: number): Value {
  const r = R;
  const prev = r.fnName;
  const prevPos = r.callPos;
  r.fnName = name;
  r.callPos = pos;
  try {
    return o.fn(r, args);
  } catch (e) {
    throw fill(e, pos);
  } finally {
    r.fnName = prev;
    r.callPos = prevPos;
  }
}

export interface UnitOptions {
  failOnInvalidMapProperty: boolean;
}

/**
 * The resumable compiler (resumable.ts) as seen from here: it adds generator bodies to the functions of a unit
 * compiled for `Engine.runAsync`. Kept as an interface so this file does not import it.
 */
export interface GenCompiler {
  /** identifies the set of async host functions the analysis used (part of module unit cache keys) */
  readonly key: string;
  /** called after the sync body of `sf` is compiled */
  fnBody(unit: Unit, sf: ScriptFn, params: readonly A.Param[], body: A.Stmt[], isTop: boolean, extraShared: readonly string[] | undefined, forceDynamic: boolean): void;
  /** compile an imported module's unit (resumable as well) */
  moduleUnit(prog: A.Program, checked: boolean, options: UnitOptions): Unit;
}

/** A compiled program variant (all functions + main). */
export class Unit {
  /** set on units compiled for runAsync */
  gen: GenCompiler | undefined = undefined;
  readonly fns = new Map<string, ScriptFn>();
  readonly byName = new Map<string, ScriptFn[]>();
  /** `fn int.foo()` typed methods: name/arity → this type name → fn */
  readonly typed = new Map<string, Map<string, ScriptFn>>();
  main: ScriptFn;
  anonCount = 0;
  constructor(
    readonly checked: boolean,
    readonly options: UnitOptions,
  ) {
    this.main = new ScriptFn('', [], 0, false, this);
  }
  getFn(name: string, arity: number): ScriptFn | undefined {
    return this.fns.get(name + '/' + arity);
  }
  anyFn(name: string): ScriptFn | undefined {
    const l = this.byName.get(name);
    return l ? l[0] : undefined;
  }
  hasScriptFn(name: string, arity: number): boolean {
    return this.fns.has(name + '/' + arity);
  }
  addFn(sf: ScriptFn): void {
    this.fns.set(sf.name + '/' + sf.params.length, sf);
    let l = this.byName.get(sf.name);
    if (!l) this.byName.set(sf.name, (l = []));
    l.push(sf);
  }
}

/** The source of each module's compiled unit, to position errors raised inside the module's functions. */
export const MODULE_SOURCE = new WeakMap<Unit, string>();
