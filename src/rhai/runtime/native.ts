/**
 * The native-function contract between the engine core and the standard library (and host modules).
 *
 * A package is a function `(r: NativeRegistrar) => void` that registers overloads. The core resolves a call by
 * name + arity + argument type tags (first registered match wins; 'any' matches every type), caching the choice
 * per call site.
 *
 * Mutation: a function registered with `{ pure: false }` may replace `args[0]` (e.g. `s.make_upper()`,
 * `x.push(v)` for immutable JS strings: assign `args[0] = newString`). After the call the core writes `args[0]`
 * back to the place the first argument came from when the call was method-style (`x.f()`) on an l-value.
 * Arrays, maps and blobs are passed by reference, so in-place mutation of them is visible directly.
 * Calling a non-pure function method-style on a constant raises ErrorNonPureMethodCallOnConstant.
 */
import type { FnPtr, TypeTag, Value } from './value.ts';
import type { Limits } from './limits.ts';

export interface NativeCallContext {
  /** Call a function pointer (script function, closure or native), with its curried arguments prepended. */
  callFn(fn: FnPtr, args: Value[]): Value;
  /** Does a script or native function with this name and arity exist? (for `is_def_fn`) */
  hasFn(name: string, arity: number): boolean;
  /** The engine's limits in force for this run (0 = unlimited). */
  readonly limits: Limits;
  /** Name of the function being called (for error messages). */
  readonly fnName: string;
  /**
   * OPTIONAL (added for the stdlib's higher-order functions): the number of declared parameters of the script
   * function / closure a pointer refers to (ALL of them, including the ones its curried arguments fill, as Rhai's
   * `fn_def.params.len()`); `undefined` when the target is native or unknown. Lets `map`/`filter`/... pick `(item)` vs `(item, index)` vs `this`-bound calls exactly
   * like Rhai's `FnPtr::call_raw_with_extra_args`. Without it the stdlib falls back to Rhai's retry rule:
   * call with `(item)`, and on ErrorFunctionNotFound for that name retry with `(item, index)`.
   */
  fnArity?(fn: FnPtr): number | undefined;
  /**
   * OPTIONAL: call a function pointer with `this` bound BY REFERENCE to `self.value` (Rhai passes `&mut item`):
   * when the callee assigns to / mutates `this`, the new value must be in `self.value` when the call returns.
   * Used for `[1, 2].map(|| this * 2)`, `x.for_each(|| this += 1)`, `x.for_each(|i| this += i)`.
   * Without it, such callbacks are called with the item as a plain argument.
   */
  callFnWithThis?(fn: FnPtr, self: { value: Value }, args: Value[]): Value;
  /** The embedder's per-run value (`RunOptions.data`), e.g. the invocation's state; undefined when none. */
  readonly data?: unknown;
  /** The run's abort signal (`RunOptions.signal`), for async host functions to cancel their own work. */
  readonly signal?: AbortSignal | undefined;
}

export type NativeFn = (ctx: NativeCallContext, args: Value[]) => Value;
/** An asynchronous host function (registered with `{ async: true }`): the script suspends until it settles. */
export type AsyncNativeFn = (ctx: NativeCallContext, args: Value[]) => Promise<Value>;

export interface NativeFnOptions {
  /** false = mutates its first argument (see above). Default true. */
  pure?: boolean;
  /** Accepts any number of arguments >= params.length (params describe the fixed prefix). */
  variadic?: boolean;
  /** The implementation returns a Promise: callable only where the script can suspend (Engine.runAsync). */
  async?: boolean;
}

export interface NativeRegistrar {
  fn(name: string, params: TypeTag[], impl: NativeFn, opts?: NativeFnOptions): void;
}

export type Package = (r: NativeRegistrar) => void;
