/**
 * Rhai parser: recursive descent with precedence climbing, mirroring src/parser.rs function by function so
 * that the first error reported, its wording and its position match Rhai's, including the expression-depth
 * accounting (`ParseSettings::level_up`) that decides `ExprTooDeep`.
 *
 * Entry point: `parse(source, options)` → `{ ok: true, program }` or `{ ok: false, diagnostics }`. It never
 * throws: parse errors unwind internally as `ParseFailure`, and a JS stack overflow (only possible with
 * unlimited depth) becomes `ExprTooDeep`.
 *
 * Parse-time checks done here, as in Rhai: undefined variables/modules in strict mode, constant assignment,
 * shadowing when disabled, closure captures (`ClosureExpr.captures`, Rhai's `external_vars`: every variable
 * the closure body reads or writes that is not one of its params/locals and not the name of an already
 * defined script function).
 */
import type {
  AssignOp,
  BinaryOp,
  BlockExpr,
  Expr,
  FnDef,
  IfExpr,
  MapEntry,
  Param,
  Program,
  Stmt,
  SwitchCase,
} from './ast.ts';
import { diag, msg, ParseFailure, type Diagnostic } from './diagnostics.ts';
import { Lexer } from './lexer.ts';
import { resolveOptions, type ParseOptions, type ResolvedOptions } from './options.ts';
import {
  RESERVED,
  isOpAssignment,
  isStandardKeyword,
  isValidFunctionName,
  isValidIdentifier,
  precedence,
  tokenText,
  type Token,
  type TokenKind,
} from './tokens.ts';

export type { ParseOptions } from './options.ts';
export type ParseResult = { ok: true; program: Program } | { ok: false; diagnostics: Diagnostic[] };

// ParseSettingFlags
const GLOBAL = 1;
const FN_SCOPE = 2;
const CLOSURE_SCOPE = 4;
const BREAKABLE = 8;
const NO_STMTS = 16;

// LangOptions (only those that can differ per settings)
const IF_EXPR = 1;
const SWITCH_EXPR = 2;
const STMT_EXPR = 4;
const ANON_FN = 8;
const LOOP_EXPR = 16;
const STRICT = 32;

/** Hard cap on JS recursion, independent of the Rhai depth limits (which may be 0 = unlimited). */
const MAX_RECURSION = 1200;

/** At most this many diagnostics per parse (the first is Rhai's error, the rest come from recovery). */
const MAX_DIAGNOSTICS = 20;

const STMT_KEYWORDS: ReadonlySet<string> = new Set([
  'let', 'const', 'fn', 'private', 'import', 'export', 'if', 'switch', 'while', 'loop', 'do', 'for', 'try',
  'return', 'throw',
]);

interface Settings {
  level: number;
  pos: number;
  flags: number;
  opts: number;
  max: number;
}

interface VarEntry {
  name: string;
  constant: boolean;
}

/**
 * The variable stack of a `ParseState`, with an index from name to its positions so a lookup costs O(1), not a
 * scan of the stack (a script of 100,000 `let`s would otherwise parse in quadratic time).
 */
class VarStack {
  private readonly items: VarEntry[] = [];
  private readonly where = new Map<string, number[]>();

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
    const list = this.where.get(v.name);
    if (list) list.push(this.items.length);
    else this.where.set(v.name, [this.items.length]);
    this.items.push(v);
  }
  pop(): void {
    const v = this.items.pop();
    if (!v) return;
    const list = this.where.get(v.name)!;
    list.pop();
    if (list.length === 0) this.where.delete(v.name);
  }
  /** index of the topmost entry named `name`, or -1 */
  lastIndexOf(name: string): number {
    const list = this.where.get(name);
    return list ? list[list.length - 1]! : -1;
  }
}

/** Rhai `ParseState`: one per script, function body or closure body. */
class State {
  stack = new VarStack();
  fp = 0;
  externals: { name: string; pos: number }[] = [];
  /** names in `externals` */
  externalNames = new Set<string>();
  allowCapture = true;
  imports: string[] = [];
  globalImports: string[] = [];
  filter: (t: TokenKind) => boolean = () => true;
  constructor(readonly closure: boolean) {}

  /** 1-based index from the top of the stack, 0 when not found (Rhai `find_var`). */
  findVar(name: string): number {
    const i = this.stack.lastIndexOf(name);
    return i < 0 ? 0 : this.stack.length - i;
  }
}

function fail(code: string, message: string, offset: number, end?: number): never {
  throw new ParseFailure(diag(code, message, offset, end));
}

/** Rhai `Expr::position()`. */
function rhaiPos(e: Expr): number {
  return e.k === 'Prop' || e.k === 'Method' ? e.dotPos : e.pos;
}

