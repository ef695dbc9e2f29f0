/**
 * Script modules (`import "path" as name`): loading and running a module once per run, binding its alias, and
 * resolving `alias::` references; calls `alias::f()` to script or host module functions.
 */
import type * as A from '../ast.ts';
import { errMismatch, RhaiError } from '../runtime/errors.ts';
import type { Overload } from '../runtime/registry.ts';
import { Ctl, type Frame, NO_THIS } from '../runtime/state.ts';
import { typeName, type Value } from '../runtime/value.ts';
import { lineCol } from '../source.ts';
import { compileArgs, evalArgs } from './calls.ts';
import { errFnNotFound, ExitSignal, fill, mkErr } from './errors.ts';
import { argsFrame, callNative, MODULE_SOURCE, newFrame, ScriptFn, Unit } from './functions.ts';
import { compileUnit } from './program.ts';
import { type E, invoke, R } from './run.ts';
import { dynOf, DynScopeImpl, FnCtx } from './scope.ts';

/** An imported script module: its exported variables and non-private functions. */
export class ModuleValue {
  constructor(
    readonly path: string,
    readonly vars: Map<string, Value>,
    readonly unit: Unit,
  ) {}
}

/** `pos`: the path's position (Rhai reports ModuleNotFound / ErrorInModule there); `stmtPos`: the `import`'s. */
export function importModule(path: string, pos: number, stmtPos = pos): ModuleValue {
  const r = R;
  const cached = r.modules.get(path);
  if (cached) return cached;
  const ml = r.limits.maxModules;
  if (ml > 0 && r.modules.size >= ml) throw mkErr('ErrorTooManyModules', 'Too many modules imported', stmtPos);
  const found = r.resolveModule ? r.resolveModule(path) : undefined;
  if (found === undefined || (typeof found === 'string' && !r.parse)) throw mkErr('ErrorModuleNotFound', `Module not found: ${path}`, pos);
  const src = typeof found === 'string' ? found : found.source;
  const inModule = (err: RhaiError): RhaiError => {
    for (let x: RhaiError | undefined = err; x; x = x.extra.inner) if (!x.pos && x.offset !== undefined) x.pos = lineCol(src, x.offset);
    return new RhaiError('ErrorInModule', `${err.text}\nin module '${path}'`, { inner: err }, pos);
  };
  let ast: A.Program;
  if (typeof found === 'string') {
    const parsed = r.parse!(found);
    if (!parsed.ok) throw inModule(parsed.error);
    ast = parsed.program;
  } else ast = found.ast;
  const cu = R.unit;
  const ukey = `${cu.checked ? 1 : 0}${cu.options.failOnInvalidMapProperty ? 1 : 0}${cu.gen ? cu.gen.key : ''}`;
  let unit = typeof found === 'string' ? undefined : (found.units.get(ukey) as Unit | undefined);
  if (!unit) {
    unit = cu.gen ? cu.gen.moduleUnit(ast, cu.checked, cu.options) : compileUnit(ast, cu.checked, cu.options, true);
    if (typeof found !== 'string') found.units.set(ukey, unit);
  }
  MODULE_SOURCE.set(unit, src);
  const f = newFrame(unit.main, NO_THIS);
  const prevUnit = r.unit;
  r.unit = unit;
  let d: DynScopeImpl;
  try {
    unit.main.body(f);
    d = dynOf(f);
  } catch (e) {
    if (e instanceof Ctl) d = dynOf(f);
    else if (e instanceof ExitSignal) throw e;
    else throw inModule(fill(e, -1) as RhaiError);
  } finally {
    r.unit = prevUnit;
  }
  const vars = new Map<string, Value>();
  for (const st of ast.statements) {
    if (st.k === 'Let' && st.exported) vars.set(st.name, d.get(st.name).value);
    else if (st.k === 'Export') for (const it of st.items) vars.set(it.alias ?? it.name, d.get(it.name).value);
  }
  const m = new ModuleValue(path, vars, unit);
  r.modules.set(path, m);
  return m;
}

