/**
 * Compiler from the AST (ast.ts) to JavaScript closures, plus the runtime support those closures call.
 *
 * - Variables are resolved at compile time to slots of a per-call frame array (slot 0 holds `this`).
 *   Names that cannot be resolved statically (host scope variables, variables defined by `eval`, the caller's
 *   variables in `f!()` calls) fall back to a by-name lookup.
 * - Statements return a value or a completion signal (`Ctl`: break / continue / return); loops and calls
 *   check it. Signals raised inside expression-position blocks are thrown and caught by the enclosing loop/call.
 * - Primitive operators are inlined with a small-integer fast path; everything else goes through
 *   `runtime/ops.ts` and then the native registry (per-call-site cache keyed by argument type tags).
 * - Two variants are compiled per program: `fast` (no operation counting, no data-size checks) and
 *   `checked` (counting at Rhai's granularity: statements, expression nodes, loop iterations, calls).
 */
/* oxlint-disable unicorn/no-new-array -- preallocated frames and argument arrays on hot paths */
import type * as A from './ast.ts';
import { errArrayBounds, errBitFieldBounds, errMismatch, errStringBounds, RhaiError } from './runtime/errors.ts';
import { toDebug, toDisplay, utf8Length } from './runtime/format.ts';
import { arith, compare, type Int, intNeg, isInt, NO_BUILTIN, rangeContains } from './runtime/ops.ts';
import { type Overload, type Registry, tagOf } from './runtime/registry.ts';
import { Ctl, type Frame, NO_THIS, RETURN } from './runtime/state.ts';
import { cloneValue, FnPtr, intFromBig, RChar, RFloat, RRange, Shared, typeName, type Value } from './runtime/value.ts';
import { lineCol } from './source.ts';
import { errFnNotFound, ExitSignal, fill, mkErr } from './compile/errors.ts';
import { callFnPtr, callNative, newFrame, ScriptFn, Unit, wrapFnError } from './compile/functions.ts';
import { compileForS, compileWhileS } from './compile/loops.ts';
import { compileModuleCall, compileModuleRef } from './compile/modules.ts';
import { analyse, compileFnBody } from './compile/program.ts';
import { type E, getCtl, invoke, R, type S, tick1 } from './compile/run.ts';
import { dynOf, DynScopeImpl, FnCtx, makeDynAccessor, type VarInfo, writeSlot } from './compile/scope.ts';
import { compileBlockS, compileIfS, compileStmts, exprFromS } from './compile/statements.ts';
import { compileSwitchS, literalValue } from './compile/switch.ts';
export { errFnNotFound, fill, mkErr, throwValue, toRhaiError } from './compile/errors.ts';
export { callFnPtr, callNative, type GenCompiler, newFrame, resolvePtr, ScriptFn, Unit, type UnitOptions, wrapFnError } from './compile/functions.ts';
export { forBind, forScope, forSource } from './compile/loops.ts';
export { compileImportBinding, compileModuleRef } from './compile/modules.ts';
export { analyse, compileUnit, enterDynamic } from './compile/program.ts';
export { callPtr, callUnitFn, currentRun, enterRun, type EvalParser, getCtl, invoke, leaveRun, newRunState, progressAfterResume, type RunOptions, type RunState, runUnit, setCtl, settleThrown, tick, tick1, tickN } from './compile/run.ts';
export { dynOf, FnCtx, makeDynAccessor } from './compile/scope.ts';
export { catchValue, caughtError, compileBlockS, compileBool, compileLet, compileStmt, compileStmtAsValue, exprWeight } from './compile/statements.ts';
export { buildSwitch, pickCase } from './compile/switch.ts';

const MAX_SAFE = 9007199254740991;
const I64_MAX_BIG = 9223372036854775807n;

function charsOf(s: string): string[] {
  return Array.from(s);
}
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xd7ff) return false;
  return true;
}

/**
 * Data size counting as Rhai's calc_data_sizes (eval/data_check.rs): [array items, map items, string bytes],
 * summed over every nesting level. Each array item counts 1 towards arrays (a blob item 1 + its length), each map
 * value 1 towards maps (a blob value 1 + its length towards arrays), and every string, at any level, its UTF-8
 * length towards strings.
 */
function dataSizes(v: Value, acc: [number, number, number], top: boolean): void {
  void top;
  if (typeof v === 'string') {
    acc[2] += utf8Length(v);
  } else if (Array.isArray(v)) {
    for (const x of v) {
      acc[0]++;
      if (typeof x === 'object') dataSizes(x, acc, false);
      else if (typeof x === 'string') acc[2] += utf8Length(x);
    }
  } else if (v instanceof Map) {
    for (const x of v.values()) {
      acc[1]++;
      if (x instanceof Uint8Array) acc[0] += 1 + x.length;
      else if (typeof x === 'object') dataSizes(x, acc, false);
      else if (typeof x === 'string') acc[2] += utf8Length(x);
    }
  } else if (v instanceof Uint8Array) {
    acc[0] += v.length;
  }
}

/** Does this value count towards the data-size limits (string, array, map, blob)? */
function hasSize(v: Value): boolean {
  return typeof v === 'string' || Array.isArray(v) || v instanceof Map || v instanceof Uint8Array;
}

export function checkSize(v: Value, pos: number): void {
  if (!R.checkData) return;
  const t = typeof v;
  if (t !== 'string' && t !== 'object') return;
  const L = R.limits;
  if (t === 'string') {
    if (L.maxStringSize > 0 && (v as string).length > L.maxStringSize / 3 && utf8Length(v as string) > L.maxStringSize)
      throw mkErr('ErrorDataTooLarge', 'Length of string too large', pos);
    return;
  }
  let n: number;
  if (Array.isArray(v) || v instanceof Uint8Array) {
    n = v.length;
    if (L.maxArraySize > 0 && n > L.maxArraySize) throw mkErr('ErrorDataTooLarge', 'Size of array too large', pos);
  } else if (v instanceof Map) {
    n = v.size;
    if (L.maxMapSize > 0 && n > L.maxMapSize) throw mkErr('ErrorDataTooLarge', 'Size of object map too large', pos);
  } else return;
  // The recursive count is O(size): for large containers do it only when the size reaches a power of two, so
  // growing a container element by element stays linear overall (the top-level size is always checked exactly;
  // nested growth inside a container of more than 1024 items is caught with that granularity).
  if (n > 1024 && (n & (n - 1)) !== 0) return;
  const acc: [number, number, number] = [0, 0, 0];
  dataSizes(v, acc, true);
  // Rhai's throw_on_size order: strings, arrays, maps
  if (L.maxStringSize > 0 && acc[2] > L.maxStringSize) throw mkErr('ErrorDataTooLarge', 'Length of string too large', pos);
  if (L.maxArraySize > 0 && acc[0] > L.maxArraySize) throw mkErr('ErrorDataTooLarge', 'Size of array too large', pos);
  if (L.maxMapSize > 0 && acc[1] > L.maxMapSize) throw mkErr('ErrorDataTooLarge', 'Size of object map too large', pos);
}

