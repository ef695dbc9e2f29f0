/**
 * Script functions (`fn`, `private fn`, methods on `this` types), anonymous functions and closures with their
 * captures, `import` / `export`, and the entry points: a whole script, or a single expression.
 */
import type { Expr, FnDef, Param, Program, Stmt } from '../ast.ts';
import { msg, ParseFailure } from '../diagnostics.ts';
import { isStandardKeyword, isValidFunctionName, isValidIdentifier, tokenText, type Token } from '../tokens.ts';
import {
  CLOSURE_SCOPE,
  fail,
  FN_SCOPE,
  GLOBAL,
  LOOP_EXPR,
  MAX_DIAGNOSTICS,
  NO_STMTS,
  type Settings,
  State,
  STMT_EXPR,
  STRICT,
} from './base.ts';
import { StmtParser } from './statements.ts';

export class Parser extends StmtParser {
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

  protected parseFnStmt(st: State, s: Settings, t: Token): Stmt | null {
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

  protected parseFn(st: State, s0: Settings, priv: boolean): FnDef {
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

  /** Rhai `parse_anon_fn`. */
  protected parseAnonFn(st: State, s: Settings): Expr {
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

  protected parseImport(st: State, s0: Settings): Stmt {
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

  protected parseExport(st: State, s: Settings): Stmt {
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
}
