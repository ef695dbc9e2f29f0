/**
 * What every part of the parser shares: the parse-setting flags, the variable stack and `ParseState`, the AST
 * checks Rhai does while parsing (positions, constant / boolean / iterable expressions), and `ParserBase`, which
 * holds the parser's fields, the token helpers (lookahead, depth accounting, error recovery) and variable access.
 *
 * The parser is one class split along its seams into a chain of subclasses, one file each, so that every call
 * stays a `this.method()` call as before the split: ParserBase (here) → ExprParser (expressions.ts) →
 * StmtParser (statements.ts) → Parser (functions.ts: functions, closures, modules and the entry points).
 * A method used by an earlier link of the chain is declared `abstract` there.
 */
import type { Expr, FnDef } from '../ast.ts';
import { diag, msg, ParseFailure, type Diagnostic } from '../diagnostics.ts';
import { Lexer } from '../lexer.ts';
import type { ResolvedOptions } from '../options.ts';
import { isValidIdentifier, tokenText, type Token } from '../tokens.ts';

// ParseSettingFlags
export const GLOBAL = 1;
export const FN_SCOPE = 2;
export const CLOSURE_SCOPE = 4;
export const BREAKABLE = 8;
export const NO_STMTS = 16;

// LangOptions (only those that can differ per settings)
export const IF_EXPR = 1;
export const SWITCH_EXPR = 2;
export const STMT_EXPR = 4;
export const ANON_FN = 8;
export const LOOP_EXPR = 16;
export const STRICT = 32;

/** Hard cap on JS recursion, independent of the Rhai depth limits (which may be 0 = unlimited). */
export const MAX_RECURSION = 1200;

/** At most this many diagnostics per parse (the first is Rhai's error, the rest come from recovery). */
export const MAX_DIAGNOSTICS = 20;

const STMT_KEYWORDS: ReadonlySet<string> = new Set([
  'let', 'const', 'fn', 'private', 'import', 'export', 'if', 'switch', 'while', 'loop', 'do', 'for', 'try',
  'return', 'throw',
]);

export interface Settings {
  level: number;
  pos: number;
  flags: number;
  opts: number;
  max: number;
}

export interface VarEntry {
  name: string;
  constant: boolean;
}

/**
 * The variable stack of a `ParseState`. Lookups scan it while it is short; once it holds INDEX_AT entries it keeps
 * an index from name to its positions, so a lookup costs O(1), not a scan of the stack (a script of 100,000 `let`s
 * would otherwise parse in quadratic time). Most scripts and functions never reach that size and allocate no index.
 */
const INDEX_AT = 16;
export class VarStack {
  private readonly items: VarEntry[] = [];
  private where: Map<string, number[]> | undefined = undefined;

  get length(): number {
    return this.items.length;
  }
  /** pop down to `n` entries */
  set length(n: number) {
    while (this.items.length > n) this.pop();
  }
  at(i: number): VarEntry {
    return this.items[i]!;
  }
  push(v: VarEntry): void {
    const items = this.items;
    let where = this.where;
    if (where === undefined && items.length >= INDEX_AT) {
      where = this.where = new Map();
      for (let i = 0; i < items.length; i++) addAt(where, items[i]!.name, i);
    }
    if (where !== undefined) addAt(where, v.name, items.length);
    items.push(v);
  }
  pop(): void {
    const v = this.items.pop();
    if (!v || this.where === undefined) return;
    const list = this.where.get(v.name)!;
    list.pop();
    if (list.length === 0) this.where.delete(v.name);
  }
  /** index of the topmost entry named `name`, or -1 */
  lastIndexOf(name: string): number {
    if (this.where !== undefined) {
      const list = this.where.get(name);
      return list ? list[list.length - 1]! : -1;
    }
    const items = this.items;
    for (let i = items.length - 1; i >= 0; i--) if (items[i]!.name === name) return i;
    return -1;
  }
}

function addAt(where: Map<string, number[]>, name: string, i: number): void {
  const list = where.get(name);
  if (list) list.push(i);
  else where.set(name, [i]);
}

/** Rhai `ParseState`: one per script, function body or closure body. */
export class State {
  stack = new VarStack();
  fp = 0;
  externals: { name: string; pos: number }[] = [];
  /** names in `externals` (a closure's state only) */
  externalNames: Set<string> | undefined = undefined;
  allowCapture = true;
  imports: string[] = [];
  globalImports: string[] = [];
  /** in a switch case's values, where `|` separates alternatives and is not an operator (Rhai's token filter) */
  noBar = false;
  constructor(readonly closure: boolean) {}