/**
 * Data-size check of a freshly built array / map literal. Rhai sums the sizes item by item and reports the
 * item that crosses a limit (eval/expr.rs `Expr::Array` / `Expr::Map`): on failure, find that item.
 */
function checkLiteralSize(v: Value, items: Value[], itemPos: readonly number[], pos: number): void {
  try {
    checkSize(v, pos);
  } catch (e) {
    if (!(e instanceof RhaiError) || e.kind !== 'ErrorDataTooLarge') throw e;
    const partial: Value[] = [];
    for (let i = 0; i < items.length; i++) {
      partial.push(items[i]);
      try {
        checkSize(v instanceof Map ? new Map(partial.map((x, j) => [String(j), x])) : partial, -1);
      } catch (e2) {
        if (e2 instanceof RhaiError) {
          e2.offset = itemPos[i] ?? pos;
          throw e2;
        }
        throw e2;
      }
    }
    throw e;
  }
}

/**
 * A value the resumable compiler computed before this expression runs, read from a frame slot (not produced by
 * the parser; see resumable.ts). `fresh` is the freshness of the expression it replaces.
 */
export interface SlotExpr {
  k: '$Slot';
  pos: number;
  slot: number;
  fresh: boolean;
}
function isSlot(e: A.Expr): boolean {
  return (e as unknown as SlotExpr).k === '$Slot';
}

/** Is the expression's value guaranteed not to alias a stored array/map? */
export function isFresh(e: A.Expr): boolean {
  if (isSlot(e)) return (e as unknown as SlotExpr).fresh;
  switch (e.k) {
    case 'Int':
    case 'Float':
    case 'Bool':
    case 'Char':
    case 'Str':
    case 'Unit':
    case 'Interp':
    case 'Array':
    case 'Map':
    case 'Unary':
    case 'Closure':
    case 'Call':
    case 'Method':
      return true;
    case 'Binary':
      return true;
    default:
      return false;
  }
}

/** Compile an expression whose value will be stored (copy arrays/maps read from places). */
export function compileValue(ctx: FnCtx, e: A.Expr): E {
  const c = compileExpr(ctx, e);
  if (isFresh(e)) return c;
  return (f) => {
    const v = c(f);
    return typeof v === 'object' ? cloneValue(v) : v;
  };
}

export function compileExpr(ctx: FnCtx, e: A.Expr): E {
  return compileExprInner(ctx, e);
}

const SHORT: unique symbol = Symbol('short');

function compileExprInner(ctx: FnCtx, e: A.Expr): E {
  if (isSlot(e)) {
    const slot = (e as unknown as SlotExpr).slot;
    return (f) => f[slot];
  }
  switch (e.k) {
    case 'Int':
    case 'Float':
    case 'Bool':
    case 'Char':
    case 'Str':
    case 'Unit': {
      const v = literalValue(e);
      return () => v;
    }
    case 'Interp': {
      const parts = e.parts.map((p) => compileExpr(ctx, p));
      const pos = e.pos;
      return (f) => {
        let s = '';
        for (let i = 0; i < parts.length; i++) {
          const v = parts[i]!(f);
          s += typeof v === 'string' ? v : toDisplay(v);
        }
        if (R.checkData) checkSize(s, pos);
        return s;
      };
    }
    case 'Array': {
      const items = e.items.map((x) => compileValue(ctx, x));
      const pos = e.pos;
      const itemPos = e.items.map((x) => x.pos);
      const checked = ctx.checked;
      return (f) => {
        const n = items.length;
        const a = new Array<Value>(n);
        for (let i = 0; i < n; i++) a[i] = items[i]!(f);
        if (checked && R.checkData) checkLiteralSize(a, a, itemPos, pos);
        return a;
      };
    }
    case 'Map': {
      const keys = e.entries.map((x) => x.key);
      const vals = e.entries.map((x) => compileValue(ctx, x.value));
      const pos = e.pos;
      const itemPos = e.entries.map((x) => x.value.pos);
      const checked = ctx.checked;
      return (f) => {
        const m = new Map<string, Value>();
        for (let i = 0; i < keys.length; i++) m.set(keys[i]!, vals[i]!(f));
        if (checked && R.checkData) checkLiteralSize(m, Array.from(m.values()), itemPos, pos);
        return m;
      };
    }
    case 'Var':
      return compileVarRead(ctx, e);
    case 'This': {
      const pos = e.pos;
      return (f) => {
        const t = f[0];
        if (t === NO_THIS) throw mkErr('ErrorUnboundThis', "'this' not bound", pos);
        return t;
      };
    }
    case 'Prop':
    case 'Index':
    case 'Method': {
      const c = compileChain(ctx, e);
      if (!chainHasOptional(e)) return c;
      return (f) => {
        const v = c(f);
        return v === (SHORT as unknown) ? undefined : v;
      };
    }
    case 'Call':
      return compileCall(ctx, e);
    case 'Binary':
      return compileBinary(ctx, e);
    case 'Logic':
      return compileLogic(ctx, e);
    case 'Unary':
      return compileUnary(ctx, e);
    case 'Block':
      return exprFromS(ctx, () => compileBlockS(ctx, e));
    case 'If':
      return exprFromS(ctx, () => compileIfS(ctx, e));
    case 'Switch':
      return exprFromS(ctx, () => compileSwitchS(ctx, e));
    case 'While':
    case 'Loop':
    case 'Do':
      return exprFromS(ctx, () => compileWhileS(ctx, e));
    case 'For':
      return exprFromS(ctx, () => compileForS(ctx, e));
    case 'Closure':
      return compileClosure(ctx, e);
  }
}

export function chainHasOptional(e: A.Expr): boolean {
  while (e.k === 'Prop' || e.k === 'Index' || e.k === 'Method') {
    if (e.optional) return true;
    e = e.obj;
  }
  return false;
}

function readVarSlot(v: VarInfo): E {
  const s = v.slot;
  if (v.shared)
    return (f) => {
      const x = f[s];
      return x instanceof Shared ? x.v : x;
    };
  return (f) => f[s];
}