/** Rhai `Expr::start_position()`. */
function startPos(e: Expr): number {
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

function isConstantExpr(e: Expr): boolean {
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

function ensureBool(e: Expr): Expr {
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

function ensureIterable(e: Expr): Expr {
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

function big(v: number | string): bigint {
  return typeof v === 'number' ? BigInt(v) : BigInt(v);
}

function intValue(b: bigint): number | string {
  return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b.toString();
}

/** Rhai `check_argument_types` for literal indexing. */
function checkIndexTypes(lhs: Expr, idx: Expr): void {
  const at = startPos(idx);
  const isBoolish = idx.k === 'Bool' || (idx.k === 'Logic' && idx.op !== '??');
  if (lhs.k === 'Map') {
    let what: string | undefined;
    if (idx.k === 'Int') what = 'a number';
    else if (idx.k === 'Float') what = 'a float';
    else if (idx.k === 'Char') what = 'a character';
    else if (idx.k === 'Unit') what = '()';
    else if (isBoolish) what = 'a boolean';
    if (what !== undefined) fail('MalformedIndexExpr', `Object map expects string index, not ${what}`, at);
  } else if (lhs.k === 'Int' || lhs.k === 'Array' || lhs.k === 'Str' || lhs.k === 'Interp') {
    let m: string | undefined;
    if (idx.k === 'Str' || idx.k === 'Interp') m = 'Array, string or bit-field expects numeric index, not a string';
    else if (idx.k === 'Float') m = 'Array, string or bit-field expects integer index, not a float';
    else if (idx.k === 'Char') m = 'Array, string or bit-field expects integer index, not a character';
    else if (idx.k === 'Unit') m = 'Array, string or bit-field expects integer index, not ()';
    else if (isBoolish) m = 'Array, string or bit-field expects integer index, not a boolean';
    if (m !== undefined) fail('MalformedIndexExpr', m, at);
  }
}

class Parser {
  private la: Token | null = null;
  private readonly lx: Lexer;
  private readonly o: ResolvedOptions;
  /** engine-level LangOptions bits */
  private readonly engineOpts: number;
  /** names of script functions defined so far (Rhai `lib`, for `is_func_name`) */
  private readonly fnNames = new Set<string>();
  private readonly fnKeys = new Set<string>();
  /** functions + anonymous functions defined so far (Rhai `lib.len()`) */
  private libCount = 0;
  private readonly functions: FnDef[] = [];
  /** was the last statement returned by parseStmt self-terminated (Rhai `is_self_terminated`)? */
  private selfTerm = false;
  /** set by parseStmtInner just before it returns a self-terminated statement */
  private pendingTerm = false;
  private rec = 0;
  /** diagnostics collected by panic-mode recovery; the first one is Rhai's error */
  readonly diags: Diagnostic[] = [];
  /** > 0 while parsing a construct whose errors Rhai inspects (no recovery inside) */
  private noRecover = 0;
  private readonly src: string;

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

  // ---------------------------------------------------------------- tokens

  private peek(): Token {
    return this.la ?? (this.la = this.lx.next());
  }

  private next(): Token {
    const t = this.la ?? this.lx.next();
    this.la = null;
    return t;
  }

  private lexFail(t: Token): never {
    fail(t.code!, t.s!, t.pos, t.end);
  }

  private up(s: Settings): Settings {
    if (s.max > 0 && s.level >= s.max) fail('ExprTooDeep', msg.exprTooDeep(), s.pos);
    return { level: s.level + 1, pos: s.pos, flags: s.flags, opts: s.opts, max: s.max };
  }

  private upAt(s: Settings, pos: number): Settings {
    const x = this.up(s);
    x.pos = pos;
    return x;
  }

  private enter(pos: number): void {
    if (++this.rec > MAX_RECURSION) fail('ExprTooDeep', msg.exprTooDeep(), pos);
  }

  // ---------------------------------------------------------------- error recovery

  /** Keep a diagnostic from recovery; later ones must be strictly after the previous one (no cascades). */
  private record(d: Diagnostic): void {
    const last = this.diags[this.diags.length - 1];
    if (last === undefined || d.offset > last.offset) this.diags.push(d);
  }

  private startsLine(pos: number): boolean {
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
  private sync(inBlock: boolean, stmtStart: number): void {
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

  // ---------------------------------------------------------------- top level

  parseScript(): Program {
    const st = new State(false);
    const s: Settings = { level: 0, pos: 0, flags: GLOBAL, opts: this.engineOpts, max: this.o.maxExprDepth };
    const statements: Stmt[] = [];
    while (this.peek().t !== 'eof') {
      const startAt = this.peek().pos;
      try {
        const stmt = this.parseStmt(st, s);
        if (stmt === null) continue;
        const needSemi = !this.selfTerm;
        statements.push(stmt);
        const t = this.peek();
        if (t.t === 'eof') break;
        if (t.t === ';') {
          if (needSemi) this.next();
        } else if (!needSemi) {
          // `{ … }` followed by anything
        } else if (t.t === 'lexerr') {
          this.lexFail(t);
        } else {
          fail('MissingToken', msg.missingToken(';', 'to terminate this statement'), t.pos);
        }
      } catch (e) {
        if (!(e instanceof ParseFailure) || this.noRecover > 0) throw e;
        this.record(e.diag);
        if (this.diags.length >= MAX_DIAGNOSTICS) break;
        st.fp = 0;
        st.allowCapture = true;
        this.sync(false, startAt);
      }
    }
    return { statements, functions: this.functions };
  }

  parseExpression(): Program {
    const st = new State(false);
    const opts = this.engineOpts & ~STMT_EXPR & ~LOOP_EXPR;
    const s: Settings = { level: 0, pos: 0, flags: GLOBAL | NO_STMTS, opts, max: this.o.maxExprDepth };
    const e = this.parseExpr(st, s);
    const t = this.peek();
    if (t.t !== 'eof') {
      if (t.t === 'lexerr') this.lexFail(t);
      fail('BadInput/UnexpectedInput', msg.unexpectedInput(tokenText(t)), t.pos);
    }
    return { statements: [{ k: 'Expr', pos: e.pos, expr: e }], functions: this.functions };
  }

  // ---------------------------------------------------------------- statements

  /** Rhai `parse_stmt`; returns null for a no-op (`;`, a `fn` definition, end of input). */
  private parseStmt(st: State, s0: Settings): Stmt | null {
    this.enter(this.peek().pos);
    try {
      const r = this.parseStmtInner(st, s0);
      this.selfTerm = this.pendingTerm;
      return r;
    } finally {
      this.pendingTerm = false;
      this.rec--;
    }
  }

  private parseStmtInner(st: State, s0: Settings): Stmt | null {
    const t = this.peek();
    this.pendingTerm = false;
    if (t.t === 'eof') return null;
    const s: Settings = { level: s0.level, pos: t.pos, flags: s0.flags, opts: s0.opts, max: s0.max };
    const looping = this.o.looping;
    switch (t.t) {
      case ';':
        this.next();
        return null;
      case '{': {
        const b = this.parseBlock(st, this.up(s));
        this.pendingTerm = true;
        return { k: 'Expr', pos: b.pos, expr: b };
      }
      case 'fn':
      case 'private':
        return this.parseFnStmt(st, s, t);
      case 'if': {
        const e = this.parseIf(st, this.up(s));
        this.pendingTerm = true;
        return { k: 'Expr', pos: e.pos, expr: e };
      }
      case 'switch': {
        const e = this.parseSwitch(st, this.up(s));
        this.pendingTerm = true;
        return { k: 'Expr', pos: e.pos, expr: e };
      }
      case 'while':
      case 'loop':
        if (looping) {
          const e = this.parseWhile(st, this.up(s));
          this.pendingTerm = true;
          return { k: 'Expr', pos: e.pos, expr: e };
        }
        break;
      case 'do':
        if (looping) {
          const e = this.parseDo(st, this.up(s));
          this.pendingTerm = true;
          return { k: 'Expr', pos: e.pos, expr: e };
        }
        break;
      case 'for':
        if (looping) {
          const e = this.parseFor(st, this.up(s));
          this.pendingTerm = true;
          return { k: 'Expr', pos: e.pos, expr: e };
        }
        break;
      case 'continue':
      case 'break':
        if (!looping) break;
        if (!(s.flags & BREAKABLE)) fail('LoopBreak', msg.loopBreak(), t.pos);
        this.next();
        if (t.t === 'continue') return { k: 'Continue', pos: t.pos };
        {
          const value = this.optionalExpr(st, s);
          return value === undefined ? { k: 'Break', pos: t.pos } : { k: 'Break', pos: t.pos, value };
        }
      case 'return':
      case 'throw': {
        this.next();
        const value = this.optionalExpr(st, s);
        const k = t.t === 'return' ? 'Return' : 'Throw';
        return value === undefined ? { k, pos: t.pos } : { k, pos: t.pos, value };
      }
      case 'try': {
        const r = this.parseTryCatch(st, this.up(s));
        this.pendingTerm = true;
        return r;
      }
      case 'let':
        return this.parseLet(st, this.up(s), false, false);
      case 'const':
        return this.parseLet(st, this.up(s), true, false);
      case 'import':
        return this.parseImport(st, this.up(s));
      case 'export':
        if (!(s.flags & GLOBAL)) fail('WrongExport', msg.wrongExport(), t.pos);
        return this.parseExport(st, this.up(s));
    }
    return this.parseExprStmt(st, this.up(s));
  }

  /** The optional value of `break`/`return`/`throw`: absent when nothing could be parsed at all. */
  private optionalExpr(st: State, s: Settings): Expr | undefined {
    const cur = this.peek().pos;
    this.noRecover++;
    try {
      return this.parseExpr(st, this.up(s));
    } catch (e) {
      if (e instanceof ParseFailure && this.peek().pos === cur) return undefined;
      throw e;
    } finally {
      this.noRecover--;
    }
  }

  private parseFnStmt(st: State, s: Settings, t: Token): Stmt | null {
    const priv = t.t === 'private';
    if (priv) this.next();
    const f = this.next();
    if (f.t !== 'fn') fail('MissingToken', msg.missingToken('fn', "following 'private'"), f.pos);
    if (!(s.flags & GLOBAL)) fail('WrongFnDefinition', msg.wrongFnDefinition(), t.pos);
    if (this.o.maxFunctions > 0 && this.libCount >= this.o.maxFunctions) {
      fail('TooManyFunctions', msg.tooManyFunctions(), f.pos);
    }
    const ns = new State(false);
    ns.globalImports = st.globalImports.concat(st.imports);
    const fs: Settings = {
      level: 0,
      pos: f.pos,
      flags: FN_SCOPE,
      opts: this.engineOpts | (s.opts & STRICT),
      max: this.o.maxFunctionExprDepth,
    };
    const def = this.parseFn(ns, fs, priv);
    const key = `${def.thisType ?? ''}.${def.name}/${def.params.length}`;
    if (this.fnKeys.has(key)) {
      fail('FnDuplicatedDefinition', msg.fnDuplicatedDefinition(def.name, def.params.length), f.pos);
    }
    this.fnKeys.add(key);
    this.fnNames.add(def.name);
    this.libCount++;
    this.functions.push(def);
    return null;
  }

  private parseFn(st: State, s0: Settings, priv: boolean): FnDef {
    const s = this.up(s0);
    let t = this.next();
    let thisType: string | undefined;
    if ((t.t === 'ident' || t.t === 'str') && this.peek().t === '.') {
      this.next();
      thisType = t.s === 'int' ? 'i64' : t.s === 'float' ? 'f64' : t.s;
      t = this.next();
    } else if (t.t === 'str') {
      fail('MissingToken', msg.missingToken('.', "after the type name for 'this'"), this.peek().pos);
    }
    let name: string;
    if (t.t === 'ident' && isValidFunctionName(t.s!)) name = t.s!;
    else if (t.t === 'reserved') fail('Reserved', msg.reserved(t.s!, isValidIdentifier(t.s!)), t.pos);
    else fail('FnMissingName', msg.fnMissingName(), t.pos);
    const namePos = t.pos;

    let noParams: boolean;
    const p = this.peek();
    if (p.t === '(') {
      this.next();
      noParams = this.peek().t === ')';
      if (noParams) this.next();
    } else if (p.t === '()') {
      this.next();
      noParams = true;
    } else {
      fail('FnMissingParams', msg.fnMissingParams(name), p.pos);
    }

    const params: Param[] = [];
    if (!noParams) {
      for (;;) {
        const n = this.next();
        if (n.t === ')') break;
        if (n.t === 'ident') {
          if (params.some((x) => x.name === n.s)) fail('FnDuplicatedParam', msg.fnDuplicatedParam(name, n.s!), n.pos);
          st.stack.push({ name: n.s!, constant: false });
          params.push({ name: n.s!, pos: n.pos });
        } else if (n.t === 'lexerr') this.lexFail(n);
        else if (n.t === 'reserved') fail('Reserved', msg.reserved(n.s!, isValidIdentifier(n.s!)), n.pos);
        else if (isStandardKeyword(n.t)) fail('VariableExpected', msg.variableExpected(), n.pos);
        else fail('MissingToken', msg.missingToken(')', `to close the parameters list of function '${name}'`), n.pos);

        const n2 = this.next();
        if (n2.t === ')') break;
        if (n2.t === ',') continue;
        if (n2.t === 'lexerr') this.lexFail(n2);
        fail('MissingToken', msg.missingToken(',', `to separate the parameters of function '${name}'`), n2.pos);
      }
    }

    const b = this.peek();
    if (b.t !== '{') fail('FnMissingBody', msg.fnMissingBody(name), b.pos);
    const body = this.parseBlock(st, s);
    const def: FnDef = { name, pos: namePos, params, body, private: priv };
    if (thisType !== undefined) def.thisType = thisType;
    return def;
  }

  /** Rhai `parse_block`. */
  private parseBlock(st: State, s0: Settings): BlockExpr {
    const lb = this.next();
    if (lb.t !== '{') {
      if (lb.t === 'lexerr') this.lexFail(lb);
      fail('MissingToken', msg.missingToken('{', 'to start a statement block'), lb.pos);
    }
    const s = this.upAt(s0, lb.pos);
    const body: Stmt[] = [];

    if (s.flags & NO_STMTS) {
      body.push(this.parseExprStmt(st, s));
      const rb = this.next();
      if (rb.t === '}') return { k: 'Block', pos: lb.pos, end: rb.pos, body };
      if (rb.t === 'lexerr') this.lexFail(rb);
      fail('MissingToken', msg.missingToken('{', 'to start a statement block'), rb.pos);
    }

    const prevFp = st.fp;
    st.fp = st.stack.length;
    const importsLen = st.imports.length;
    s.flags &= ~GLOBAL;
    let end: number;
    for (;;) {
      const t = this.peek();
      if (t.t === '}') {
        end = this.next().pos;
        break;
      }
      if (t.t === 'eof') fail('MissingToken', msg.missingToken('}', 'to terminate this block'), t.pos);
      const fp = st.fp;
      try {
        const stmt = this.parseStmt(st, s);
        if (stmt === null) continue;
        const needSemi = !this.selfTerm;
        body.push(stmt);
        const n = this.peek();
        if (n.t === '}') {
          end = this.next().pos;
          break;
        }
        if (n.t === ';') this.next();
        else if (!needSemi) {
          // self-terminated statement
        } else if (n.t === 'lexerr') this.lexFail(n);
        else fail('MissingToken', msg.missingToken(';', 'to terminate this statement'), n.pos);
      } catch (e) {
        if (!(e instanceof ParseFailure) || this.noRecover > 0 || this.diags.length >= MAX_DIAGNOSTICS) throw e;
        this.record(e.diag);
        st.fp = fp;
        st.allowCapture = true;
        this.sync(true, t.pos);
      }
    }
    st.stack.length = st.fp;
    st.fp = prevFp;
    st.imports.length = importsLen;
    return { k: 'Block', pos: lb.pos, end, body };
  }

  /** Rhai `parse_expr_stmt`: an expression, or an assignment. */
  private parseExprStmt(st: State, s0: Settings): Stmt {
    const s: Settings = { ...s0, pos: this.peek().pos };
    const lhs = this.parseExpr(st, s);
    const t = this.peek();
    let op: AssignOp;
    if (t.t === '=') op = '=';
    else if (isOpAssignment(t.t)) op = t.t as AssignOp;
    else return { k: 'Expr', pos: lhs.pos, expr: lhs };
    this.next();
    s.pos = t.pos;
    const rhs = this.parseExpr(st, s);
    return this.makeAssignment(st, op, lhs, rhs, t.pos);
  }

  /** Rhai `make_assignment_stmt`. */
  private makeAssignment(st: State, op: AssignOp, lhs: Expr, rhs: Expr, opPos: number): Stmt {
    const ok: Stmt = { k: 'Assign', pos: opPos, op, target: lhs, value: rhs };
    switch (lhs.k) {
      case 'This':
        return ok;
      case 'Var': {
        if (lhs.ns) return ok;
        const idx = st.findVar(lhs.name);
        if (idx > 0 && st.stack.at(st.stack.length - idx).constant) {
          fail('AssignmentToConstant', msg.assignmentToConstant(lhs.name), lhs.pos);
        }
        return ok;
      }
      case 'Index':
      case 'Prop':
      case 'Method': {
        // any method call in the chain is not an l-value (the left-most one is reported)
        let root: Expr = lhs;
        let method: Expr | undefined;
        while (root.k === 'Index' || root.k === 'Prop' || root.k === 'Method') {
          if (root.k === 'Method') method = root;
          root = root.obj;
        }
        if (method !== undefined) fail('AssignmentToInvalidLHS', msg.assignmentToInvalidLHS(''), method.pos);
        if (root.k === 'Var' || root.k === 'This') return ok;
        fail('AssignmentToInvalidLHS', msg.assignmentToInvalidLHS(''), rhaiPos(root));
      }
    }
    if (isConstantExpr(lhs)) fail('AssignmentToConstant', msg.assignmentToConstant(''), startPos(lhs));
    if (lhs.k === 'Logic' && op === '=') {
      fail('BadInput/ImproperSymbol', msg.improperSymbol('=', "Possibly a typo of '=='?"), opPos);
    }
    fail('AssignmentToInvalidLHS', msg.assignmentToInvalidLHS(''), rhaiPos(lhs));
  }

  private ensureNotStatementExpr(what: string): void {
    const t = this.peek();
    if (t.t === '{') fail('ExprExpected', msg.exprExpected(what), t.pos);
  }

  private ensureNotAssignment(): void {
    const t = this.peek();
    if (t.t === '=') fail('BadInput/ImproperSymbol', msg.improperSymbol('=', "Possibly a typo of '=='?"), t.pos);
  }

  private parseIf(st: State, s0: Settings): IfExpr {
    const kw = this.next();
    const s = this.upAt(s0, kw.pos);
    this.ensureNotStatementExpr('a boolean');
    const cond = ensureBool(this.parseExpr(st, s));
    this.ensureNotAssignment();
    const then = this.parseBlock(st, s);
    const e: IfExpr = { k: 'If', pos: kw.pos, cond, then };
    if (this.peek().t === 'else') {
      this.next();
      e.otherwise = this.peek().t === 'if' ? this.parseIf(st, s) : this.parseBlock(st, s);
    }
    return e;
  }

  private parseWhile(st: State, s0: Settings): Expr {
    const s = this.up(s0);
    const kw = this.next();
    let cond: Expr | undefined;
    if (kw.t === 'while') {
      this.ensureNotStatementExpr('a boolean');
      cond = ensureBool(this.parseExpr(st, s));
      this.ensureNotAssignment();
    }
    s.pos = kw.pos;
    s.flags |= BREAKABLE;
    const body = this.parseBlock(st, s);
    return cond === undefined ? { k: 'Loop', pos: kw.pos, body } : { k: 'While', pos: kw.pos, cond, body };
  }

  private parseDo(st: State, s0: Settings): Expr {
    const kw = this.next();
    const s = this.upAt(s0, kw.pos);
    const origBreakable = s.flags & BREAKABLE;
    s.flags |= BREAKABLE;
    const body = this.parseBlock(st, s);
    const w = this.next();
    if (w.t !== 'while' && w.t !== 'until') fail('MissingToken', msg.missingToken('while', 'for the do statement'), w.pos);
    if (!origBreakable) s.flags &= ~BREAKABLE;
    this.ensureNotStatementExpr('a boolean');
    const cond = ensureBool(this.parseExpr(st, s));
    this.ensureNotAssignment();
    return { k: 'Do', pos: kw.pos, body, cond, until: w.t === 'until' };
  }

  private parseVarName(): { name: string; pos: number } {
    const t = this.next();
    if (t.t === 'ident') return { name: t.s!, pos: t.pos };
    if (t.t === 'reserved' && isValidIdentifier(t.s!)) fail('Reserved', msg.reserved(t.s!, true), t.pos);
    if (t.t === 'lexerr') this.lexFail(t);
    fail('VariableExpected', msg.variableExpected(), t.pos);
  }

  private parseFor(st: State, s0: Settings): Expr {
    const kw = this.next();
    const s = this.upAt(s0, kw.pos);
    let v: { name: string; pos: number };
    let counter: { name: string; pos: number } | undefined;
    if (this.peek().t === '(') {
      this.next();
      v = this.parseVarName();
      const c = this.peek();
      if (c.t !== ',') fail('MissingToken', msg.missingToken(',', 'after the iteration variable name'), c.pos);
      this.next();
      counter = this.parseVarName();
      if (counter.name === v.name) fail('DuplicatedVariable', msg.duplicatedVariable(counter.name), counter.pos);
      const r = this.peek();
      if (r.t !== ')') fail('MissingToken', msg.missingToken(')', 'to close the iteration variable'), r.pos);
      this.next();
    } else {
      v = this.parseVarName();
    }
    const inTok = this.next();
    if (inTok.t !== 'in') {
      if (inTok.t === 'lexerr') this.lexFail(inTok);
      fail('MissingToken', msg.missingToken('in', 'after the iteration variable'), inTok.pos);
    }
    this.ensureNotStatementExpr('a boolean');
    const iterable = ensureIterable(this.parseExpr(st, s));
    const prevLen = st.stack.length;
    if (counter) st.stack.push({ name: counter.name, constant: false });
    st.stack.push({ name: v.name, constant: false });
    s.flags |= BREAKABLE;
    const body = this.parseBlock(st, s);
    st.stack.length = prevLen;
    const e: Expr = { k: 'For', pos: kw.pos, var: v.name, varPos: v.pos, iterable, body };
    if (counter) {
      e.counter = counter.name;
      e.counterPos = counter.pos;
    }
    return e;
  }

  private parseLet(st: State, s: Settings, constant: boolean, exported: boolean): Stmt {
    const kw = this.next();
    s.pos = kw.pos;
    const { name, pos } = this.parseVarName();
    if (!this.o.shadowing && st.findVar(name) > 0) {
      fail('VariableExists', msg.variableExists(name), pos);
    }
    let value: Expr | undefined;
    if (this.peek().t === '=') {
      this.next();
      value = this.parseExpr(st, this.up(s));
    }
    const existing = st.findVar(name);
    const offset = st.stack.length - existing;
    if (existing > 0 && offset >= st.fp) st.stack.at(offset).constant = constant;
    else st.stack.push({ name, constant });
    const stmt: Stmt = { k: 'Let', pos, kwPos: kw.pos, name, constant, exported };
    if (value !== undefined) stmt.value = value;
    return stmt;
  }

  private parseImport(st: State, s0: Settings): Stmt {
    const kw = this.next();
    const s = this.upAt(s0, kw.pos);
    const path = this.parseExpr(st, s);
    const stmt: Stmt = { k: 'Import', pos: kw.pos, path };
    if (this.peek().t === 'as') {
      this.next();
      const { name, pos } = this.parseVarName();
      stmt.alias = name;
      stmt.aliasPos = pos;
      st.imports.push(name);
    } else {
      st.imports.push('');
    }
    return stmt;
  }

  private parseExport(st: State, s: Settings): Stmt {
    const kw = this.next();
    s.pos = kw.pos;
    const p = this.peek();
    if (p.t === 'let' || p.t === 'const') return this.parseLet(st, this.up(s), p.t === 'const', true);
    const id = this.parseVarName();
    let alias: string | undefined;
    if (this.peek().t === 'as') {
      this.next();
      alias = this.parseVarName().name;
    }
    return { k: 'Export', pos: kw.pos, items: [alias === undefined ? { name: id.name, pos: id.pos } : { name: id.name, pos: id.pos, alias }] };
  }

  private parseTryCatch(st: State, s0: Settings): Stmt {
    const kw = this.next();
    const s = this.upAt(s0, kw.pos);
    const body = this.parseBlock(st, s);
    const c = this.peek();
    if (c.t !== 'catch') fail('MissingToken', msg.missingToken('catch', "for the 'try' statement"), c.pos);
    this.next();
    let v: { name: string; pos: number } | undefined;
    if (this.peek().t === '(') {
      this.next();
      v = this.parseVarName();
      const r = this.peek();
      if (r.t !== ')') fail('MissingToken', msg.missingToken(')', 'to enclose the catch variable'), r.pos);
      this.next();
      st.stack.push({ name: v.name, constant: false });
    }
    const catchBody = this.parseBlock(st, s);
    if (v) st.stack.pop();
    const stmt: Stmt = { k: 'Try', pos: kw.pos, body, catchBody };
    if (v) {
      stmt.catchVar = v.name;
      stmt.catchVarPos = v.pos;
    }
    return stmt;
  }

  private parseSwitch(st: State, s0: Settings): Expr {
    const kw = this.next();
    const s = this.upAt(s0, kw.pos);
    const subject = this.parseExpr(st, s);
    const lb = this.next();
    if (lb.t !== '{') {
      if (lb.t === 'lexerr') this.lexFail(lb);
      fail('MissingToken', msg.missingToken('{', 'to start a switch block'), lb.pos);
    }
    const cases: SwitchCase[] = [];
    let def: Stmt | undefined;
    let defPos = -1;
    let seenRange = false;
    for (;;) {
      const t = this.peek();
      if (t.t === '}') {
        this.next();
        break;
      }
      if (t.t === 'eof') fail('MissingToken', msg.missingToken('}', 'to end this switch block'), t.pos);
      const values: Expr[] = [];
      let guard: Expr | undefined;
      if (t.t === '_' && defPos < 0) {
        defPos = t.pos;
        this.next();
        const i = this.peek();
        if (i.t === 'if') fail('WrongSwitchCaseCondition', msg.wrongSwitchCaseCondition(), i.pos);
      } else if (defPos >= 0) {
        fail('WrongSwitchDefaultCase', msg.wrongSwitchDefaultCase(), defPos);
      } else {
        for (;;) {
          const saved = st.filter;
          st.filter = (k) => k !== '|';
          this.noRecover++;
          try {
            values.push(this.parseExpr(st, s));
          } catch (e) {
            if (e instanceof ParseFailure) fail('ExprExpected', msg.exprExpected('literal'), e.diag.offset);
            throw e;
          } finally {
            st.filter = saved;
            this.noRecover--;
          }
          if (this.peek().t !== '|') break;
          this.next();
        }
        if (this.peek().t === 'if') {
          this.next();
          this.ensureNotStatementExpr('a boolean');
          guard = ensureBool(this.parseExpr(st, s));
          this.ensureNotAssignment();
        }
      }
      const arrow = this.next();
      if (arrow.t !== '=>') {
        if (arrow.t === 'lexerr') this.lexFail(arrow);
        fail('MissingToken', msg.missingToken('=>', 'in this switch case'), arrow.pos);
      }
      let body: Stmt;
      let needComma: boolean;
      if (s.flags & NO_STMTS) {
        const e = this.parseExpr(st, s);
        body = { k: 'Expr', pos: e.pos, expr: e };
        needComma = true;
      } else {
        const bpos = this.peek().pos;
        body = this.parseStmt(st, s) ?? { k: 'Noop', pos: bpos };
        needComma = !this.selfTerm;
      }
      if (values.length === 0) {
        def = body;
      } else {
        for (const v of values) {
          const lit = this.switchLiteral(v);
          if (lit === 'range') seenRange = true;
          else if (seenRange && (lit === 'Int' || lit === 'Float')) {
            fail('WrongSwitchIntegerCase', msg.wrongSwitchIntegerCase(), startPos(v));
          }
        }
        const c: SwitchCase = { pos: startPos(values[0]!), values, body };
        if (guard !== undefined) c.guard = guard;
        cases.push(c);
      }
      const n = this.peek();
      if (n.t === ',') this.next();
      else if (n.t === '}') {
        // end
      } else if (n.t === 'eof') fail('MissingToken', msg.missingToken(')', 'to end this switch block'), n.pos);
      else if (n.t === 'lexerr') this.lexFail(n);
      else if (needComma) fail('MissingToken', msg.missingToken(',', 'to separate the items in this switch block'), n.pos);
    }
    const e: Expr = { k: 'Switch', pos: kw.pos, subject, cases };
    if (def !== undefined) {
      e.default = def;
      e.defaultPos = defPos;
    }
    return e;
  }

  /** Rhai `get_literal_value` for switch cases: the literal's kind, 'range' for a non-empty range, 'empty' for an empty one. */
  private switchLiteral(v: Expr): string {
    if (v.k === 'Binary' && (v.op === '..' || v.op === '..=') && v.left.k === 'Int' && v.right.k === 'Int') {
      const a = big(v.left.value);
      const b = big(v.right.value);
      const empty = v.op === '..' ? a >= b : a > b;
      return empty ? 'empty' : 'range';
    }
    if (isConstantExpr(v) && v.k !== 'Interp' && v.k !== 'Closure') return v.k;
    if (v.k === 'Interp' && v.parts.every((p) => p.k === 'Str')) return 'Str';
    fail('ExprExpected', msg.exprExpected('a literal'), startPos(v));
  }

  // ---------------------------------------------------------------- expressions

  private parseExpr(st: State, s0: Settings): Expr {
    const s = this.up({ level: s0.level, pos: this.peek().pos, flags: s0.flags, opts: s0.opts, max: s0.max });
    const lhs = this.parseUnary(st, s);
    return this.parseBinary(st, s, 1, lhs);
  }

  private parseUnary(st: State, s0: Settings): Expr {
    const t = this.peek();
    this.enter(t.pos);
    try {
      if (!st.filter(t.t)) fail('BadInput/UnexpectedInput', msg.unexpectedInput(tokenText(t)), t.pos);
      const s: Settings = { level: s0.level, pos: t.pos, flags: s0.flags, opts: s0.opts, max: s0.max };
      switch (t.t) {
        case '-':
        case 'u-': {
          this.next();
          const e = this.parseUnary(st, this.up(s));
          if (e.k === 'Int') {
            if (e.value === '-9223372036854775808') return { k: 'Float', pos: t.pos, value: 9223372036854775808 };
            if (typeof e.value === 'number') return { k: 'Int', pos: t.pos, value: e.value === 0 ? 0 : -e.value };
            return { k: 'Int', pos: t.pos, value: intValue(-big(e.value)) };
          }
          if (e.k === 'Float') return { k: 'Float', pos: t.pos, value: -e.value };
          return { k: 'Unary', pos: t.pos, op: '-', operand: e };
        }
        case '+':
        case 'u+': {
          this.next();
          const e = this.parseUnary(st, this.up(s));
          if (e.k === 'Int' || e.k === 'Float') return e;
          return { k: 'Unary', pos: t.pos, op: '+', operand: e };
        }
        case '!': {
          this.next();
          return { k: 'Unary', pos: t.pos, op: '!', operand: this.parseUnary(st, this.up(s)) };
        }
        case 'eof':
          fail('UnexpectedEOF', msg.unexpectedEOF(), t.pos);
      }
      return this.parsePrimary(st, s);
    } finally {
      this.rec--;
    }
  }

  private parseBinary(st: State, s0: Settings, parentPrec: number, lhs: Expr): Expr {
    this.enter(this.peek().pos);
    try {
      let s: Settings = { level: s0.level, pos: rhaiPos(lhs), flags: s0.flags, opts: s0.opts, max: s0.max };
      let root = lhs;
      for (;;) {
        const opTok = this.peek();
        if (!st.filter(opTok.t)) return root;
        const prec = this.precOf(opTok);
        const bindRight = opTok.t === '**';
        if (prec < parentPrec || (prec === parentPrec && !bindRight)) return root;
        this.next();

        let rhs: Expr;
        const n = this.peek();
        if (opTok.t === '??' && (n.t === 'break' || n.t === 'continue' || n.t === 'return' || n.t === 'throw')) {
          const stmt = this.parseStmt(st, s)!;
          rhs = { k: 'Block', pos: stmt.pos, end: stmt.pos, body: [stmt] };
        } else if (
          (opTok.t === '..' || opTok.t === '..=') &&
          (n.t === ']' || n.t === ')' || n.t === '}' || n.t === ',' || n.t === ';' || n.t === '=>')
        ) {
          rhs = { k: 'Unit', pos: n.pos };
        } else {
          rhs = this.parseUnary(st, s);
        }

        const nextPrec = this.precOf(this.peek());
        if ((prec === nextPrec && bindRight) || prec < nextPrec) {
          rhs = this.parseBinary(st, this.up(s), prec, rhs);
        }
        s = this.up(s);
        s.pos = opTok.pos;

        switch (opTok.t) {
          case '&&':
          case '||':
            root = { k: 'Logic', pos: opTok.pos, op: opTok.t, left: ensureBool(root), right: ensureBool(rhs) };
            break;
          case '??':
            root = { k: 'Logic', pos: opTok.pos, op: '??', left: root, right: rhs };
            break;
          default:
            root = { k: 'Binary', pos: opTok.pos, op: opTok.t as BinaryOp, left: root, right: rhs };
        }
      }
    } finally {
      this.rec--;
    }
  }

  private precOf(t: Token): number {
    if (t.t === 'reserved' && !isValidIdentifier(t.s!)) fail('UnknownOperator', msg.unknownOperator(t.s!), t.pos);
    return precedence(t.t);
  }

  private parsePrimary(st: State, s0: Settings): Expr {
    const t = this.peek();
    const s: Settings = { level: s0.level, pos: t.pos, flags: s0.flags, opts: s0.opts, max: s0.max };
    if (!st.filter(t.t)) fail('BadInput/UnexpectedInput', msg.unexpectedInput(tokenText(t)), t.pos);
    let root: Expr;
    switch (t.t) {
      case 'eof':
        fail('UnexpectedEOF', msg.unexpectedEOF(), t.pos);
      case '()':
        this.next();
        root = { k: 'Unit', pos: t.pos };
        break;
      case 'int':
        this.next();
        root = { k: 'Int', pos: t.pos, value: t.n! };
        break;
      case 'char':
        this.next();
        root = { k: 'Char', pos: t.pos, value: t.s! };
        break;
      case 'str':
        this.next();
        root = { k: 'Str', pos: t.pos, value: t.s! };
        break;
      case 'true':
      case 'false':
        this.next();
        root = { k: 'Bool', pos: t.pos, value: t.t === 'true' };
        break;
      case '..':
      case '..=':
        root = { k: 'Int', pos: t.pos, value: 0 };
        break;
      case 'float':
        this.next();
        root = { k: 'Float', pos: t.pos, value: t.n as number };
        break;
      case '{':
        if (!(s.opts & STMT_EXPR)) return this.unexpected(t);
        root = this.parseBlock(st, this.up(s));
        break;
      case '(': {
        this.next();
        const e = this.parseExpr(st, this.up(s));
        const r = this.next();
        if (r.t !== ')') {
          if (r.t === 'lexerr') this.lexFail(r);
          fail('MissingToken', msg.missingToken(')', 'for a matching ( in this expression'), r.pos);
        }
        root = e;
        break;
      }
      case 'if':
        if (!(s.opts & IF_EXPR)) return this.unexpected(t);
        root = this.parseIf(st, this.up(s));
        break;
      case 'while':
      case 'loop':
        if (!this.o.looping || !(s.opts & LOOP_EXPR)) return this.unexpected(t);
        root = this.parseWhile(st, this.up(s));
        break;
      case 'do':
        if (!this.o.looping || !(s.opts & LOOP_EXPR)) return this.unexpected(t);
        root = this.parseDo(st, this.up(s));
        break;
      case 'for':
        if (!this.o.looping || !(s.opts & LOOP_EXPR)) return this.unexpected(t);
        root = this.parseFor(st, this.up(s));
        break;
      case 'switch':
        if (!(s.opts & SWITCH_EXPR)) return this.unexpected(t);
        root = this.parseSwitch(st, this.up(s));
        break;
      case '|':
      case '||':
        if (!(s.opts & ANON_FN)) return this.unexpected(t);
        if (this.o.maxFunctions > 0 && this.libCount >= this.o.maxFunctions) {
          fail('TooManyFunctions', msg.tooManyFunctions(), s.pos);
        }
        root = this.parseAnonFn(st, s);
        break;
      case 'interp':
        root = this.parseInterpolated(st, s);
        break;
      case '[':
        root = this.parseArray(st, this.up(s));
        break;
      case '#{':
        root = this.parseMap(st, this.up(s));
        break;
      case 'ident': {
        this.next();
        const name = t.s!;
        const n = this.peek();
        if (n.t === '(' || n.t === '!' || n.t === '()' || n.t === '::') {
          st.allowCapture = true;
        } else {
          const { idx, isFunc } = this.accessVar(st, name, t.pos);
          if (!isFunc && idx === 0 && s.opts & STRICT && !this.o.external.has(name)) {
            fail('VariableUndefined', msg.variableUndefined(name), t.pos);
          }
        }
        root = { k: 'Var', pos: t.pos, name };
        break;
      }
      case 'reserved': {
        this.next();
        const name = t.s!;
        const n = this.peek();
        if ((n.t === '(' || n.t === '!' || n.t === '()') && RESERVED.get(name)?.[0]) {
          root = { k: 'Var', pos: t.pos, name };
        } else if (name === 'this') {
          if (!(s.flags & FN_SCOPE)) {
            fail('BadInput/ImproperSymbol', msg.improperSymbol('this', "'this' can only be used in functions"), t.pos);
          }
          root = { k: 'This', pos: t.pos };
        } else {
          fail('Reserved', msg.reserved(name, isValidIdentifier(name)), t.pos);
        }
        break;
      }
      case 'lexerr':
        this.next();
        this.lexFail(t);
      default:
        return this.unexpected(t);
    }
    if (!st.filter(this.peek().t)) return root;
    return this.parsePostfix(st, s, root);
  }

  private unexpected(t: Token): never {
    fail('BadInput/UnexpectedInput', msg.unexpectedInput(tokenText(t)), t.pos);
  }

  /** Rhai `access_var`: look a variable up and record it as a closure capture when it is not local. */
  private accessVar(st: State, name: string, pos: number): { idx: number; isFunc: boolean } {
    const idx = st.findVar(name);
    const isFunc = this.fnNames.has(name);
    if (st.allowCapture) {
      if (st.closure && !isFunc && idx === 0 && !st.externalNames.has(name)) {
        st.externalNames.add(name);
        st.externals.push({ name, pos });
      }
    } else {
      st.allowCapture = true;
    }
    return { idx, isFunc };
  }

  private checkModule(st: State, s: Settings, root: string, pos: number): void {
    if (
      s.opts & STRICT &&
      !st.imports.includes(root) &&
      root !== 'global' &&
      !st.globalImports.includes(root)
    ) {
      fail('ModuleUndefined', msg.moduleUndefined(root), pos);
    }
  }

  /** Rhai `parse_postfix`: `.prop`, `.method()`, `[idx]`, `?.`, `?[`, calls, `::` qualification. */
  private parsePostfix(st: State, s0: Settings, lhs0: Expr): Expr {
    let s: Settings = { ...s0 };
    let lhs = lhs0;
    // position of the first namespace segment of a qualified variable, to report ModuleUndefined
    let nsRootPos = -1;
    for (;;) {
      const t = this.peek();
      const tk = t.t;
      const isChain = tk === '.' || tk === '?.' || tk === '[' || tk === '?[';
      if (!isChain && !(lhs.k === 'Var' && (tk === '(' || tk === '()' || tk === '!' || tk === '::'))) break;
      this.next();
      s.pos = t.pos;

      if (lhs.k === 'Var' && tk === '!') {
        const n = this.peek();
        if (lhs.ns) {
          if (n.t === '(' || n.t === '()') fail('BadInput/UnexpectedInput', msg.unexpectedInput('!'), t.pos);
          fail('BadInput/ImproperSymbol', msg.improperSymbol('!', "'!' cannot be used to call module functions"), t.pos);
        }
        if (n.t !== '(' && n.t !== '()') {
          fail('MissingToken', msg.missingToken('(', 'to start arguments list of function call'), n.pos);
        }
        const noArgs = this.next().t === '()';
        lhs = this.parseFnCall(st, { ...s, pos: lhs.pos }, lhs.name, noArgs, true, undefined, -1);
        continue;
      }
      if (lhs.k === 'Var' && (tk === '(' || tk === '()')) {
        lhs = this.parseFnCall(st, { ...s, pos: lhs.pos }, lhs.name, tk === '()', false, lhs.ns, nsRootPos);
        continue;
      }
      if (lhs.k === 'Var' && tk === '::') {
        const id = this.parseVarName();
        if (nsRootPos < 0) nsRootPos = lhs.pos;
        lhs = { k: 'Var', pos: nsRootPos, name: id.name, ns: [...(lhs.ns ?? []), lhs.name] };
        continue;
      }
      if (tk === '[' || tk === '?[') {
        lhs = this.parseIndexChain(st, this.up(s), lhs, tk === '?[');
        continue;
      }
      // `.` or `?.`
      const n = this.peek();
      if (n.t === 'ident') {
        // property names are never captured
      } else if (n.t === 'reserved' && RESERVED.get(n.s!)?.[1]) {
        // method-callable reserved name (call, curry, type_of, is_shared)
      } else if (n.t === 'reserved') {
        fail('Reserved', msg.reserved(n.s!, isValidIdentifier(n.s!)), n.pos);
      } else {
        fail('PropertyExpected', msg.propertyExpected(), n.pos);
      }
      const ps = this.up(s);
      this.next();
      ps.pos = n.pos;
      const after = this.peek();
      const optional = tk === '?.';
      if (after.t === '(' || after.t === '()' || after.t === '!') {
        let capture = false;
        if (after.t === '!') {
          this.next();
          const p = this.peek();
          if (p.t !== '(' && p.t !== '()') {
            fail('MissingToken', msg.missingToken('(', 'to start arguments list of function call'), p.pos);
          }
          capture = true;
        }
        const noArgs = this.next().t === '()';
        const call = this.parseFnCall(st, ps, n.s!, noArgs, false, undefined, -1);
        if (capture) {
          fail('MalformedCapture', msg.malformedCapture("method-call style does not support running within the caller's scope"), n.pos);
        }
        if (call.k !== 'Call') throw new Error('unreachable');
        lhs = { k: 'Method', pos: n.pos, dotPos: t.pos, obj: lhs, name: n.s!, args: call.args, optional };
      } else if (n.t === 'reserved') {
        fail('Reserved', msg.reserved(n.s!, isValidIdentifier(n.s!)), n.pos);
      } else if (after.t === '::') {
        fail('BadInput/ImproperSymbol', msg.improperSymbol('::', ''), after.pos);
      } else {
        lhs = { k: 'Prop', pos: n.pos, dotPos: t.pos, obj: lhs, name: n.s!, optional };
      }
      // the rest of the chain is parsed one level deeper (Rhai recurses into parse_primary)
      s = ps;
    }

    // strict mode: the root module of a qualified variable must be imported
    if (nsRootPos >= 0) {
      let root: Expr = lhs;
      while (root.k === 'Index' || root.k === 'Prop' || root.k === 'Method') root = root.obj;
      if (root.k === 'Var' && root.ns) this.checkModule(st, s, root.ns[0]!, nsRootPos);
    }
    return lhs;
  }

  private parseFnCall(
    st: State,
    s0: Settings,
    name: string,
    noArgs: boolean,
    capture: boolean,
    ns: string[] | undefined,
    nsPos: number,
  ): Expr {
    const args: Expr[] = [];
    const make = (): Expr => {
      if (ns) this.checkModule(st, s0, ns[0]!, nsPos);
      const e: Expr = { k: 'Call', pos: ns ? nsPos : s0.pos, name, args, capture };
      if (ns) e.ns = ns;
      return e;
    };
    if (noArgs) return make();
    const t = this.peek();
    if (t.t === 'eof') fail('MissingToken', msg.missingToken(')', `to close the arguments list of this function call '${name}'`), t.pos);
    if (t.t === 'lexerr') this.lexFail(t);
    if (t.t === ')') {
      this.next();
      return make();
    }
    const s = this.up(s0);
    for (;;) {
      if (this.peek().t !== ')') args.push(this.parseExpr(st, s));
      const n = this.peek();
      switch (n.t) {
        case ')':
          this.next();
          return make();
        case ',':
          this.next();
          continue;
        case 'eof':
          fail('MissingToken', msg.missingToken(')', `to close the arguments list of this function call '${name}'`), n.pos);
        case 'lexerr':
          this.lexFail(n);
        default:
          fail('MissingToken', msg.missingToken(',', `to separate the arguments to function call '${name}'`), n.pos);
      }
    }
  }

  /** Rhai `parse_index_chain` (consecutive `[…]` bind right in Rhai; here they nest left, same meaning). */
  private parseIndexChain(st: State, s0: Settings, obj0: Expr, optional0: boolean): Expr {
    let s = s0;
    let obj = obj0;
    let optional = optional0;
    let check = true;
    let bracketPos = s.pos;
    for (;;) {
      const idx = this.parseExpr(st, this.up(s));
      if (check) checkIndexTypes(obj, idx);
      const t = this.peek();
      if (t.t !== ']') {
        if (t.t === 'lexerr') this.lexFail(t);
        fail('MissingToken', msg.missingToken(']', 'for a matching [ in this index expression'), t.pos);
      }
      this.next();
      obj = { k: 'Index', pos: bracketPos, obj, index: idx, optional };
      const n = this.peek();
      if (n.t !== '[' && n.t !== '?[') return obj;
      this.next();
      s = this.up({ ...s, pos: n.pos });
      bracketPos = n.pos;
      optional = n.t === '?[';
      check = false;
    }
  }

  private parseArray(st: State, s0: Settings): Expr {
    const lb = this.next();
    const s: Settings = { ...s0, pos: lb.pos };
    const items: Expr[] = [];
    const max = this.o.maxArraySize;
    for (;;) {
      if (max > 0 && items.length >= max) {
        fail('LiteralTooLarge', msg.literalTooLarge('Size of array literal', max), this.peek().pos);
      }
      const t = this.peek();
      if (t.t === ']') {
        this.next();
        break;
      }
      if (t.t === 'eof') fail('MissingToken', msg.missingToken(']', 'to end this array literal'), t.pos);
      items.push(this.parseExpr(st, this.up(s)));
      const n = this.peek();
      if (n.t === ',') this.next();
      else if (n.t === ']') {
        // closed next round
      } else if (n.t === 'eof') fail('MissingToken', msg.missingToken(']', 'to end this array literal'), n.pos);
      else if (n.t === 'lexerr') this.lexFail(n);
      else fail('MissingToken', msg.missingToken(',', 'to separate the items of this array literal'), n.pos);
    }
    return { k: 'Array', pos: lb.pos, items };
  }

  private parseMap(st: State, s0: Settings): Expr {
    const lb = this.next();
    const s: Settings = { ...s0, pos: lb.pos };
    const entries: MapEntry[] = [];
    const keys = new Set<string>();
    const max = this.o.maxMapSize;
    const MISSING = 'to end this object map literal';
    for (;;) {
      const t = this.peek();
      if (t.t === '}') {
        this.next();
        break;
      }
      if (t.t === 'eof') fail('MissingToken', msg.missingToken('}', MISSING), t.pos);
      const k = this.next();
      let key: string;
      if (k.t === 'ident' || k.t === 'str') {
        key = k.s!;
        if (keys.has(key)) fail('DuplicatedProperty', msg.duplicatedProperty(key), k.pos);
        keys.add(key);
      } else if (k.t === 'interp') fail('PropertyExpected', msg.propertyExpected(), k.pos);
      else if (k.t === 'reserved' && isValidIdentifier(k.s!)) fail('Reserved', msg.reserved(k.s!, true), k.pos);
      else if (k.t === 'lexerr') this.lexFail(k);
      else if (entries.length === 0) fail('MissingToken', msg.missingToken('}', MISSING), k.pos);
      else fail('PropertyExpected', msg.propertyExpected(), k.pos);
      const c = this.next();
      if (c.t !== ':') {
        if (c.t === 'lexerr') this.lexFail(c);
        fail('MissingToken', msg.missingToken(':', `to follow the property '${key}' in this object map literal`), c.pos);
      }
      if (max > 0 && entries.length >= max) {
        fail('LiteralTooLarge', msg.literalTooLarge('Number of properties in object map literal', max), this.peek().pos);
      }
      const value = this.parseExpr(st, this.up(s));
      entries.push({ key, keyPos: k.pos, value });
      const n = this.peek();
      if (n.t === ',') this.next();
      else if (n.t === '}') {
        // closed next round
      } else if (n.t === 'ident') fail('MissingToken', msg.missingToken(',', 'to separate the items of this object map literal'), n.pos);
      else if (n.t === 'lexerr') this.lexFail(n);
      else fail('MissingToken', msg.missingToken('}', MISSING), n.pos);
    }
    return { k: 'Map', pos: lb.pos, entries };
  }

  private parseInterpolated(st: State, s0: Settings): Expr {
    const s = this.up(s0);
    const first = this.next();
    const parts: Expr[] = [];
    if (first.s !== '') parts.push({ k: 'Str', pos: first.pos, value: first.s! });
    for (;;) {
      const block = this.parseBlock(st, s);
      const only = block.body.length === 1 ? block.body[0]! : undefined;
      parts.push(only !== undefined && only.k === 'Expr' ? only.expr : block);
      this.lx.resumeText();
      const n = this.next();
      if (n.t === 'str' || n.t === 'interp') {
        if (n.s !== '') parts.push({ k: 'Str', pos: n.pos, value: n.s! });
        if (n.t === 'str') break;
        continue;
      }
      if (n.t === 'lexerr') this.lexFail(n);
      throw new Error(`unexpected token in interpolated string: ${n.t}`);
    }
    return parts.length === 0 ? { k: 'Str', pos: s0.pos, value: '' } : { k: 'Interp', pos: s0.pos, parts };
  }

  /** Rhai `parse_anon_fn`. */
  private parseAnonFn(st: State, s: Settings): Expr {
    const ns = new State(true);
    ns.globalImports = st.globalImports.concat(st.imports);
    const params: Param[] = [];
    const open = this.next();
    if (open.t !== '||' && !(this.peek().t === '|' && this.next())) {
      for (;;) {
        const n = this.next();
        if (n.t === '|') break;
        if (n.t === 'ident') {
          if (params.some((p) => p.name === n.s)) fail('FnDuplicatedParam', msg.fnDuplicatedParam('', n.s!), n.pos);
          ns.stack.push({ name: n.s!, constant: false });
          params.push({ name: n.s!, pos: n.pos });
        } else if (n.t === 'lexerr') this.lexFail(n);
        else if (n.t === 'reserved') fail('Reserved', msg.reserved(n.s!, isValidIdentifier(n.s!)), n.pos);
        else if (isStandardKeyword(n.t)) fail('VariableExpected', msg.variableExpected(), n.pos);
        else fail('MissingToken', msg.missingToken('|', 'to close the parameters list of anonymous function or closure'), n.pos);
        const n2 = this.next();
        if (n2.t === '|') break;
        if (n2.t === ',') continue;
        if (n2.t === 'lexerr') this.lexFail(n2);
        fail('MissingToken', msg.missingToken(',', 'to separate the parameters of anonymous function'), n2.pos);
      }
    }
    const fs: Settings = {
      level: s.level,
      pos: s.pos,
      flags: FN_SCOPE | CLOSURE_SCOPE | (s.flags & NO_STMTS),
      opts: this.engineOpts & ~STRICT,
      max: s.max,
    };
    const bpos = this.peek().pos;
    const body = this.parseStmt(ns, this.up(fs)) ?? { k: 'Noop', pos: bpos };
    this.selfTerm = false;
    const captures: string[] = [];
    for (const x of ns.externals) {
      const { idx, isFunc } = this.accessVar(st, x.name, x.pos);
      if (!isFunc && idx === 0 && !(s.flags & CLOSURE_SCOPE) && s.opts & STRICT && !this.o.external.has(x.name)) {
        fail('VariableUndefined', msg.variableUndefined(x.name), x.pos);
      }
      captures.push(x.name);
    }
    this.libCount++;
    return { k: 'Closure', pos: s.pos, params, body, captures };
  }
}

/**
 * Parse a Rhai script (or, with `expression: true`, a single expression as `Engine::eval_expression`).
 * A leading `#!` line is skipped, as Rhai does for script files.
 */
export function parse(source: string, opts?: ParseOptions): ParseResult {
  const o = resolveOptions(opts);
  let start = 0;
  if (source.startsWith('#!')) {
    const nl = source.indexOf('\n');
    start = nl === -1 ? source.length : nl;
  }
  const p = new Parser(source, o, start);
  try {
    const program = o.expression ? p.parseExpression() : p.parseScript();
    if (p.diags.length > 0) return { ok: false, diagnostics: p.diags };
    return { ok: true, program };
  } catch (e) {
    if (e instanceof ParseFailure) {
      const last = p.diags[p.diags.length - 1];
      if (last === undefined || e.diag.offset > last.offset) p.diags.push(e.diag);
      return { ok: false, diagnostics: p.diags };
    }
    if (e instanceof RangeError) {
      return { ok: false, diagnostics: p.diags.length > 0 ? p.diags : [diag('ExprTooDeep', msg.exprTooDeep(), 0)] };
    }
    throw e;
  }
}
