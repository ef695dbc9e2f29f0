/**
 * Variables at compile time and at run time: `FnCtx` (static slot resolution per function), the name-based scope
 * used by functions that call `eval` or are called with `f!()` (`DynScopeImpl`), the by-name view a capture call
 * gives its callee (`makeDynAccessor`), and writes through shared (captured) cells.
 */
import type { DynScope, Frame } from '../runtime/state.ts';
import { Shared, type Value } from '../runtime/value.ts';
import { mkErr } from './errors.ts';
import { Unit } from './functions.ts';
import { R } from './run.ts';

export interface VarInfo {
  readonly name: string;
  readonly slot: number;
  readonly constant: boolean;
  readonly shared: boolean;
}

export class FnCtx {
  readonly scopes: Map<string, VarInfo>[] = [new Map()];
  nslots = 1;
  /** loop nesting; each entry says whether an expression-position break/continue was compiled inside */
  readonly loops: { exprCtl: boolean }[] = [];
  exprBlock = 0;
  constructor(
    readonly unit: Unit,
    readonly isTop: boolean,
    readonly sharedNames: Set<string>,
    readonly dynamic: boolean,
    /** eval'd code running at the caller's top-level block: its `const`s become global constants */
    readonly evalTop = false,
  ) {}
  get checked(): boolean {
    return this.unit.checked;
  }
  declare(name: string, constant: boolean): VarInfo {
    const v: VarInfo = { name, slot: this.nslots++, constant, shared: this.sharedNames.has(name) };
    this.scopes[this.scopes.length - 1]!.set(name, v);
    return v;
  }
  lookup(name: string): VarInfo | undefined {
    if (this.dynamic) return undefined;
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const v = this.scopes[i]!.get(name);
      if (v) return v;
    }
    return undefined;
  }
  lookupStatic(name: string): VarInfo | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const v = this.scopes[i]!.get(name);
      if (v) return v;
    }
    return undefined;
  }
  push(): void {
    this.scopes.push(new Map());
  }
  pop(): void {
    this.scopes.pop();
  }
  /** name → VarInfo of everything visible (innermost wins), for eval / capture calls */
  snapshot(): Map<string, VarInfo> {
    const m = new Map<string, VarInfo>();
    for (const s of this.scopes) for (const [k, v] of s) m.set(k, v);
    return m;
  }
  liveCount(): number {
    let n = 0;
    for (const s of this.scopes) n += s.size;
    return n;
  }
}

/** A Rhai-style scope stack searched by name, used by functions that call `eval` (variables may be defined at run time). */
export class DynScopeImpl implements DynScope {
  readonly names: string[] = [];
  readonly vals: Value[] = [];
  readonly consts: boolean[] = [];
  constructor(readonly parent: DynScope | undefined) {}
  private find(name: string): number {
    const n = this.names;
    for (let i = n.length - 1; i >= 0; i--) if (n[i] === name) return i;
    return -1;
  }
  get(name: string): { found: boolean; value: Value } {
    const i = this.find(name);
    if (i >= 0) {
      const x = this.vals[i];
      return { found: true, value: x instanceof Shared ? x.v : x };
    }
    return this.parent ? this.parent.get(name) : { found: false, value: undefined };
  }
  set(name: string, v: Value): boolean {
    const i = this.find(name);
    if (i >= 0) {
      if (this.consts[i]) throw mkErr('ErrorAssignmentToConstant', `Cannot modify constant ${name}`);
      const x = this.vals[i];
      if (x instanceof Shared) x.v = v;
      else this.vals[i] = v;
      return true;
    }
    return this.parent ? this.parent.set(name, v) : false;
  }
  define(name: string, v: Value, constant = false): void {
    this.names.push(name);
    this.vals.push(v);
    this.consts.push(constant);
  }
  isConst(name: string): boolean {
    const i = this.find(name);
    return i >= 0 && this.consts[i] === true;
  }
  share(name: string): Shared | undefined {
    const i = this.find(name);
    if (i < 0) return this.parent instanceof DynScopeImpl ? this.parent.share(name) : undefined;
    let x = this.vals[i];
    if (!(x instanceof Shared)) {
      x = new Shared(x) as unknown as Value;
      this.vals[i] = x;
    }
    return x as unknown as Shared;
  }
  isShared(name: string): boolean {
    const i = this.find(name);
    return i >= 0 && this.vals[i] instanceof Shared;
  }
  mark(): number {
    return this.names.length;
  }
  reset(m: number): void {
    this.names.length = m;
    this.vals.length = m;
    this.consts.length = m;
  }
}

export function dynOf(f: Frame): DynScopeImpl {
  return R.dyn.get(f) as DynScopeImpl;
}

export function writeSlot(f: Frame, slot: number, v: Value): void {
  const c = f[slot];
  if (c instanceof Shared) c.v = v;
  else f[slot] = v;
}

/** Build a by-name view over a frame's statically known variables (plus its own dynamic scope). */
export function makeDynAccessor(ctx: FnCtx): (f: Frame) => DynScope {
  if (ctx.dynamic) return (f) => R.dyn.get(f)!;
  const snap = ctx.snapshot();
  const isTop = ctx.isTop;
  return (f) => {
    const outer = R.dyn.get(f);
    const local = new Map<string, Value>();
    return {
      get(name) {
        if (local.has(name)) return { found: true, value: local.get(name) };
        const v = snap.get(name);
        if (v) {
          const x = f[v.slot];
          return { found: true, value: x instanceof Shared ? x.v : x };
        }
        if (outer) return outer.get(name);
        if (isTop && R.hostScope?.has(name)) return { found: true, value: R.hostScope.get(name) };
        return { found: false, value: undefined };
      },
      set(name, x) {
        if (local.has(name)) {
          local.set(name, x);
          return true;
        }
        const v = snap.get(name);
        if (v) {
          if (v.constant) throw mkErr('ErrorAssignmentToConstant', `Cannot modify constant ${name}`);
          writeSlot(f, v.slot, x);
          return true;
        }
        if (outer && outer.set(name, x)) return true;
        if (isTop && R.hostScope?.has(name)) {
          R.hostScope.set(name, x);
          return true;
        }
        return false;
      },
      define(name, x) {
        local.set(name, x);
      },
    };
  };
}