function compileVarRead(ctx: FnCtx, e: A.VarExpr): E {
  const name = e.name;
  const pos = e.pos;
  if (e.ns) {
    if (e.ns.length === 1 && e.ns[0] === 'global') {
      const isTop = ctx.isTop;
      return () => {
        if (!isTop && R.globals.has(name)) return R.globals.get(name);
        throw mkErr('ErrorVariableNotFound', `Variable not found: global::${name}`, pos);
      };
    }
    const full = [...e.ns, name].join('::');
    const mref = e.ns.length === 1 ? compileModuleRef(ctx, e.ns[0]!) : undefined;
    return (f) => {
      const m = mref ? mref(f) : undefined;
      if (m && m.vars.has(name)) return m.vars.get(name);
      throw mkErr('ErrorVariableNotFound', `Variable not found: ${full}`, pos);
    };
  }
  const v = ctx.lookup(name);
  if (v) return readVarSlot(v);
  const isTop = ctx.isTop;
  const unit = ctx.unit;
  return (f) => {
    const d = R.dyn.get(f);
    if (d) {
      const r = d.get(name);
      if (r.found) return r.value;
    }
    if (isTop && R.hostScope && R.hostScope.has(name)) return R.hostScope.get(name);
    if (unit.byName.has(name)) return new FnPtr(name);
    throw mkErr('ErrorVariableNotFound', `Variable not found: ${name}`, pos);
  };
}

/** Write to a variable; returns nothing, throws on constants / unknown. */
function compileVarWrite(ctx: FnCtx, e: A.VarExpr): (f: Frame, v: Value) => void {
  const name = e.name;
  const pos = e.pos;
  if (e.ns) {
    return () => {
      throw mkErr('ErrorAssignmentToConstant', `Cannot modify constant ${name}`, pos);
    };
  }
  const v = ctx.lookup(name);
  if (v) {
    const s = v.slot;
    if (v.constant)
      return () => {
        throw mkErr('ErrorAssignmentToConstant', `Cannot modify constant ${name}`, pos);
      };
    if (v.shared) return (f, x) => writeSlot(f, s, x);
    return (f, x) => {
      f[s] = x;
    };
  }
  const isTop = ctx.isTop;
  return (f, x) => {
    const d = R.dyn.get(f);
    if (d && d.set(name, x)) return;
    if (isTop && R.hostScope && R.hostScope.has(name)) {
      R.hostScope.set(name, x);
      return;
    }
    throw mkErr('ErrorVariableNotFound', `Variable not found: ${name}`, pos);
  };
}

export interface Place {
  get: E;
  /** Apply `upd` to the current value and store the result. */
  update: (f: Frame, upd: (old: Value) => Value) => void;
  constRoot: string | undefined;
}

export function isPlaceExpr(e: A.Expr): boolean {
  while (e.k === 'Prop' || e.k === 'Index') e = e.obj;
  return e.k === 'Var' || e.k === 'This';
}

export function compilePlace(ctx: FnCtx, e: A.Expr): Place {
  if (e.k === 'Var') {
    const get = compileVarRead(ctx, e);
    const v = e.ns ? undefined : ctx.lookup(e.name);
    const constRoot = v && v.constant ? e.name : e.ns ? e.name : undefined;
    const set = compileVarWrite(ctx, e);
    return {
      get,
      update: (f, upd) => {
        const o = get(f);
        const n = upd(o);
        if (n !== o || (typeof o !== 'object' && typeof o !== 'undefined')) set(f, n);
      },
      constRoot,
    };
  }
  if (e.k === 'This') {
    const get = compileExprInner(ctx, e);
    return {
      get,
      update: (f, upd) => {
        const o = get(f);
        f[0] = upd(o);
      },
      constRoot: undefined,
    };
  }
  if (e.k === 'Index') {
    const parent = compilePlace(ctx, e.obj);
    const idx = compileExpr(ctx, e.index);
    const pos = e.pos;
    const fail = ctx.unit.options.failOnInvalidMapProperty;
    const opt = e.optional;
    return {
      get: (f) => getIndex(parent.get(f), idx(f), pos, fail),
      update: (f, upd) => {
        const k = idx(f);
        parent.update(f, (o) => (opt && o === undefined ? o : setIndex(o, k, upd(getIndexForUpdate(o, k, pos)), pos)));
      },
      constRoot: parent.constRoot,
    };
  }
  if (e.k === 'Prop') {
    const parent = compilePlace(ctx, e.obj);
    const name = e.name;
    const pos = e.pos;
    const fail = ctx.unit.options.failOnInvalidMapProperty;
    const opt = e.optional;
    return {
      get: (f) => getProp(parent.get(f), name, pos, fail),
      update: (f, upd) => {
        parent.update(f, (o) => (opt && o === undefined ? o : setProp(o, name, upd(getPropForUpdate(o, name, pos)), pos)));
      },
      constRoot: parent.constRoot,
    };
  }
  // not a place: a temporary
  const get = compileExpr(ctx, e);
  return { get, update: (f, upd) => void upd(get(f)), constRoot: undefined };
}

function normIndex(i: Int, len: number): number {
  const n = typeof i === 'bigint' ? Number(i) : i;
  return n < 0 ? n + len : n;
}