  /** 1-based index from the top of the stack, 0 when not found (Rhai `find_var`). */
  findVar(name: string): number {
    const i = this.stack.lastIndexOf(name);
    return i < 0 ? 0 : this.stack.length - i;
  }
}

export function fail(code: string, message: string, offset: number, end?: number): never {
  throw new ParseFailure(diag(code, message, offset, end));
}

/** Rhai `Expr::position()`. */
export function rhaiPos(e: Expr): number {
  return e.k === 'Prop' || e.k === 'Method' ? e.dotPos : e.pos;
}

/** Rhai `Expr::start_position()`. */
export function startPos(e: Expr): number {
  switch (e.k) {
    case 'Logic':
      return startPos(e.left);
    case 'Index':
    case 'Prop':
    case 'Method':
      return startPos(e.obj);
    default:
      return rhaiPos(e);
  }
}

export function isConstantExpr(e: Expr): boolean {
  switch (e.k) {
    case 'Int':
    case 'Float':
    case 'Bool':
    case 'Char':
    case 'Str':
    case 'Unit':
      return true;
    case 'Closure':
      return e.captures.length === 0;
    case 'Interp':
      return e.parts.every(isConstantExpr);
    case 'Array':
      return e.items.every(isConstantExpr);
    case 'Map':
      return e.entries.every((x) => isConstantExpr(x.value));
    default:
      return false;
  }
}

export function ensureBool(e: Expr): Expr {
  let t: string | undefined;
  switch (e.k) {
    case 'Unit':
      t = '()';
      break;
    case 'Int':
      t = 'a number';
      break;
    case 'Float':
      t = 'a floating-point number';
      break;
    case 'Char':
      t = 'a character';
      break;
    case 'Str':
    case 'Interp':
      t = 'a string';
      break;
    case 'Array':
      t = 'an array';
      break;
    case 'Map':
      t = 'an object map';
      break;
    case 'Closure':
      if (e.captures.length === 0) t = 'Fn';
      break;
  }
  if (t !== undefined) fail('MismatchedType', msg.mismatchedType('a boolean expression', t), startPos(e));
  return e;
}

export function ensureIterable(e: Expr): Expr {
  let t: string | undefined;
  switch (e.k) {
    case 'Unit':
      t = '()';
      break;
    case 'Bool':
      t = 'a boolean';
      break;
    case 'Int':
      t = 'a number';
      break;
    case 'Float':
      t = 'a floating-point number';
      break;
    case 'Char':
      t = 'a character';
      break;
    case 'Map':
      t = 'an object map';
      break;
  }
  if (t !== undefined) fail('MismatchedType', msg.mismatchedType('an iterable value', t), startPos(e));
  return e;
}

export function big(v: number | string): bigint {
  return typeof v === 'number' ? BigInt(v) : BigInt(v);
}

export function intValue(b: bigint): number | string {
  return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b.toString();
}

export abstract class ParserBase {
  protected la: Token | null = null;
  protected readonly lx: Lexer;
  protected readonly o: ResolvedOptions;
  /** engine-level LangOptions bits */
  protected readonly engineOpts: number;
  /** names of script functions defined so far (Rhai `lib`, for `is_func_name`) */
  protected readonly fnNames = new Set<string>();
  protected readonly fnKeys = new Set<string>();
  /** functions + anonymous functions defined so far (Rhai `lib.len()`) */
  protected libCount = 0;
  protected readonly functions: FnDef[] = [];
  /** was the last statement returned by parseStmt self-terminated (Rhai `is_self_terminated`)? */
  protected selfTerm = false;
  /** set by parseStmtInner just before it returns a self-terminated statement */
  protected pendingTerm = false;
  protected rec = 0;
  /** diagnostics collected by panic-mode recovery; the first one is Rhai's error */
  readonly diags: Diagnostic[] = [];
  /** > 0 while parsing a construct whose errors Rhai inspects (no recovery inside) */
  protected noRecover = 0;
  protected readonly src: string;

