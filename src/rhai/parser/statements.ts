/**
 * Statements (Rhai `parse_stmt`, `parse_block`, `parse_expr_stmt` / `make_assignment_stmt`, `let` / `const`,
 * `try` / `catch`) and the control-flow constructs that are also expressions: `if`, `while` / `loop`, `do`,
 * `for` and `switch`.
 */
import type { AssignOp, BlockExpr, Expr, IfExpr, Stmt, SwitchCase } from '../ast.ts';
import { msg, ParseFailure } from '../diagnostics.ts';
import { isOpAssignment, type Token } from '../tokens.ts';
import {
  big,
  BREAKABLE,
  ensureBool,
  ensureIterable,
  fail,
  GLOBAL,
  isConstantExpr,
  MAX_DIAGNOSTICS,
  NO_STMTS,
  rhaiPos,
  type Settings,
  startPos,
  type State,
} from './base.ts';
import { ExprParser } from './expressions.ts';

export abstract class StmtParser extends ExprParser {
  protected abstract parseFnStmt(st: State, s: Settings, t: Token): Stmt | null;
  protected abstract parseImport(st: State, s0: Settings): Stmt;
  protected abstract parseExport(st: State, s: Settings): Stmt;

  /** Rhai `parse_stmt`; returns null for a no-op (`;`, a `fn` definition, end of input). */
  protected parseStmt(st: State, s0: Settings): Stmt | null {
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

  protected parseStmtInner(st: State, s0: Settings): Stmt | null {
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
  protected optionalExpr(st: State, s: Settings): Expr | undefined {
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

  /** Rhai `parse_block`. */
  protected parseBlock(st: State, s0: Settings): BlockExpr {
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
  protected parseExprStmt(st: State, s0: Settings): Stmt {
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
  protected makeAssignment(st: State, op: AssignOp, lhs: Expr, rhs: Expr, opPos: number): Stmt {
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

  protected ensureNotStatementExpr(what: string): void {
    const t = this.peek();
    if (t.t === '{') fail('ExprExpected', msg.exprExpected(what), t.pos);
  }

  protected ensureNotAssignment(): void {
    const t = this.peek();
    if (t.t === '=') fail('BadInput/ImproperSymbol', msg.improperSymbol('=', "Possibly a typo of '=='?"), t.pos);
  }

  protected parseIf(st: State, s0: Settings): IfExpr {
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

  protected parseWhile(st: State, s0: Settings): Expr {
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

  protected parseDo(st: State, s0: Settings): Expr {
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

  protected parseFor(st: State, s0: Settings): Expr {
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

  protected parseLet(st: State, s: Settings, constant: boolean, exported: boolean): Stmt {
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

  protected parseTryCatch(st: State, s0: Settings): Stmt {
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

  protected parseSwitch(st: State, s0: Settings): Expr {
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
          const saved = st.noBar;
          st.noBar = true;
          this.noRecover++;
          try {
            values.push(this.parseExpr(st, s));
          } catch (e) {
            if (e instanceof ParseFailure) fail('ExprExpected', msg.exprExpected('literal'), e.diag.offset);
            throw e;
          } finally {
            st.noBar = saved;
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
  protected switchLiteral(v: Expr): string {
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
}
