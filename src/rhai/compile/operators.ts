/**
 * Operators: binary operators with inlined small-integer and float fast paths (and integer-literal
 * specialisations in the fast variant), `in`, ranges, `&&` / `||` / `??`, unary operators, and the compound
 * operators of `op=` assignments.
 */
import type * as A from '../ast.ts';
import { RhaiError } from '../runtime/errors.ts';
import { arith, compare, intNeg, isInt, NO_BUILTIN, rangeContains } from '../runtime/ops.ts';
import { RChar, RFloat, RRange, typeName, type Value } from '../runtime/value.ts';
import { errFnNotFound, fill, mkErr } from './errors.ts';
import { compileExpr } from './expressions.ts';
import { callNative } from './functions.ts';
import { type E, R } from './run.ts';
import { FnCtx } from './scope.ts';
import { checkSize } from './sizes.ts';

export const MAX_SAFE = 9007199254740991;
const I64_MAX_BIG = 9223372036854775807n;

function slowBinary(op: string, a: Value, b: Value, pos: number): Value {
  let r: Value | typeof NO_BUILTIN;
  try {
    switch (op) {
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        r = compare(op, a, b);
        break;
      default:
        r = arith(op, a, b);
    }
  } catch (e) {
    throw fill(e, pos);
  }
  if (r !== NO_BUILTIN) {
    if (R.checkData && (typeof r === 'string' || typeof r === 'object')) checkSize(r, pos);
    return r;
  }
  const args = [a, b];
  const o = R.env.registry.resolve(op, args);
  if (o) return callNative(o, op, args, pos);
  throw errFnNotFound(op, args, pos);
}

function inOp(a: Value, b: Value, pos: number): boolean {
  if (b instanceof RRange) return rangeContains(b, a);
  if (typeof b === 'string') {
    if (typeof a === 'string') return b.includes(a);
    if (a instanceof RChar) return b.includes(a.c);
  }
  if (b instanceof Map) {
    if (typeof a === 'string') return b.has(a);
    if (a instanceof RChar) return b.has(a.c);
  }
  if (Array.isArray(b)) {
    for (const x of b) {
      const r = compare('==', x, a);
      if (r === true) return true;
      if (r === NO_BUILTIN) {
        const o = R.env.registry.resolve('==', [x, a]);
        if (o && callNative(o, '==', [x, a], pos) === true) return true;
      }
    }
    return false;
  }
  const args = [b, a];
  const o = R.env.registry.resolve('contains', args);
  if (o) return callNative(o, 'contains', args, pos) === true;
  throw errFnNotFound('contains', args, pos);
}

/** `a <op> c` with an integer literal `c` (fast variant): the closure for the operators it specialises, else undefined. */
function compileBinaryConst(L: E, op: string, c: number, pos: number): E | undefined {
  switch (op) {
    case '+':
      return (f) => {
        const a = L(f);
        if (typeof a === 'number') {
          const r = a + c;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
        }
        return slowBinary(op, a, c, pos);
      };
    case '-':
      return (f) => {
        const a = L(f);
        if (typeof a === 'number') {
          const r = a - c;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
        }
        return slowBinary(op, a, c, pos);
      };
    case '<':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a < c : slowBinary(op, a, c, pos);
      };
    case '>':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a > c : slowBinary(op, a, c, pos);
      };
    case '<=':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a <= c : slowBinary(op, a, c, pos);
      };
    case '>=':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a >= c : slowBinary(op, a, c, pos);
      };
    case '==':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a === c : slowBinary(op, a, c, pos);
      };
    case '!=':
      return (f) => {
        const a = L(f);
        return typeof a === 'number' ? a !== c : slowBinary(op, a, c, pos);
      };
  }
  return undefined;
}

