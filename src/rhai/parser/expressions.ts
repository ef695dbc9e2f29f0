/**
 * Expressions (Rhai `parse_expr`, `parse_unary`, `parse_binary_op`, `parse_primary`, `parse_postfix` and the
 * literals: arrays, object maps, interpolated strings), with precedence climbing and Rhai's depth accounting.
 */
import type { BinaryOp, BlockExpr, Expr, IfExpr, MapEntry, Stmt } from '../ast.ts';
import { msg } from '../diagnostics.ts';
import { RESERVED, isValidIdentifier, precedence, tokenText, type Token } from '../tokens.ts';
import {
  ANON_FN,
  big,
  ensureBool,
  fail,
  FN_SCOPE,
  IF_EXPR,
  intValue,
  LOOP_EXPR,
  ParserBase,
  rhaiPos,
  type Settings,
  startPos,
  type State,
  STMT_EXPR,
  STRICT,
  SWITCH_EXPR,
} from './base.ts';

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

export abstract class ExprParser extends ParserBase {
  protected abstract parseStmt(st: State, s0: Settings): Stmt | null;
  protected abstract parseBlock(st: State, s0: Settings): BlockExpr;
  protected abstract parseIf(st: State, s0: Settings): IfExpr;
  protected abstract parseWhile(st: State, s0: Settings): Expr;
  protected abstract parseDo(st: State, s0: Settings): Expr;
  protected abstract parseFor(st: State, s0: Settings): Expr;
  protected abstract parseSwitch(st: State, s0: Settings): Expr;
  protected abstract parseAnonFn(st: State, s: Settings): Expr;

  protected parseExpr(st: State, s0: Settings): Expr {
    const s = this.up({ level: s0.level, pos: this.peek().pos, flags: s0.flags, opts: s0.opts, max: s0.max });
    const lhs = this.parseUnary(st, s);
    return this.parseBinary(st, s, 1, lhs);
  }

  protected parseUnary(st: State, s0: Settings): Expr {
    const t = this.peek();
    this.enter(t.pos);
    try {
      if (st.noBar && t.t === '|') fail('BadInput/UnexpectedInput', msg.unexpectedInput(tokenText(t)), t.pos);
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

  protected parseBinary(st: State, s0: Settings, parentPrec: number, lhs: Expr): Expr {
    this.enter(this.peek().pos);
    try {
      let s: Settings = { level: s0.level, pos: rhaiPos(lhs), flags: s0.flags, opts: s0.opts, max: s0.max };
      let root = lhs;
      for (;;) {
        const opTok = this.peek();
        if (st.noBar && opTok.t === '|') return root;
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

  protected precOf(t: Token): number {
    if (t.t === 'reserved' && !isValidIdentifier(t.s!)) fail('UnknownOperator', msg.unknownOperator(t.s!), t.pos);
    return precedence(t.t);
  }

  protected parsePrimary(st: State, s0: Settings): Expr {
    const t = this.peek();
    const s: Settings = { level: s0.level, pos: t.pos, flags: s0.flags, opts: s0.opts, max: s0.max };
    if (st.noBar && t.t === '|') fail('BadInput/UnexpectedInput', msg.unexpectedInput(tokenText(t)), t.pos);
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
    if (st.noBar && this.peek().t === '|') return root;
    return this.parsePostfix(st, s, root);
  }

  /** Rhai `parse_postfix`: `.prop`, `.method()`, `[idx]`, `?.`, `?[`, calls, `::` qualification. */
  protected parsePostfix(st: State, s0: Settings, lhs0: Expr): Expr {
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

  /** The call parseFnCall returns, once its arguments are parsed (a method: a closure per call cost a Function.name definition under tsx). */
  private makeCall(st: State, s0: Settings, name: string, args: Expr[], capture: boolean, ns: string[] | undefined, nsPos: number): Expr {
    if (ns) this.checkModule(st, s0, ns[0]!, nsPos);
    const e: Expr = { k: 'Call', pos: ns ? nsPos : s0.pos, name, args, capture };
    if (ns) e.ns = ns;
    return e;
  }

  protected parseFnCall(
    st: State,
    s0: Settings,
    name: string,
    noArgs: boolean,
    capture: boolean,
    ns: string[] | undefined,
    nsPos: number,
  ): Expr {
    const args: Expr[] = [];
    if (noArgs) return this.makeCall(st, s0, name, args, capture, ns, nsPos);
    const t = this.peek();
    if (t.t === 'eof') fail('MissingToken', msg.missingToken(')', `to close the arguments list of this function call '${name}'`), t.pos);
    if (t.t === 'lexerr') this.lexFail(t);
    if (t.t === ')') {
      this.next();
      return this.makeCall(st, s0, name, args, capture, ns, nsPos);
    }
    const s = this.up(s0);
    for (;;) {
      if (this.peek().t !== ')') args.push(this.parseExpr(st, s));
      const n = this.peek();
      switch (n.t) {
        case ')':
          this.next();
          return this.makeCall(st, s0, name, args, capture, ns, nsPos);
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
  protected parseIndexChain(st: State, s0: Settings, obj0: Expr, optional0: boolean): Expr {
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

  protected parseArray(st: State, s0: Settings): Expr {
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

  protected parseMap(st: State, s0: Settings): Expr {
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

  protected parseInterpolated(st: State, s0: Settings): Expr {
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
}