/**
 * Import the module at `path` and bind its alias: a local (slot or name-based scope) and, for an import at a
 * script's (or module's) top level, also in the run's imports of that unit, where its functions find it (Rhai's
 * global imports stack: `import "a" as a; fn f() { a::x }`).
 */
export function compileImportBinding(ctx: FnCtx, st: A.ImportStmt): (f: Frame, path: Value) => undefined {
  const { alias } = st;
  // Rhai positions a bad path, a missing module and an error inside the module at the path expression
  const pos = st.path.pos;
  const stmtPos = st.pos;
  const info = alias !== undefined && !ctx.dynamic ? ctx.declare(alias, true) : undefined;
  const dyn = ctx.dynamic;
  const top = ctx.isTop && ctx.scopes.length <= 2;
  const unit = ctx.unit;
  return (f, path) => {
    if (typeof path !== 'string') throw errMismatch('string', typeName(path)).fill(pos);
    const m = importModule(path, pos, stmtPos);
    if (info) f[info.slot] = m as unknown as Value;
    else if (alias !== undefined && dyn) dynOf(f).define(alias, m as unknown as Value, true);
    if (top && alias !== undefined) {
      const g = R.imports;
      let u = g.get(unit);
      if (!u) g.set(unit, (u = new Map()));
      u.set(alias, m);
    }
    return undefined;
  };
}

/** Resolve a module alias (`x` in `x::f()`) visible at this point, or undefined. */
export function compileModuleRef(ctx: FnCtx, alias: string): (f: Frame) => ModuleValue | undefined {
  const v = ctx.lookup(alias);
  if (v) {
    const s0 = v.slot;
    return (f) => {
      const m = f[s0];
      return m instanceof ModuleValue ? m : undefined;
    };
  }
  return (f) => {
    const d = R.dyn.get(f);
    const r = d ? d.get(alias) : undefined;
    if (r && r.found && (r.value as unknown) instanceof ModuleValue) return r.value as unknown as ModuleValue;
    // a function sees the modules imported at the top level of its own script or module
    return R.imports.get(R.unit)?.get(alias);
  };
}

export function compileModuleCall(ctx: FnCtx, e: A.CallExpr): E {
  const ns = e.ns!.join('::');
  const name = e.name;
  const pos = e.pos;
  const args = compileArgs(ctx, e.args);
  const mref = e.ns!.length === 1 ? compileModuleRef(ctx, e.ns![0]!) : undefined;
  return (f) => {
    const av = evalArgs(f, args);
    const sm = mref ? mref(f) : undefined;
    if (sm) {
      const sf = moduleFn(sm, ns, name, av, pos);
      const nf = argsFrame(sf, NO_THIS, av);
      const prev = R.unit;
      R.unit = sm.unit;
      try {
        return invoke(sf, nf, pos);
      } finally {
        R.unit = prev;
      }
    }
    return callNative(hostModuleFn(ns, name, av, pos), `${ns}::${name}`, av, pos);
  };
}

/** The function `ns::name` of script module `sm` for these arguments (private functions are not visible). */
export function moduleFn(sm: ModuleValue, ns: string, name: string, av: Value[], pos: number): ScriptFn {
  const sf = sm.unit.getFn(name, av.length);
  if (!sf || sf.isPrivate) throw errFnNotFound(`${ns}::${name}`, av, pos);
  return sf;
}

/** The overload of host module function `ns::name` for these arguments. */
export function hostModuleFn(ns: string, name: string, av: Value[], pos: number): Overload {
  const mod = R.env.modules.get(ns);
  if (!mod) throw mkErr('ErrorModuleNotFound', `Module not found: ${ns}`, pos);
  const o = mod.resolve(name, av);
  if (!o) throw errFnNotFound(`${ns}::${name}`, av, pos);
  return o;
}
