/**
 * `switch`: the case table of literal values and ranges, guards, and the case a value selects (shared with the
 * resumable variant).
 */
import type * as A from '../ast.ts';
import { type Int, intNeg, isInt, rangeContains } from '../runtime/ops.ts';
import type { Frame } from '../runtime/state.ts';
import { intFromBig, RChar, RFloat, RRange, type Value } from '../runtime/value.ts';
import { compileExpr } from './expressions.ts';
import type { S } from './run.ts';
import { FnCtx } from './scope.ts';
import { compileBool, compileStmtAsValue } from './statements.ts';

export function literalValue(e: A.Expr): Value {
  switch (e.k) {
    case 'Int':
      return typeof e.value === 'number' ? e.value : (intFromBig(BigInt(e.value)) as Value);
    case 'Float':
      return new RFloat(e.value);
    case 'Bool':
      return e.value;
    case 'Char':
      return new RChar(e.value);
    case 'Str':
      return e.value;
    case 'Unit':
      return undefined;
    case 'Unary':
      if (e.op === '-' && (e.operand.k === 'Int' || e.operand.k === 'Float')) {
        const v = literalValue(e.operand);
        return isInt(v) ? intNeg(v as Int) : new RFloat(-(v as RFloat).v);
      }
      return undefined;
    default:
      return undefined;
  }
}
export function switchKey(v: Value): string | undefined {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 'i' + v;
    case 'string':
      return 's' + v;
    case 'boolean':
      return 'b' + v;
    case 'undefined':
      return 'u';
  }
  if (v instanceof RFloat) return 'f' + v.v;
  if (v instanceof RChar) return 'c' + v.c;
  return undefined;
}

/** A compiled `switch`: the case table (literal values and ranges), guards, and the case bodies. */
export interface SwitchTable<B> {
  table: Map<string, number[]>;
  ranges: { r: RRange; idx: number }[];
  guards: ((f: Frame) => boolean)[];
  bodies: B[];
  def: B | undefined;
}

export function buildSwitch<B>(ctx: FnCtx, e: A.SwitchExpr, body: (st: A.Stmt) => B): SwitchTable<B> {
  const table = new Map<string, number[]>();
  const ranges: { r: RRange; idx: number }[] = [];
  const guards: ((f: Frame) => boolean)[] = [];
  const bodies: B[] = [];
  e.cases.forEach((c, idx) => {
    for (const v of c.values) {
      if (v.k === 'Binary' && (v.op === '..' || v.op === '..=')) {
        ranges.push({ r: new RRange(literalValue(v.left) as Int, literalValue(v.right) as Int, v.op === '..='), idx });
      } else {
        const key = switchKey(literalValue(v));
        if (key === undefined) continue;
        let l = table.get(key);
        if (!l) table.set(key, (l = []));
        l.push(idx);
      }
    }
    guards.push(c.guard ? compileBool(ctx, c.guard) : () => true);
    ctx.push();
    bodies.push(body(c.body));
    ctx.pop();
  });
  ctx.push();
  const def = e.default ? body(e.default) : undefined;
  ctx.pop();
  return { table, ranges, guards, bodies, def };
}

/** The index of the case `v` selects (guards evaluated in order), or -1 for the default. */
export function pickCase<B>(sw: SwitchTable<B>, v: Value, f: Frame): number {
  const { table, ranges, guards } = sw;
  const key = switchKey(v);
  if (key !== undefined) {
    const l = table.get(key);
    if (l)
      for (let i = 0; i < l.length; i++) {
        const idx = l[i]!;
        if (guards[idx]!(f)) return idx;
      }
  }
  if (ranges.length) {
    if (isInt(v)) {
      for (const { r, idx } of ranges) if (rangeContains(r, v) && guards[idx]!(f)) return idx;
    } else if (v instanceof RFloat) {
      const x = v.v;
      for (const { r, idx } of ranges) {
        const a = Number(r.start);
        const b = Number(r.end);
        if (x >= a && (r.inclusive ? x <= b : x < b) && guards[idx]!(f)) return idx;
      }
    } else if (v instanceof RRange) {
      for (const { r, idx } of ranges)
        if (r.start === v.start && r.end === v.end && r.inclusive === v.inclusive && guards[idx]!(f)) return idx;
    }
  }
  return -1;
}

export function compileSwitchS(ctx: FnCtx, e: A.SwitchExpr): S {
  const subj = compileExpr(ctx, e.subject);
  const sw = buildSwitch(ctx, e, (st) => compileStmtAsValue(ctx, st));
  const bodies = sw.bodies;
  const def = sw.def;
  return (f) => {
    const idx = pickCase(sw, subj(f), f);
    if (idx >= 0) return bodies[idx]!(f);
    return def ? def(f) : undefined;
  };
}