export function compileBinary(ctx: FnCtx, e: A.BinaryExpr): E {
  const L = compileExpr(ctx, e.left);
  const op = e.op;
  const pos = e.pos;
  // specialise on an integer literal right operand (also in the checked variant: operations are counted per
  // statement, and the result is the general closure's)
  if (e.right.k === 'Int' && typeof e.right.value === 'number') {
    const withConst = compileBinaryConst(L, op, e.right.value, pos);
    if (withConst) return withConst;
  }
  const Rr = compileExpr(ctx, e.right);
  switch (op) {
    case '+':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        if (typeof a === 'number' && typeof b === 'number') {
          const r = a + b;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
        } else if (a instanceof RFloat && b instanceof RFloat) return new RFloat(a.v + b.v);
        return slowBinary(op, a, b, pos);
      };
    case '-':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        if (typeof a === 'number' && typeof b === 'number') {
          const r = a - b;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
        } else if (a instanceof RFloat && b instanceof RFloat) return new RFloat(a.v - b.v);
        return slowBinary(op, a, b, pos);
      };
    case '*':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        if (typeof a === 'number' && typeof b === 'number') {
          const r = a * b;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) return r === 0 ? 0 : r;
        } else if (a instanceof RFloat && b instanceof RFloat) return new RFloat(a.v * b.v);
        return slowBinary(op, a, b, pos);
      };
    case '<':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a < b : slowBinary(op, a, b, pos);
      };
    case '<=':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a <= b : slowBinary(op, a, b, pos);
      };
    case '>':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a > b : slowBinary(op, a, b, pos);
      };
    case '>=':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a >= b : slowBinary(op, a, b, pos);
      };
    case '==':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a === b : slowBinary(op, a, b, pos);
      };
    case '!=':
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        return typeof a === 'number' && typeof b === 'number' ? a !== b : slowBinary(op, a, b, pos);
      };
    case 'in':
      return (f) => {
        const a = L(f);
        return inOp(a, Rr(f), pos);
      };
    case '!in':
      return (f) => {
        const a = L(f);
        return !inOp(a, Rr(f), pos);
      };
    case '..':
    case '..=': {
      const incl = op === '..=';
      return (f) => {
        const a = L(f);
        const b = Rr(f);
        if (isInt(a) && isInt(b)) return new RRange(a, b, incl);
        if (isInt(a) && b === undefined) return new RRange(a, I64_MAX_BIG, false);
        const args = [a, b];
        const o = R.env.registry.resolve(op, args);
        if (o) return callNative(o, op, args, pos);
        throw errFnNotFound(op, args, pos);
      };
    }
    default:
      return (f) => {
        const a = L(f);
        return slowBinary(op, a, Rr(f), pos);
      };
  }
}

export function compileLogic(ctx: FnCtx, e: A.LogicExpr): E {
  const L = compileExpr(ctx, e.left);
  const Rr = compileExpr(ctx, e.right);
  const lpos = e.left.pos;
  const rpos = e.right.pos;
  if (e.op === '??')
    return (f) => {
      const a = L(f);
      return a === undefined ? Rr(f) : a;
    };
  const isAnd = e.op === '&&';
  return (f) => {
    const a = L(f);
    if (typeof a !== 'boolean') throw notBool(a, lpos);
    if (isAnd ? !a : a) return a;
    const b = Rr(f);
    if (typeof b !== 'boolean') throw notBool(b, rpos);
    return b;
  };
}
/** An operand of `&&` / `||` that is not a bool (Rhai positions the error at the operand). */
export function notBool(v: Value, vpos: number): RhaiError {
  return mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting bool)`, vpos);
}

export function compileUnary(ctx: FnCtx, e: A.UnaryExpr): E {
  const x = compileExpr(ctx, e.operand);
  const pos = e.pos;
  switch (e.op) {
    case '-':
      return (f) => {
        const v = x(f);
        if (typeof v === 'number') return v === 0 ? 0 : -v;
        if (typeof v === 'bigint') {
          try {
            return intNeg(v);
          } catch (err) {
            throw fill(err, pos);
          }
        }
        if (v instanceof RFloat) return new RFloat(-v.v);
        const o = R.env.registry.resolve('-', [v]);
        if (o) return callNative(o, '-', [v], pos);
        throw errFnNotFound('-', [v], pos);
      };
    case '+':
      return (f) => {
        const v = x(f);
        if (isInt(v) || v instanceof RFloat) return v;
        const o = R.env.registry.resolve('+', [v]);
        if (o) return callNative(o, '+', [v], pos);
        throw errFnNotFound('+', [v], pos);
      };
    case '!':
      return (f) => {
        const v = x(f);
        if (typeof v === 'boolean') return !v;
        const o = R.env.registry.resolve('!', [v]);
        if (o) return callNative(o, '!', [v], pos);
        throw errFnNotFound('!', [v], pos);
      };
  }
}

export function compound(op: string, a: Value, b: Value, pos: number): Value {
  if (typeof a === 'number' && typeof b === 'number') {
    if (op === '+') {
      const r = a + b;
      if (r <= MAX_SAFE && r >= -MAX_SAFE) return r;
    }
  }
  if (op === '+' && Array.isArray(a)) {
    // `a += x` on arrays: append an array, else push
    if (Array.isArray(b)) {
      for (const x of b) a.push(x);
    } else a.push(b);
    if (R.checkData) checkSize(a, pos);
    return a;
  }
  if (op === '+' && a instanceof Map && b instanceof Map) {
    for (const [k, v] of b) a.set(k, v);
    if (R.checkData) checkSize(a, pos);
    return a;
  }
  if (op === '+' && a instanceof Uint8Array && Array.isArray(b)) {
    return slowBinary(op, a, b, pos);
  }
  return slowBinary(op, a, b, pos);
}
