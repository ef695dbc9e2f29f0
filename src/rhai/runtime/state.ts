/**
 * Per-run mutable state shared by the compiled closures: the operations counter, call depth, the current
 * engine environment, and the control-flow signals (break/continue/return are completion objects, not errors).
 * One run at a time per JS thread; nested runs (a host function calling back into an engine) save and restore it.
 */
import type { Value } from './value.ts';
import type { Limits } from './limits.ts';
import type { Registry } from './registry.ts';
import type { NativeFn } from './native.ts';

/** Completion signals returned by statement closures. */
export class Ctl {
  constructor(readonly kind: 1 | 2 | 3) {}
}
export const BREAK = new Ctl(1);
export const CONTINUE = new Ctl(2);
export const RETURN = new Ctl(3);

/** Marker in frame slot 0 when no `this` is bound. */
export const NO_THIS: unique symbol = Symbol('no-this');

/** A compiled frame: slot 0 = `this`, then parameters and locals. */
export type Frame = any[];

export interface HostModule {
  fns: Map<string, { params: import('./value.ts').TypeTag[] | undefined; fn: NativeFn }[]>;
}

/** What the compiled code needs from the engine while running. */
export interface EngineEnv {
  readonly registry: Registry;
  readonly modules: Map<string, Registry>;
  readonly limits: Limits;
  readonly onPrint: ((s: string) => void) | undefined;
  readonly onDebug: ((s: string, pos: { line: number; position: number } | undefined) => void) | undefined;
  readonly onProgress: ((ops: number) => boolean) | undefined;
  /** called once when a run ends (value, error or termination) with its exact operation count (checked mode) */
  readonly onEnd?: ((ops: number) => void) | undefined;
  /** `import "path"`: returns the module's script source (or a compiled program), undefined when there is none */
  readonly resolveModule?: ((path: string) => ModuleSource | undefined) | undefined;
}

/** A compiled module (a Program from the engine): its AST, reused without parsing; `units` caches its compilations. */
export interface PrecompiledModule {
  readonly source: string;
  readonly ast: import('../ast.ts').Program;
  readonly units: Map<string, unknown>;
}
export type ModuleSource = string | PrecompiledModule;

/** Per-run settings (override the engine's hooks for one run; several runs may be in flight on one engine). */
export interface RunHooks {
  onPrint?: ((s: string) => void) | undefined;
  onDebug?: ((s: string, pos: { line: number; position: number } | undefined) => void) | undefined;
  onProgress?: ((ops: number) => boolean) | undefined;
  onEnd?: ((ops: number) => void) | undefined;
  /** the embedder's per-run value, seen by native functions as `ctx.data` */
  data?: unknown;
  /** aborting it terminates a suspended run (ErrorTerminated) */
  signal?: AbortSignal | undefined;
  resolveModule?: ((path: string) => ModuleSource | undefined) | undefined;
}

export interface DynScope {
  get(name: string): { found: boolean; value: Value };
  set(name: string, v: Value): boolean;
  define(name: string, v: Value, constant?: boolean): void;
}