  constructor(src: string, o: ResolvedOptions, start: number) {
    this.o = o;
    this.src = src;
    this.lx = new Lexer(src, { maxStringSize: o.maxStringSize, disabled: o.disabled }, start);
    this.engineOpts =
      (o.ifExpr ? IF_EXPR : 0) |
      (o.switchExpr ? SWITCH_EXPR : 0) |
      (o.stmtExpr ? STMT_EXPR : 0) |
      (o.anonFn ? ANON_FN : 0) |
      (o.loopExpr ? LOOP_EXPR : 0) |
      (o.strict ? STRICT : 0);
  }


  // ---------------------------------------------------------------- tokens, depth, variables

  protected peek(): Token {
    return this.la ?? (this.la = this.lx.next());
  }

  protected next(): Token {
    const t = this.la ?? this.lx.next();
    this.la = null;
    return t;
  }

  protected lexFail(t: Token): never {
    fail(t.code!, t.s!, t.pos, t.end);
  }

  protected up(s: Settings): Settings {
    if (s.max > 0 && s.level >= s.max) fail('ExprTooDeep', msg.exprTooDeep(), s.pos);
    return { level: s.level + 1, pos: s.pos, flags: s.flags, opts: s.opts, max: s.max };
  }

  protected upAt(s: Settings, pos: number): Settings {
    const x = this.up(s);
    x.pos = pos;
    return x;
  }

  protected enter(pos: number): void {
    if (++this.rec > MAX_RECURSION) fail('ExprTooDeep', msg.exprTooDeep(), pos);
  }

  /** Keep a diagnostic from recovery; later ones must be strictly after the previous one (no cascades). */
  protected record(d: Diagnostic): void {
    const last = this.diags[this.diags.length - 1];
    if (last === undefined || d.offset > last.offset) this.diags.push(d);
  }

  protected startsLine(pos: number): boolean {
    for (let i = pos - 1; i >= 0; i--) {
      const c = this.src.charCodeAt(i);
      if (c === 10) return true;
      if (c !== 32 && c !== 9 && c !== 13) return false;
    }
    return true;
  }

  /**
   * Panic mode (clox `synchronize`): skip to the end of the broken statement: past a `;`, before the `}` that
   * closes the enclosing block, or before a statement keyword that starts a line. Always makes progress.
   */
  protected sync(inBlock: boolean, stmtStart: number): void {
    let depth = 0;
    for (;;) {
      const t = this.peek();
      if (t.t === 'eof') break;
      if (depth === 0) {
        if (t.t === ';') {
          this.next();
          break;
        }
        if (t.t === '}' && inBlock) break;
        if (STMT_KEYWORDS.has(t.t) && t.pos > stmtStart && this.startsLine(t.pos)) break;
      }
      this.next();
      if (t.t === '{' || t.t === '#{') depth++;
      else if (t.t === '}' && depth > 0) depth--;
    }
    if (this.peek().pos === stmtStart && this.peek().t !== 'eof') this.next();
  }

  protected unexpected(t: Token): never {
    fail('BadInput/UnexpectedInput', msg.unexpectedInput(tokenText(t)), t.pos);
  }

  /** Rhai `access_var`: look a variable up and record it as a closure capture when it is not local. */
  protected accessVar(st: State, name: string, pos: number): { idx: number; isFunc: boolean } {
    const idx = st.findVar(name);
    const isFunc = this.fnNames.has(name);
    if (st.allowCapture) {
      if (st.closure && !isFunc && idx === 0) {
        const seen = (st.externalNames ??= new Set());
        if (!seen.has(name)) {
          seen.add(name);
          st.externals.push({ name, pos });
        }
      }
    } else {
      st.allowCapture = true;
    }
    return { idx, isFunc };
  }

  protected checkModule(st: State, s: Settings, root: string, pos: number): void {
    if (
      s.opts & STRICT &&
      !st.imports.includes(root) &&
      root !== 'global' &&
      !st.globalImports.includes(root)
    ) {
      fail('ModuleUndefined', msg.moduleUndefined(root), pos);
    }
  }

  protected parseVarName(): { name: string; pos: number } {
    const t = this.next();
    if (t.t === 'ident') return { name: t.s!, pos: t.pos };
    if (t.t === 'reserved' && isValidIdentifier(t.s!)) fail('Reserved', msg.reserved(t.s!, true), t.pos);
    if (t.t === 'lexerr') this.lexFail(t);
    fail('VariableExpected', msg.variableExpected(), t.pos);
  }
}