function getIndex(o: Value, k: Value, pos: number, fail: boolean): Value {
  if (Array.isArray(o)) {
    if (typeof k === 'number') {
      const i = k < 0 ? k + o.length : k;
      if (i >= 0 && i < o.length) return o[i];
      throw errArrayBounds(o.length, k).fill(pos);
    }
    if (typeof k === 'bigint') throw errArrayBounds(o.length, k).fill(pos);
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (o instanceof Map) {
    if (typeof k === 'string') {
      const v = o.get(k);
      if (v === undefined && fail && !o.has(k)) throw mkErr('ErrorPropertyNotFound', `Property not found: ${k}`, pos);
      return v;
    }
    if (k instanceof RChar) return o.get(k.c);
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting string)`, pos);
  }
  if (typeof o === 'string') {
    if (isInt(k)) {
      if (isAscii(o)) {
        const i = normIndex(k, o.length);
        if (i >= 0 && i < o.length) return new RChar(o[i]!);
        throw errStringBounds(o.length, k).fill(pos);
      }
      const cs = charsOf(o);
      const i = normIndex(k, cs.length);
      if (i >= 0 && i < cs.length) return new RChar(cs[i]!);
      throw errStringBounds(cs.length, k).fill(pos);
    }
    if (k instanceof RRange) {
      const cs = charsOf(o);
      const [s, en] = strRange(k, cs.length);
      return cs.slice(s, en).join('');
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (isInt(o)) {
    if (isInt(k)) {
      const n = Number(k);
      const bit = n < 0 ? n + 64 : n;
      if (bit < 0 || bit >= 64) throw errBitFieldBounds(64, k).fill(pos);
      return ((BigInt(o) >> BigInt(bit)) & 1n) === 1n;
    }
    if (k instanceof RRange) {
      const [s, len] = bitRange(k, pos);
      if (len === 0) return 0;
      const v = (BigInt.asUintN(64, BigInt(o)) >> BigInt(s)) & ((1n << BigInt(len)) - 1n);
      return intFromBig(BigInt.asIntN(64, v)) as Value;
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (o instanceof Uint8Array) {
    if (isInt(k)) {
      const i = normIndex(k, o.length);
      if (i >= 0 && i < o.length) return o[i]!;
      throw errArrayBounds(o.length, k).fill(pos);
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  // registered indexer?
  const reg = R.env.registry;
  const ov = reg.resolve('index$get$', [o, k]);
  if (ov) return callNative(ov, 'index$get$', [o, k], pos);
  throw mkErr('ErrorIndexingType', `Indexer unavailable: ${typeName(o)} [${typeName(k)}]`, pos);
}

function strRange(k: RRange, len: number): [number, number] {
  let s = Number(k.start);
  let en = Number(k.end);
  if (s < 0) s += len;
  const negEnd = en < 0;
  if (en < 0) en += len;
  // Rhai quirk: a negative inclusive end at or before the start gives an empty string
  if (k.inclusive && !(negEnd && en <= s)) en += 1;
  s = Math.max(0, Math.min(s, len));
  en = Math.max(s, Math.min(en, len));
  return [s, en];
}

function getIndexForUpdate(o: Value, k: Value, pos: number): Value {
  if (o instanceof Map && typeof k === 'string') return o.get(k);
  return getIndex(o, k, pos, false);
}

function bitRange(k: RRange, pos: number): [number, number] {
  const s = Number(k.start);
  const e = Number(k.end) + (k.inclusive ? 1 : 0);
  if (s < 0 || s >= 64) throw errBitFieldBounds(64, k.start).fill(pos);
  if (e > 64) throw errBitFieldBounds(64, k.end).fill(pos);
  const len = Math.max(0, e - s);
  return [s, len];
}

function setIndex(o: Value, k: Value, v: Value, pos: number): Value {
  if (Array.isArray(o)) {
    if (isInt(k)) {
      const i = normIndex(k, o.length);
      if (i >= 0 && i < o.length) {
        o[i] = v;
        return o;
      }
      throw errArrayBounds(o.length, k).fill(pos);
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (o instanceof Map) {
    if (typeof k === 'string') {
      o.set(k, v);
      return o;
    }
    if (k instanceof RChar) {
      o.set(k.c, v);
      return o;
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting string)`, pos);
  }
  if (typeof o === 'string') {
    if (k instanceof RRange) {
      const cs = charsOf(o);
      const [s, en] = strRange(k, cs.length);
      const rep = typeof v === 'string' ? v : v instanceof RChar ? v.c : undefined;
      if (rep === undefined) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting string)`, pos);
      return cs.slice(0, s).join('') + rep + cs.slice(en).join('');
    }
    if (!isInt(k)) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
    const cs = charsOf(o);
    const i = normIndex(k, cs.length);
    if (i < 0 || i >= cs.length) throw errStringBounds(cs.length, k).fill(pos);
    // Rhai (Target::StringChar) checks the new char when writing back, at the assignment operator: no position here
    if (!(v instanceof RChar)) throw errMismatch('char', typeName(v));
    // Rhai 1.25 writes back at the char offset |index| (eval/chaining.rs get_indexed_mut keeps `offset` =
    // index.unsigned_abs() for a negative index, target.rs replaces the char numbered `offset`): `s[-1] = c`
    // replaces s[1], and `s[-len] = c` changes nothing
    const at = Number(k) < 0 ? -Number(k) : i;
    if (at >= cs.length) return o;
    cs[at] = v.c;
    return cs.join('');
  }
  if (isInt(o)) {
    const ob = BigInt.asUintN(64, BigInt(o));
    if (isInt(k)) {
      const n = Number(k);
      const bit = n < 0 ? n + 64 : n;
      if (bit < 0 || bit >= 64) throw errBitFieldBounds(64, k).fill(pos);
      if (typeof v !== 'boolean') throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting bool)`, pos);
      const m = 1n << BigInt(bit);
      return intFromBig(BigInt.asIntN(64, v ? ob | m : ob & ~m)) as Value;
    }
    if (k instanceof RRange) {
      if (!isInt(v)) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting i64)`, pos);
      const [s, len] = bitRange(k, pos);
      if (len === 0) return o;
      const mask = ((1n << BigInt(len)) - 1n) << BigInt(s);
      const nv = (ob & ~mask) | ((BigInt.asUintN(64, BigInt(v)) << BigInt(s)) & mask);
      return intFromBig(BigInt.asIntN(64, nv)) as Value;
    }
    throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
  }
  if (o instanceof Uint8Array) {
    if (!isInt(k)) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(k)} (expecting i64)`, pos);
    const i = normIndex(k, o.length);
    if (i < 0 || i >= o.length) throw errArrayBounds(o.length, k).fill(pos);
    if (!isInt(v)) throw mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting i64)`, pos);
    o[i] = Number(BigInt.asUintN(8, BigInt(v)));
    return o;
  }
  const reg = R.env.registry;
  const args = [o, k, v];
  const ov = reg.resolve('index$set$', args);
  if (ov) {
    callNative(ov, 'index$set$', args, pos);
    return args[0];
  }
  throw mkErr('ErrorIndexingType', `Indexer unavailable: ${typeName(o)} [${typeName(k)}]`, pos);
}

function getProp(o: Value, name: string, pos: number, fail: boolean): Value {
  if (o instanceof Map) {
    const v = o.get(name);
    if (v === undefined && fail && !o.has(name)) throw mkErr('ErrorPropertyNotFound', `Property not found: ${name}`, pos);
    return v;
  }
  if (o instanceof FnPtr) {
    if (name === 'name') return o.name;
    if (name === 'is_anonymous') return o.fn instanceof ScriptFn && o.fn.anon;
  }
  const reg = R.env.registry;
  const args = [o];
  const g = reg.resolve('get$' + name, args) ?? reg.resolve(name, args);
  if (g) return callNative(g, name, args, pos);
  throw mkErr(
    'ErrorDotExpr',
    `Unknown property '${name}' - a getter is not registered for type '${typeName(o)}'`,
    pos,
  );
}
function getPropForUpdate(o: Value, name: string, pos: number): Value {
  if (o instanceof Map) return o.get(name);
  return getProp(o, name, pos, false);
}
function setProp(o: Value, name: string, v: Value, pos: number): Value {
  if (o instanceof Map) {
    o.set(name, v);
    return o;
  }
  const reg = R.env.registry;
  const args = [o, v];
  const s = reg.resolve('set$' + name, args);
  if (s) {
    callNative(s, 'set$' + name, args, pos);
    return args[0];
  }
  throw mkErr(
    'ErrorDotExpr',
    `Unknown property '${name}' - a setter is not registered for type '${typeName(o)}'`,
    pos,
  );
}

/** Compile a Prop / Index / Method chain for reading. Returns SHORT when an optional step short-circuits. */
function compileChain(ctx: FnCtx, e: A.PropExpr | A.IndexExpr | A.MethodExpr): E {
  const objIsChain = e.obj.k === 'Prop' || e.obj.k === 'Index' || e.obj.k === 'Method';
  const fail = ctx.unit.options.failOnInvalidMapProperty;
  const pos = e.pos;
  if (e.k === 'Method') return compileMethod(ctx, e);
  const obj = objIsChain ? compileChain(ctx, e.obj as A.PropExpr) : compileExpr(ctx, e.obj);
  const optional = e.optional;
  const hasShort = objIsChain && chainHasOptional(e.obj);
  if (e.k === 'Prop') {
    const name = e.name;
    if (!optional && !hasShort)
      return (f) => {
        const o = obj(f);
        if (o instanceof Map) {
          const v = o.get(name);
          if (v !== undefined || !fail) return v;
        }
        return getProp(o, name, pos, fail);
      };
    return (f) => {
      const o = obj(f);
      if (o === (SHORT as unknown)) return o;
      if (optional && o === undefined) return SHORT as unknown as Value;
      return getProp(o, name, pos, fail);
    };
  }
  const idx = compileExpr(ctx, e.index);
  if (!optional && !hasShort)
    return (f) => {
      const o = obj(f);
      const k = idx(f);
      if (Array.isArray(o) && typeof k === 'number' && k >= 0 && k < o.length) return o[k];
      return getIndex(o, k, pos, fail);
    };
  return (f) => {
    const o = obj(f);
    if (o === (SHORT as unknown)) return o;
    if (optional && o === undefined) return SHORT as unknown as Value;
    return getIndex(o, idx(f), pos, fail);
  };
}

export interface CallSiteCache {
  key: number;
  reg: Registry | undefined;
  ver: number;
  o: Overload | undefined;
}

function cacheKey(args: readonly Value[]): number {
  let k = args.length;
  for (let i = 0; i < args.length && i < 6; i++) k = k * 16 + tagOf(args[i]);
  return k;
}

export function resolveCached(c: CallSiteCache, name: string, args: readonly Value[]): Overload | undefined {
  const reg = R.env.registry;
  const key = cacheKey(args);
  if (c.reg === reg && c.ver === reg.version && c.key === key && args.length <= 6) return c.o;
  const o = reg.resolve(name, args);
  c.reg = reg;
  c.ver = reg.version;
  c.key = key;
  c.o = o;
  return o;
}

export function compileArgs(ctx: FnCtx, args: readonly A.Expr[]): E[] {
  return args.map((a) => compileValue(ctx, a));
}

export function evalArgs(f: Frame, args: readonly E[]): Value[] {
  const n = args.length;
  const r = new Array<Value>(n);
  for (let i = 0; i < n; i++) r[i] = args[i]!(f);
  return r;
}

function compileCall(ctx: FnCtx, e: A.CallExpr): E {
  if (e.ns) return compileModuleCall(ctx, e);
  if (e.capture) return compileCaptureCall(ctx, e);
  const builtin = compileBuiltinCall(ctx, e);
  if (builtin) return builtin;
  const sf = ctx.unit.getFn(e.name, e.args.length);
  if (sf) return compileScriptCall(ctx, sf, e.args, e.pos);
  return compileNativeCall(ctx, e);
}

/** The functions the engine implements itself (print, type_of, is_def_var, Fn, call, curry, eval, exit, …), or undefined. */
function compileBuiltinCall(ctx: FnCtx, e: A.CallExpr): E | undefined {
  const name = e.name;
  const pos = e.pos;
  const n = e.args.length;
  switch (name) {
    case 'print':
    case 'debug': {
      const a = e.args.map((x) => compileExpr(ctx, x));
      const isPrint = name === 'print';
      return (f) => {
        const v = n ? a[0]!(f) : undefined;
        if (isPrint) {
          const s = typeof v === 'string' ? v : toDisplay(v);
          R.onPrint?.(s);
        } else {
          const s = toDebug(v);
          R.onDebug?.(s, R.source ? lineCol(R.source, pos) : undefined);
        }
        return undefined;
      };
    }
    case 'type_of':
      if (n === 1) {
        const a = compileExpr(ctx, e.args[0]!);
        return (f) => typeName(a(f));
      }
      break;
    case 'is_shared':
      if (n === 1) {
        const a0 = e.args[0]!;
        if (a0.k === 'Var' && !a0.ns) {
          const v = ctx.lookup(a0.name);
          if (v) {
            const s = v.slot;
            return (f) => f[s] instanceof Shared;
          }
        }
        const a = compileExpr(ctx, a0);
        return (f) => (a(f), false);
      }
      break;
    case 'is_def_var':
      if (n === 1) {
        const a = compileExpr(ctx, e.args[0]!);
        const snap = ctx.snapshot();
        const isTop = ctx.isTop;
        return (f) => {
          const nm = a(f);
          if (typeof nm !== 'string') throw errFnNotFound('is_def_var', [nm], pos);
          if (snap.has(nm)) return true;
          const d = R.dyn.get(f);
          if (d && d.get(nm).found) return true;
          return isTop && !!R.hostScope && R.hostScope.has(nm);
        };
      }
      break;
    case 'is_def_fn':
      if (n === 2) {
        const a = compileExpr(ctx, e.args[0]!);
        const b = compileExpr(ctx, e.args[1]!);
        return (f) => {
          const nm = a(f);
          const ar = b(f);
          if (typeof nm !== 'string' || !isInt(ar)) throw errFnNotFound('is_def_fn', [nm, ar], pos);
          return R.unit.hasScriptFn(nm, Number(ar));
        };
      }
      break;
    case 'Fn':
      if (n === 1) {
        const a = compileExpr(ctx, e.args[0]!);
        return (f) => {
          const nm = a(f);
          if (typeof nm !== 'string') throw errMismatch('string', typeName(nm)).fill(pos);
          return makeFnPtr(nm, pos);
        };
      }
      break;
    case 'call':
      if (n >= 1) {
        const a = compileArgs(ctx, e.args);
        return (f) => {
          const args = evalArgs(f, a);
          const p = args[0];
          if (!(p instanceof FnPtr)) throw errMismatch('Fn', typeName(p)).fill(pos);
          return callFnPtr(p, args.slice(1), NO_THIS, undefined, pos);
        };
      }
      break;
    case 'curry':
      if (n >= 1) {
        const a = compileArgs(ctx, e.args);
        return (f) => {
          const args = evalArgs(f, a);
          const p = args[0];
          if (!(p instanceof FnPtr)) throw errMismatch('Fn', typeName(p)).fill(pos);
          return new FnPtr(p.name, [...p.curry, ...args.slice(1)], p.fn);
        };
      }
      break;
    case 'eval':
      if (n === 1) return compileEval(ctx, e);
      break;
    case 'exit':
      if (n <= 1 && !ctx.unit.getFn('exit', n)) {
        const a = n ? compileValue(ctx, e.args[0]!) : undefined;
        return (f) => {
          throw new ExitSignal(a ? a(f) : undefined);
        };
      }
      break;
  }
  return undefined;
}

/** A call of a native function (its first argument by reference when it is a variable). */
function compileNativeCall(ctx: FnCtx, e: A.CallExpr): E {
  const name = e.name;
  const pos = e.pos;
  const n = e.args.length;
  const args = e.args.map((a, i) => (i === 0 && isPlaceExpr(a) ? compileExpr(ctx, a) : compileValue(ctx, a)));
  const firstPlace = n > 0 && e.args[0]!.k === 'Var' ? compilePlace(ctx, e.args[0]!) : undefined;
  const cache: CallSiteCache = { key: -1, reg: undefined, ver: -1, o: undefined };
  const checked = ctx.checked;
  const v0 = n > 0 && e.args[0]!.k === 'Var' ? ctx.lookup((e.args[0] as A.VarExpr).name) : undefined;
  const slot0 = v0 && v0.shared ? v0.slot : -1;
  return (f) => {
    let av: Value[];
    if (firstPlace) {
      // the by-reference first argument is taken after the other arguments are evaluated
      av = new Array<Value>(n);
      for (let i = 1; i < n; i++) av[i] = args[i]!(f);
      av[0] = args[0]!(f);
    } else av = evalArgs(f, args);
    const o = resolveCached(cache, name, av);
    if (!o) {
      throw errFnNotFound(name, av, pos);
    }
    const a0 = av[0];
    if (firstPlace && !o.pure && firstPlace.constRoot === undefined && !(slot0 >= 0 && f[slot0] instanceof Shared)) {
      const r = callNative(o, name, av, pos);
      if (av[0] !== a0) firstPlace.update(f, () => av[0]);
      if (checked && R.checkData) checkSize(av[0], pos);
      return r;
    }
    if (firstPlace && !o.pure && typeof a0 === 'object') av[0] = cloneValue(a0);
    const r = callNative(o, name, av, pos);
    if (checked && R.checkData) checkSize(r, pos);
    return r;
  };
}

function makeFnPtr(nm: string, pos: number): FnPtr {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(nm) || nm === '_') {
    throw mkErr('ErrorFunctionNotFound', `Function not found: ${nm}`, pos);
  }
  return new FnPtr(nm);
}

function compileScriptCall(ctx: FnCtx, sf: ScriptFn, argExprs: readonly A.Expr[], pos: number): E {
  const args = compileArgs(ctx, argExprs);
  const checked = ctx.checked;
  const n = args.length;
  if (n === 1) {
    const a0 = args[0]!;
    return (f) => {
      const nf = new Array(sf.nslots);
      nf[0] = NO_THIS;
      nf[1] = a0(f);
      if (checked) tick1();
      return invoke(sf, nf, pos);
    };
  }
  if (n === 2) {
    const a0 = args[0]!;
    const a1 = args[1]!;
    return (f) => {
      const nf = new Array(sf.nslots);
      nf[0] = NO_THIS;
      nf[1] = a0(f);
      nf[2] = a1(f);
      if (checked) tick1();
      return invoke(sf, nf, pos);
    };
  }
  return (f) => {
    const nf = new Array(sf.nslots);
    nf[0] = NO_THIS;
    for (let i = 0; i < n; i++) nf[i + 1] = args[i]!(f);
    if (checked) tick1();
    return invoke(sf, nf, pos);
  };
}

/** `f!(args)`: run the script function with access to the caller's variables by name. */
function compileCaptureCall(ctx: FnCtx, e: A.CallExpr): E {
  const name = e.name;
  const pos = e.pos;
  const args = compileArgs(ctx, e.args);
  const scope = makeDynAccessor(ctx);
  return (f) => {
    let av = evalArgs(f, args);
    let fname = name;
    if (name === 'call' && av[0] instanceof FnPtr) {
      const p = av[0];
      av = [...p.curry, ...av.slice(1)];
      fname = p.name;
    }
    const sf = R.unit.getFn(fname, av.length);
    if (!sf) throw errFnNotFound(fname, av, pos);
    const nf = newFrame(sf, NO_THIS);
    for (let i = 0; i < av.length; i++) nf[i + 1] = av[i];
    R.dyn.set(nf, scope(f));
    return invoke(sf, nf, pos);
  };
}

function compileEval(ctx: FnCtx, e: A.CallExpr): E {
  const a = compileExpr(ctx, e.args[0]!);
  const pos = e.pos;
  const checked = ctx.checked;
  const opts = ctx.unit.options;
  const evalTop = ctx.isTop && ctx.scopes.length <= 2;
  return (f) => {
    const src = a(f);
    if (typeof src !== 'string') throw errFnNotFound('eval', [src], pos);
    if (!R.parse) throw errFnNotFound('eval', [src], pos);
    const evalFn = new ScriptFn('eval', [], pos, false, R.unit);
    const parsed = R.parse(src);
    if (!parsed.ok) throw wrapFnError(parsed.error, evalFn, pos, true);
    // the evaluated script shares the caller's name-based scope (the caller is compiled in dynamic mode)
    let d = R.dyn.get(f);
    if (!d) {
      d = new DynScopeImpl(undefined);
      R.dyn.set(f, d);
    }
    const sub = new Unit(checked, opts);
    for (const [k, v] of R.unit.fns) sub.fns.set(k, v);
    for (const [k, v] of R.unit.byName) sub.byName.set(k, [...v]);
    for (const [k, v] of R.unit.typed) sub.typed.set(k, v);
    for (const fd of parsed.program.functions) {
      const sf = new ScriptFn(fd.name, fd.params.map((p) => p.name), fd.pos, false, sub);
      sub.addFn(sf);
      compileFnBody(sub, sf, fd.params, fd.body.body, false);
    }
    const an = analyse(parsed.program.statements);
    const ectx = new FnCtx(sub, false, an.shared, true, evalTop);
    ectx.push();
    const body = compileStmts(ectx, parsed.program.statements);
    ectx.pop();
    const nf = new Array(ectx.nslots);
    nf[0] = f[0];
    R.dyn.set(nf, d);
    const prevUnit = R.unit;
    R.unit = sub;
    try {
      const v = body(nf);
      if (v instanceof Ctl) return v === RETURN ? getCtl() : undefined;
      return v;
    } catch (err) {
      if (err === RETURN) return getCtl();
      if (err instanceof Ctl || err instanceof ExitSignal) throw err;
      const inner = fill(err, -1) as RhaiError;
      for (let x: RhaiError | undefined = inner; x; x = x.extra.inner) if (!x.pos && x.offset !== undefined) x.pos = lineCol(src, x.offset);
      throw wrapFnError(inner, evalFn, pos, true);
    } finally {
      R.unit = prevUnit;
    }
  };
}

function compileMethod(ctx: FnCtx, e: A.MethodExpr): E {
  const name = e.name;
  const pos = e.pos;
  const n = e.args.length;
  const objIsChain = e.obj.k === 'Prop' || e.obj.k === 'Index' || e.obj.k === 'Method';
  const hasShort = objIsChain && chainHasOptional(e.obj);
  const optional = e.optional;
  const place = isPlaceExpr(e.obj) && !hasShort ? compilePlace(ctx, e.obj) : undefined;
  const recv: E = place ? place.get : objIsChain ? compileChain(ctx, e.obj as A.PropExpr) : compileExpr(ctx, e.obj);
  const args = compileArgs(ctx, e.args);
  const cache: CallSiteCache = { key: -1, reg: undefined, ver: -1, o: undefined };
  const constRoot = place?.constRoot;
  const checked = ctx.checked;
  const unit = ctx.unit;
  const sfStatic = unit.getFn(name, n);
  const typedMethods = unit.typed.get(name + '/' + n);

  if (name === 'is_shared' && n === 0 && e.obj.k === 'Var' && !e.obj.ns) {
    const v = ctx.lookup(e.obj.name);
    if (v) {
      const s0 = v.slot;
      return (f) => f[s0] instanceof Shared;
    }
  }
  const rootVar = methodRootVar(ctx, e.obj);
  const rootSharedSlot = rootVar && rootVar.shared ? rootVar.slot : -1;
  const special = name === 'call' || name === 'curry';
  const maybeScript = !!sfStatic || !!typedMethods || ctx.dynamic;
  const methodSlow = (f: Frame, o: Value, all: Value[]): Value => {
    const av = all.slice(1);
    // function pointer methods
    if (o instanceof FnPtr) {
      if (name === 'call') return callFnPtr(o, av, NO_THIS, undefined, pos);
      if (name === 'curry') return new FnPtr(o.name, [...o.curry, ...av], o.fn);
    }
    if (name === 'call' && n >= 1 && av[0] instanceof FnPtr) {
      // x.call(f, args): bind this = x
      checkDataRace(f, rootSharedSlot, av[0], pos);
      const self = { value: o };
      const r = callFnPtr(av[0], av.slice(1), o, self, pos);
      if (place && self.value !== o) {
        if (constRoot !== undefined) throw mkErr('ErrorNonPureMethodCallOnConstant', `Non-pure method '${av[0].name}' cannot be called on constant`, pos);
        place.update(f, () => self.value);
      }
      return r;
    }
    // OOP-style: map property holding a function pointer
    if (o instanceof Map) {
      const p = o.get(name);
      if (p instanceof FnPtr) {
        checkMethodDataRace(f, rootSharedSlot, p, pos);
        const self = { value: o as Value };
        return callFnPtr(p, av, o, self, pos);
      }
    }
    const tm = typedMethods;
    const sf = (tm && tm.get(typeName(o))) || (sfStatic ?? (R.unit !== unit ? R.unit.getFn(name, n) : undefined));
    if (sf) {
      const nf = newFrame(sf, o);
      for (let i = 0; i < n; i++) nf[i + 1] = av[i];
      if (checked) tick1();
      const r = invoke(sf, nf, pos);
      const nt = nf[0];
      if (nt !== o || (typeof o === 'object' && place)) {
        if (place) {
          if (constRoot !== undefined) {
            if (nt !== o) throw mkErr('ErrorNonPureMethodCallOnConstant', `Non-pure method '${name}' cannot be called on constant`, pos);
          } else place.update(f, () => nt);
        }
      }
      return r;
    }
    return methodNative(f, o, all);
  };
  return (f) => {
    const o = recv(f);
    if (o === (SHORT as unknown)) return o;
    if (optional && o === undefined) return SHORT as unknown as Value;
    const all = new Array<Value>(n + 1);
    all[0] = o;
    for (let i = 0; i < n; i++) all[i + 1] = args[i]!(f);
    if (special || o instanceof Map || maybeScript) return methodSlow(f, o, all);
    return methodNative(f, o, all);
  };
  function methodNative(f: Frame, o: Value, all: Value[]): Value {
    const ov = resolveCached(cache, name, all);
    if (!ov) {
      throw errFnNotFound(name, all, pos);
    }
    if (!ov.pure) {
      if (constRoot !== undefined) {
        throw mkErr('ErrorNonPureMethodCallOnConstant', `Non-pure method '${name}' cannot be called on constant`, pos);
      }
      const r = callNative(ov, name, all, pos);
      if (place && all[0] !== o) place.update(f, () => all[0]);
      if (checked && R.checkData) {
        checkSize(all[0], pos);
        checkSize(r, pos);
      }
      return r;
    }
    const r = callNative(ov, name, all, pos);
    if (checked && R.checkData) checkSize(r, pos);
    return r;
  };
}

/**
 * The variable at the root of a method call's receiver chain (`a` in `a.call(f)`, `a.b[0].call(f)`): Rhai locks
 * it (a shared one) for the whole call.
 */
export function methodRootVar(ctx: FnCtx, obj: A.Expr): VarInfo | undefined {
  let root = obj;
  while (root.k === 'Prop' || root.k === 'Index') root = root.obj;
  return root.k === 'Var' && !root.ns ? ctx.lookup(root.name) : undefined;
}

/**
 * `x.call(f)` where `f` captured `x` itself: Rhai locks the shared receiver for the call, then
 * `ensure_no_data_race` (func/call.rs) finds the same cell among the pointer's curried (captured) arguments:
 * ErrorDataRace("argument #N of function 'name'"), raised with Position::NONE and never positioned on its way
 * up (so a caught map has no line/position).
 */
export function checkDataRace(f: Frame, rootSharedSlot: number, p: FnPtr, pos: number): void {
  if (rootSharedSlot < 0) return;
  const cell = f[rootSharedSlot];
  const at = cell instanceof Shared ? p.curry.indexOf(cell as unknown as Value) : -1;
  void pos;
  if (at >= 0) throw new RhaiError('ErrorDataRace', `Data race detected on variable 'argument #${at + 1} of function '${p.name}''`);
}

/**
 * `obj.m()` where the map property `m` is a closure that captured `obj`: Rhai calls it with `obj` locked and no
 * argument check, so reading the captured `obj` inside fails (Target::try_from: ErrorDataRace with no name),
 * which the call wraps like any error in a closure.
 */
export function checkMethodDataRace(f: Frame, rootSharedSlot: number, p: FnPtr, pos: number): void {
  if (rootSharedSlot < 0 || !(p.fn instanceof ScriptFn)) return;
  const cell = f[rootSharedSlot];
  if (!(cell instanceof Shared) || !p.curry.includes(cell as unknown as Value)) return;
  const inner = new RhaiError('ErrorDataRace', 'Data race detected');
  throw wrapFnError(inner, p.fn, pos);
}

function compileClosure(ctx: FnCtx, e: A.ClosureExpr): E {
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

function compileBinary(ctx: FnCtx, e: A.BinaryExpr): E {
  const L = compileExpr(ctx, e.left);
  const op = e.op;
  const pos = e.pos;
  // specialise on an integer literal right operand
  if (e.right.k === 'Int' && typeof e.right.value === 'number' && !ctx.checked) {
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

function compileLogic(ctx: FnCtx, e: A.LogicExpr): E {
  const L = compileExpr(ctx, e.left);
  const Rr = compileExpr(ctx, e.right);
  const pos = e.pos;
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
    if (typeof a !== 'boolean') throw logicErr(e.op, a, pos, lpos);
    if (isAnd ? !a : a) return a;
    const b = Rr(f);
    if (typeof b !== 'boolean') throw logicErr(e.op, b, pos, rpos);
    return b;
  };
}
function logicErr(op: string, v: Value, pos: number, vpos: number): RhaiError {
  void op;
  void pos;
  return mkErr('ErrorMismatchDataType', `Data type incorrect: ${typeName(v)} (expecting bool)`, vpos);
}

function compileUnary(ctx: FnCtx, e: A.UnaryExpr): E {
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

function opOf(op: A.AssignOp): string {
  return op.slice(0, -1);
}

export function compileAssign(ctx: FnCtx, st: A.AssignStmt): S {
  const rhs = compileValue(ctx, st.value);
  const pos = st.pos;
  const t = st.target;
  const checked = ctx.checked;
  if (t.k === 'Var') {
    const get = compileVarRead(ctx, t);
    const set = compileVarWrite(ctx, t);
    if (st.op === '=') {
      if (checked)
        return (f) => {
          const v = rhs(f);
          if (R.checkData) checkSize(v, pos);
          set(f, v);
          return undefined;
        };
      return (f) => {
        set(f, rhs(f));
        return undefined;
      };
    }
    const op = opOf(st.op);
    const v = t.ns ? undefined : ctx.lookup(t.name);
    if (v && !v.shared && !v.constant && !checked && (op === '+' || op === '-')) {
      const s = v.slot;
      const isAdd = op === '+';
      return (f) => {
        const b = rhs(f);
        const a = f[s];
        if (typeof a === 'number' && typeof b === 'number') {
          const r = isAdd ? a + b : a - b;
          if (r <= MAX_SAFE && r >= -MAX_SAFE) {
            f[s] = r;
            return undefined;
          }
        }
        f[s] = compound(op, a, b, pos);
        return undefined;
      };
    }
    return (f) => {
      const b = rhs(f);
      const r = compound(op, get(f), b, pos);
      if (checked && R.checkData) checkSize(r, pos);
      set(f, r);
      return undefined;
    };
  }
  if (t.k === 'This') {
    const get = compileExprInner(ctx, t);
    if (st.op === '=')
      return (f) => {
        get(f);
        f[0] = rhs(f);
        return undefined;
      };
    const op = opOf(st.op);
    return (f) => {
      const a = get(f);
      f[0] = compound(op, a, rhs(f), pos);
      return undefined;
    };
  }
  const place = compilePlace(ctx, t);
  const constRoot = place.constRoot;
  const op = st.op === '=' ? undefined : opOf(st.op);
  // fast path: var[index] = value on arrays
  if (t.k === 'Index' && t.obj.k === 'Var' && !t.obj.ns && constRoot === undefined && !checked) {
    const v = ctx.lookup(t.obj.name);
    if (v) {
      const arr = readVarSlot(v);
      const idx = compileExpr(ctx, t.index);
      const ipos = t.pos;
      return (f) => {
        const x = rhs(f);
        const a = arr(f);
        const k = idx(f);
        if (Array.isArray(a) && typeof k === 'number' && k >= 0 && k < a.length) {
          a[k] = op === undefined ? x : compound(op, a[k], x, pos);
          return undefined;
        }
        try {
          place.update(f, (o) => (op === undefined ? x : compound(op, o, x, pos)));
        } catch (e) {
          throw fill(e, pos);
        }
        void ipos;
        return undefined;
      };
    }
  }
  let root: A.Expr = t;
  while (root.k === 'Prop' || root.k === 'Index') root = root.obj;
  const rootGet = checked ? compileExprInner(ctx, root) : undefined;
  return (f) => {
    const x = rhs(f);
    if (constRoot !== undefined) throw mkErr('ErrorAssignmentToConstant', `Cannot modify constant ${constRoot}`, pos);
    if (rootGet && R.checkData) {
      // the root can only grow when a string / container is stored, or a map gains a key
      let grew = hasSize(x);
      try {
        place.update(f, (o) => {
          const r = op === undefined ? x : compound(op, o, x, pos);
          if (o === undefined || hasSize(r)) grew = true;
          return r;
        });
      } catch (e) {
        throw fill(e, pos);
      }
      if (grew) checkSize(rootGet(f), pos);
      return undefined;
    }
    try {
      place.update(f, (o) => (op === undefined ? x : compound(op, o, x, pos)));
    } catch (e) {
      throw fill(e, pos);
    }
    return undefined;
  };
}

function compound(op: string, a: Value, b: Value, pos: number): Value {
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
