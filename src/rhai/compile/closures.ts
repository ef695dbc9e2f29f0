/**
 * Closures: an anonymous function whose captured variables are shared cells, curried into its function pointer.
 */
import type * as A from '../ast.ts';
import { FnPtr, Shared, type Value } from '../runtime/value.ts';
import { ScriptFn } from './functions.ts';
import { compileFnBody } from './program.ts';
import type { E } from './run.ts';
import { dynOf, FnCtx, type VarInfo } from './scope.ts';

export function compileClosure(ctx: FnCtx, e: A.ClosureExpr): E {
  const unit = ctx.unit;
  if (ctx.dynamic) {
    const name = `anon$${unit.anonCount++}_${e.pos}`;
    const capNames = e.captures;
    const params: A.Param[] = [...capNames.map((n) => ({ name: n, pos: e.pos })), ...e.params];
    const sf = new ScriptFn(name, params.map((p) => p.name), e.pos, true, unit);
    compileFnBody(unit, sf, params, [e.body], false, capNames);
    return (f) => {
      const d = dynOf(f);
      const curry: Value[] = [];
      for (const c of capNames) {
        const sh = d.share(c);
        curry.push((sh ?? new Shared(undefined)) as unknown as Value);
      }
      return new FnPtr(name, curry, sf);
    };
  }
  // captures resolvable in the enclosing function
  const caps: VarInfo[] = [];
  const capNames: string[] = [];
  for (const c of e.captures) {
    const v = ctx.lookup(c);
    if (v) {
      caps.push(v);
      capNames.push(c);
    }
  }
  const name = `anon$${unit.anonCount++}_${e.pos}`;
  const params: A.Param[] = [...capNames.map((n) => ({ name: n, pos: e.pos })), ...e.params];
  const sf = new ScriptFn(
    name,
    params.map((p) => p.name),
    e.pos,
    true,
    unit,
  );
  const body: A.Stmt[] = [e.body];
  compileFnBody(unit, sf, params, body, false, capNames);
  const slots = caps.map((v) => v.slot);
  if (slots.length === 0) {
    const ptr = new FnPtr(name, [], sf);
    return () => ptr;
  }
  return (f) => {
    const curry: Value[] = [];
    for (const s of slots) {
      let c = f[s];
      if (!(c instanceof Shared)) {
        c = new Shared(c);
        f[s] = c;
      }
      curry.push(c as unknown as Value);
    }
    return new FnPtr(name, curry, sf);
  };
}
