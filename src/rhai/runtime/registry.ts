/**
 * Native function registry: overloads by name, resolved by arity + argument type tags (first registered match
 * wins, 'any' matches everything, later registrations of the exact same signature replace earlier ones so a
 * host can override a stdlib function). Call sites cache their last resolution (see compile/calls.ts).
 */
import type { AsyncNativeFn, NativeFn, NativeFnOptions, NativeRegistrar, Package } from './native.ts';
import { RhaiError } from './errors.ts';
import { RFloat, RChar, FnPtr, Timestamp, RRange, type TypeTag, type Value } from './value.ts';

export interface Overload {
  readonly name: string;
  readonly params: readonly TypeTag[];
  readonly fn: NativeFn;
  readonly pure: boolean;
  readonly variadic: boolean;
  /** set for async host functions: the real implementation (`fn` then only throws "cannot be called here") */
  readonly asyncFn?: AsyncNativeFn | undefined;
}

/** The error of an async host function reached where the script cannot suspend. */
export function errNotSuspendable(name: string, where: string): RhaiError {
  return new RhaiError('ErrorRuntime', `Runtime error: Function ${name} is asynchronous and cannot be called here (${where})`, { fatal: true });
}

/** Fast tag computation as a small integer (index into TAGS). */
export const TAGS: readonly TypeTag[] = [
  'int',
  'float',
  'bool',
  'char',
  'string',
  'unit',
  'array',
  'map',
  'blob',
  'fnptr',
  'timestamp',
  'range',
  'rangeInclusive',
  'any',
];

export function tagOf(v: Value): number {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 0;
    case 'string':
      return 4;
    case 'boolean':
      return 2;
    case 'undefined':
      return 5;
  }
  if (v instanceof RFloat) return 1;
  if (v instanceof RChar) return 3;
  if (Array.isArray(v)) return 6;
  if (v instanceof Map) return 7;
  if (v instanceof Uint8Array) return 8;
  if (v instanceof FnPtr) return 9;
  if (v instanceof Timestamp) return 10;
  if (v instanceof RRange) return v.inclusive ? 12 : 11;
  return 13;
}

/** One registered overload as documentation sees it. */
export interface FnSignature {
  readonly name: string;
  readonly params: readonly TypeTag[];
  /** false: mutates its first argument */
  readonly pure: boolean;
  /** takes any number of further arguments */
  readonly variadic: boolean;
}

const TAG_INDEX = new Map<TypeTag, number>(TAGS.map((t, i) => [t, i]));

interface Entry extends Overload {
  readonly tagIdx: readonly number[];
}

export class Registry implements NativeRegistrar {
  private readonly byName = new Map<string, Entry[]>();
  /** bumped on every registration so call-site caches can be invalidated */
  version = 0;
  /** names with at least one async overload (static analysis of what can suspend) */
  readonly asyncNames = new Set<string>();

  constructor(parent?: Registry) {
    if (parent) {
      for (const [k, v] of parent.byName) this.byName.set(k, v.slice());
      for (const n of parent.asyncNames) this.asyncNames.add(n);
    }
  }

  fn(name: string, params: TypeTag[], impl: NativeFn | AsyncNativeFn, opts?: NativeFnOptions): void {
    const isAsync = opts?.async === true;
    const e: Entry = {
      name,
      params: params.slice(),
      fn: isAsync ? (ctx) => { throw errNotSuspendable(ctx.fnName, 'the script is not run with runAsync, or the call is inside a native callback, eval or a module\'s top level'); } : (impl as NativeFn),
      pure: opts?.pure !== false,
      variadic: opts?.variadic === true,
      tagIdx: params.map((p) => TAG_INDEX.get(p) ?? 13),
      asyncFn: isAsync ? (impl as AsyncNativeFn) : undefined,
    };
    if (isAsync) this.asyncNames.add(name);
    let list = this.byName.get(name);
    if (!list) {
      list = [];
      this.byName.set(name, list);
    }
    const same = list.findIndex(
      (o) => o.variadic === e.variadic && o.params.length === e.params.length && o.params.every((p, i) => p === e.params[i]),
    );
    // host registrations (later) take precedence: put them first
    if (same >= 0) list.splice(same, 1);
    list.unshift(e);
    this.version++;
  }

  use(pkg: Package): this {
    // packages register in "first registered wins" order; we unshift, so register into a temp list and append
    const tmp = new Registry();
    pkg(tmp);
    for (const n of tmp.asyncNames) this.asyncNames.add(n);
    for (const [name, entries] of tmp.byName) {
      let list = this.byName.get(name);
      if (!list) {
        list = [];
        this.byName.set(name, list);
      }
      // tmp lists are in reverse registration order
      for (const e of entries.slice().reverse()) list.push(e);
    }
    this.version++;
    return this;
  }

  /** Every overload, by name in registration order (resolution order within a name), for documentation. */
  signatures(): FnSignature[] {
    const out: FnSignature[] = [];
    for (const [name, list] of this.byName)
      for (const o of list) out.push({ name, params: o.params, pure: o.pure, variadic: o.variadic });
    return out;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  hasArity(name: string, arity: number): boolean {
    const l = this.byName.get(name);
    return !!l && l.some((o) => o.params.length === arity || (o.variadic && arity >= o.params.length));
  }

  /** Resolve by the runtime tags of args. */
  resolve(name: string, args: readonly Value[]): Overload | undefined {
    const l = this.byName.get(name);
    if (!l) return undefined;
    const n = args.length;
    outer: for (let i = 0; i < l.length; i++) {
      const o = l[i]!;
      const ps = o.tagIdx;
      if (ps.length !== n && !(o.variadic && n >= ps.length)) continue;
      for (let j = 0; j < ps.length; j++) {
        const p = ps[j]!;
        if (p !== 13 && p !== tagOf(args[j])) continue outer;
      }
      return o;
    }
    return undefined;
  }
}
