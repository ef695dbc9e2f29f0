import { describe, expect, it } from 'vitest';
import type { Expr, Program, Stmt } from './ast.ts';
import { parse, type ParseOptions } from './parser.ts';

function ok(src: string, opts?: ParseOptions): Program {
  const r = parse(src, opts);
  if (!r.ok) throw new Error(`unexpected parse error: ${r.diagnostics[0]!.message} @${r.diagnostics[0]!.offset}`);
  return r.program;
}
/** Assert the first diagnostic's code (Rhai `ParseErrorType` variant, `BadInput/…` for lexer errors). */
function expectParseError(src: string, code: string, opts?: ParseOptions): void {
  const r = parse(src, opts);
  expect(r.ok, `expected ${code} for ${JSON.stringify(src)}`).toBe(false);
  if (!r.ok) expect(r.diagnostics[0]!.code).toBe(code);
}
/** The expression of the first (or only) statement. */
function expr(src: string, opts?: ParseOptions): Expr {
  const s = ok(src, opts).statements[0]!;
  if (s.k !== 'Expr') throw new Error(`not an expression statement: ${s.k}`);
  return s.expr;
}
/** Compact S-expression of an expression, for precedence tests. */
function sx(e: Expr): string {
  switch (e.k) {
    case 'Int':
    case 'Float':
      return String(e.value);
    case 'Var':
      return e.ns ? `${e.ns.join('::')}::${e.name}` : e.name;
    case 'Binary':
    case 'Logic':
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case 'Unary':
      return `(${e.op} ${sx(e.operand)})`;
    case 'Unit':
      return '()';
    case 'Call':
      return `${e.name}(${e.args.map(sx).join(' ')})`;
    default:
      return e.k;
  }
}
const p = (src: string) => sx(expr(src));

describe('precedence and associativity', () => {
  it('follows Rhai precedence table', () => {
    expect(p('1 + 2 * 3')).toBe('(+ 1 (* 2 3))');
    expect(p('1 + 2 << 1')).toBe('(+ 1 (<< 2 1))');
    expect(p('2 ** 3 << 1')).toBe('(** 2 (<< 3 1))');
    expect(p('2 ** 3 ** 2')).toBe('(** 2 (** 3 2))');
    expect(p('a || b | c ^ d')).toBe('(^ (| (|| a b) c) d)');
    expect(p('a && b || c')).toBe('(|| (&& a b) c)');
    expect(p('a == b in c')).toBe('(== a (in b c))');
    expect(p('a ?? b < c')).toBe('(< (?? a b) c)');
    expect(p('1..2 + 3')).toBe('(.. 1 (+ 2 3))');
    expect(p('x !in y')).toBe('(!in x y)');
    expect(p('1 - 2 - 3')).toBe('(- (- 1 2) 3)');
  });
  it('unary binds tighter than binary; negative literals are folded', () => {
    expect(p('-2 ** 2')).toBe('(** -2 2)');
    expect(p('- x ** 2')).toBe('(** (- x) 2)');
    expect(p('!a && b')).toBe('(&& (! a) b)');
    expect(expr('- 5')).toEqual({ k: 'Int', pos: 0, value: -5 });
    expect(expr('-9223372036854775808')).toEqual({ k: 'Int', pos: 0, value: '-9223372036854775808' });
    expect(expr('+1.5')).toEqual({ k: 'Float', pos: 1, value: 1.5 });
  });
  it('open ranges', () => {
    expect(p('..5')).toBe('(.. 0 5)');
    expect(sx((expr('s[1..]') as Extract<Expr, { k: 'Index' }>).index)).toBe('(.. 1 ())');
  });
});

describe('AST shapes and positions', () => {
  it('literals', () => {
    expect(expr('42')).toEqual({ k: 'Int', pos: 0, value: 42 });
    expect(expr('1.0')).toEqual({ k: 'Float', pos: 0, value: 1 });
    expect(expr('9223372036854775807')).toEqual({ k: 'Int', pos: 0, value: '9223372036854775807' });
    expect(expr('9223372036854775808').k).toBe('Float');
    expect(expr("'x'")).toEqual({ k: 'Char', pos: 0, value: 'x' });
    expect(expr('()')).toEqual({ k: 'Unit', pos: 0 });
    expect(expr('#{b: 1, "a b": 2}')).toMatchObject({
      k: 'Map',
      entries: [
        { key: 'b', keyPos: 2 },
        { key: 'a b', keyPos: 8 },
      ],
    });
    expect(expr('[1, 2,]')).toMatchObject({ k: 'Array', items: [{ value: 1 }, { value: 2 }] });
  });
  it('interpolation', () => {
    expect(expr('`a${x}b${`c${y}`}`')).toMatchObject({
      k: 'Interp',
      parts: [
        { k: 'Str', value: 'a' },
        { k: 'Var', name: 'x' },
        { k: 'Str', value: 'b' },
        { k: 'Interp', parts: [{ k: 'Str', value: 'c' }, { k: 'Var', name: 'y' }] },
      ],
    });
    expect(expr('`${}`')).toMatchObject({ k: 'Interp', parts: [{ k: 'Block', body: [] }] });
    expect(expr('``')).toEqual({ k: 'Str', pos: 0, value: '' });
  });
  it('chains: property, method, index, elvis, calls', () => {
    const e = expr('a.b?.c(1)[2]?[3]');
    expect(e).toMatchObject({
      k: 'Index',
      optional: true,
      pos: 12,
      obj: {
        k: 'Index',
        optional: false,
        pos: 9,
        obj: { k: 'Method', name: 'c', optional: true, pos: 5, dotPos: 3, obj: { k: 'Prop', name: 'b', pos: 2, dotPos: 1 } },
      },
    });
    expect(expr('m::n::f(1)')).toMatchObject({ k: 'Call', name: 'f', ns: ['m', 'n'], pos: 0 });
    expect(expr('global::X')).toMatchObject({ k: 'Var', name: 'X', ns: ['global'] });
    expect(expr('f!(1)')).toMatchObject({ k: 'Call', name: 'f', capture: true });
    expect(expr('print("x")')).toMatchObject({ k: 'Call', name: 'print', capture: false });
    expect(expr('x.call(f, 1)')).toMatchObject({ k: 'Method', name: 'call' });
  });
  it('statements', () => {
    const prog = ok('let x = 1; const Y = 2; x += Y; export const Z = 3; import "m" as m; x');
    expect(prog.statements.map((s: Stmt) => s.k)).toEqual(['Let', 'Let', 'Assign', 'Let', 'Import', 'Expr']);
    expect(prog.statements[1]).toMatchObject({ k: 'Let', name: 'Y', constant: true, exported: false, pos: 17 });
    expect(prog.statements[2]).toMatchObject({ k: 'Assign', op: '+=', pos: 26, target: { k: 'Var', pos: 24 } });
    expect(prog.statements[3]).toMatchObject({ k: 'Let', constant: true, exported: true });
    expect(prog.statements[4]).toMatchObject({ k: 'Import', alias: 'm' });
  });
  it('control flow', () => {
    expect(expr('if a { 1 } else if b { 2 } else { 3 }')).toMatchObject({
      k: 'If',
      otherwise: { k: 'If', otherwise: { k: 'Block' } },
    });
    expect(expr('for (x, i) in xs { continue; }')).toMatchObject({ k: 'For', var: 'x', counter: 'i' });
    expect(expr('do { break 1; } until x')).toMatchObject({ k: 'Do', until: true, body: { body: [{ k: 'Break', value: { value: 1 } }] } });
    expect(expr('loop { break; }')).toMatchObject({ k: 'Loop', body: { body: [{ k: 'Break' }] } });
    expect(ok('try { throw; } catch (e) { throw e; }').statements[0]).toMatchObject({
      k: 'Try',
      catchVar: 'e',
      body: { body: [{ k: 'Throw' }] },
    });
    const sw = expr('switch x { 1 | 2 => a, 3 if c => { b }, 4..=6 => return 1, _ => () }');
    expect(sw).toMatchObject({
      k: 'Switch',
      cases: [
        { values: [{ value: 1 }, { value: 2 }] },
        { values: [{ value: 3 }], guard: { k: 'Var', name: 'c' }, body: { k: 'Expr', expr: { k: 'Block' } } },
        { values: [{ k: 'Binary', op: '..=' }], body: { k: 'Return' } },
      ],
      default: { k: 'Expr', expr: { k: 'Unit' } },
    });
  });
  it('statement-terminating rules', () => {
    expect(ok('if x { 1 } let y = 2; { 3 } 4').statements).toHaveLength(4);
    expect(ok('1;;;2;').statements).toHaveLength(2);
    expect(ok('#!/usr/bin/env rhai-run\nprint(1)').statements[0]).toMatchObject({ k: 'Expr', expr: { k: 'Call', pos: 24 } });
    expect(ok('fn f() {} f()').functions).toHaveLength(1);
    // an expression ending in a block is not self-terminated (only statement-level if/switch/loops/blocks are)
    expectParseError('x = switch a { _ => { 1 } } y', 'MissingToken');
    expectParseError('let f = || { 1 } let y = 3', 'MissingToken');
    expectParseError('let x = if a { 1 } else { 2 } let y = 3', 'MissingToken');
    expect(ok('switch a { 1 => { 1 } 2 => if b { 2 } _ => 3 }').statements).toHaveLength(1);
  });
  it('functions are hoisted with params and flags', () => {
    const prog = ok('f(1); private fn f(a, b) { a } fn g() {}');
    expect(prog.functions).toMatchObject([
      { name: 'f', private: true, params: [{ name: 'a' }, { name: 'b' }], pos: 17 },
      { name: 'g', private: false, params: [] },
    ]);
  });
});

describe('closures', () => {
  const closure = (src: string) => {
    const s = ok(src).statements.at(-1)!;
    const e = s.k === 'Let' ? s.value! : (s as Extract<Stmt, { k: 'Expr' }>).expr;
    if (e.k !== 'Closure') throw new Error(e.k);
    return e;
  };
  it('captures free variables, not params, locals, properties or function names', () => {
    expect(closure('let x = 1; let f = |a| a + x + y.z').captures).toEqual(['x', 'y']);
    expect(closure('let f = || { let q = 1; q + w.len() }').captures).toEqual(['w']);
    expect(closure('fn foo() {} let f = || foo').captures).toEqual([]);
    expect(closure('let f = || x += 1').captures).toEqual(['x']);
    expect(closure('let f = |a| |b| a + b + c').captures).toEqual(['c']);
    expect(closure('let f = || this.x + obj.m(n)').captures).toEqual(['obj', 'n']);
  });
  it('break inside a closure in a loop is not inside the loop', () => {
    expectParseError('loop { let f = || { break; } }', 'LoopBreak');
  });
});

describe('parse-time checks', () => {
  it('assignment targets', () => {
    expectParseError('(x+y) = 42;', 'AssignmentToInvalidLHS');
    expectParseError('x.foo().x.y = 42;', 'AssignmentToInvalidLHS');
    expectParseError('x[y].z.foo() = 42;', 'AssignmentToInvalidLHS');
    expectParseError('true = 42;', 'AssignmentToConstant');
    expectParseError('const x = 123; x = 42;', 'AssignmentToConstant');
    ok('const x = [1]; x[0] = 2; let y = 1; y.a.b[1] = 3; fn f() { this = 1; this.x = 2 }');
  });
  it('literal indexing', () => {
    expectParseError('[1, 2, 3]["x"]', 'MalformedIndexExpr');
    expectParseError('#{a: 1}[1]', 'MalformedIndexExpr');
    ok('[1, 2, 3][0]["x"]');
  });
  it('switch rules', () => {
    expectParseError("switch x { 10..20 => (), 42 => 'x' }", 'WrongSwitchIntegerCase');
    expectParseError('switch x { 1 => 2, _ if true => 42 }', 'WrongSwitchCaseCondition');
    expectParseError('switch x { y => 1 }', 'ExprExpected');
    ok("switch x { 10..10 => 1, 42 => 'x' }");
  });
  it('misc', () => {
    expectParseError('let x = ( );', 'BadInput/UnexpectedInput');
    expectParseError('fn f() { fn g() {} }', 'WrongFnDefinition');
    expectParseError('y.foo!();', 'MalformedCapture');
    expectParseError('abc.def::xyz()', 'BadInput/ImproperSymbol');
    expectParseError('0xabcd.123', 'PropertyExpected');
    expectParseError('let y = #{`a${1}`: 1};', 'PropertyExpected');
    expectParseError('true && (false || 123)', 'MismatchedType');
    expectParseError('fn/*', 'FnMissingName');
  });
});

describe('options', () => {
  it('disabled symbols', () => {
    expectParseError('while false {}', 'Reserved', { disabledSymbols: ['while'] });
    expectParseError('let x = 40 + 2; x += 1;', 'UnknownOperator', { disabledSymbols: ['if', '+='] });
    expectParseError('eval("40 + 2")', 'BadInput/ImproperSymbol', { disabledSymbols: ['eval'] });
  });
  it('allow_* switches', () => {
    expectParseError('let x = if y { z } else { w };', 'BadInput/UnexpectedInput', { allowIfExpression: false });
    expectParseError('let x = { 1 };', 'BadInput/UnexpectedInput', { allowStatementExpression: false });
    expectParseError('let x = || 42;', 'BadInput/UnexpectedInput', { allowAnonymousFn: false });
    expectParseError('while x {}', 'BadInput/UnexpectedInput', { allowLooping: false });
    expectParseError('let x = loop { break 1; };', 'BadInput/UnexpectedInput', { allowLoopExpressions: false });
    expectParseError('let x = switch y { _ => 1 };', 'BadInput/UnexpectedInput', { allowSwitchExpression: false });
    expectParseError('const x = 42; let x = 123;', 'VariableExists', { allowShadowing: false });
    ok('let x = 42; { let y = 1; } let y = 2;', { allowShadowing: false });
  });
  it('strict variables', () => {
    const strict = { strictVariables: true };
    expectParseError('let x = if y { z } else { w };', 'VariableUndefined', strict);
    expectParseError('fn foo(x) { x + y }', 'VariableUndefined', strict);
    expectParseError('print(h::y::z);', 'ModuleUndefined', strict);
    expectParseError('let f = |y| x * y;', 'VariableUndefined', strict);
    expectParseError('fn foo() { |y| { || x + y } }', 'VariableUndefined', strict);
    ok('let x = 42; let f = |y| { || x + y };', strict);
    ok('import "hello" as h; fn foo() { h::a::b::c() } let x = h::y::foo();', strict);
    ok('let x = ext + 1;', { ...strict, externalVariables: ['ext'] });
  });
  it('limits', () => {
    expectParseError('let x = [1,2,3,4,5,6,7,8,9,10,11];', 'LiteralTooLarge', { maxArraySize: 10 });
    expectParseError('let x = "hello, world!";', 'LiteralTooLarge', { maxStringSize: 10 });
    expectParseError('fn a() {} fn b() {}', 'TooManyFunctions', { maxFunctions: 1 });
    expectParseError('fn a() {} let f = || 1;', 'TooManyFunctions', { maxFunctions: 1 });
  });
  it('expression mode', () => {
    const e = { expression: true };
    ok('40 + 2', e);
    expectParseError('40 + 2;', 'BadInput/UnexpectedInput', e);
    expectParseError('40 + { 2 }', 'BadInput/UnexpectedInput', e);
    expectParseError('x = 42', 'BadInput/UnexpectedInput', e);
    expectParseError('|x| {}', 'BadInput/UnexpectedInput', e);
    ok('if x { 1 } else { 2 }', e);
  });
});

describe('expression depth', () => {
  const d = { maxExprDepth: 32, maxFunctionExprDepth: 16 };
  const sum = (n: number) => Array.from({ length: n }, (_, i) => i % 10).join(' + ');
  it('matches Rhai level accounting for operator chains', () => {
    ok(sum(31), d);
    expectParseError(sum(32), 'ExprTooDeep', d);
    ok(`fn f() { ${sum(13)} }`, d);
    expectParseError(`fn f() { ${sum(14)} }`, 'ExprTooDeep', d);
  });
  it('never overflows the JS stack, even with unlimited depth', () => {
    const deep = 100_000;
    const inputs = ['('.repeat(deep) + '1' + ')'.repeat(deep), '- '.repeat(deep) + '1', '-('.repeat(deep) + '1', '['.repeat(deep), '{'.repeat(deep), '1' + '**1'.repeat(deep), '`${'.repeat(deep), 'if x {'.repeat(deep), '|| '.repeat(deep) + '1'];
    for (const src of inputs) {
      for (const opts of [{}, { maxExprDepth: 0, maxFunctionExprDepth: 0 }]) {
        expectParseError(src, 'ExprTooDeep', opts);
      }
    }
    // a long flat property chain is a loop, not recursion: fine when depth is unlimited
    expect(parse('x' + '.a'.repeat(deep), { maxExprDepth: 0 }).ok).toBe(true);
    expectParseError('x' + '.a'.repeat(deep), 'ExprTooDeep');
  });
});


describe('variable stack (scanned while short, indexed from 16 entries)', () => {
  const lets = (n: number, prefix = 'v') => Array.from({ length: n }, (_, i) => `let ${prefix}${i} = ${i};`).join(' ');
  for (const n of [3, 15, 16, 17, 40]) {
    it(`finds constants, shadowing and closure captures with ${n} variables`, () => {
      // a constant below n variables is still found (assignment to it is an error)
      expectParseError(`const c = 1; ${lets(n)} c = 2;`, 'AssignmentToConstant');
      // shadowed by a later `let`: assignable again
      ok(`const c = 1; ${lets(n)} let c = 2; c = 3;`);
      // variables of a finished block are gone: strict mode sees `b0` as undefined after the block
      expectParseError(`{ ${lets(n, 'b')} } b0`, 'VariableUndefined', { strictVariables: true });
      ok(`{ ${lets(n, 'b')} b0 }`, { strictVariables: true });
      // a closure captures outer variables, once each, and not its own locals
      const s = ok(`${lets(n)} let f = |x| { let y = v0 + v0; x + y + v${n - 1} };`).statements;
      const f = s[s.length - 1]!;
      if (f.k !== 'Let' || f.value?.k !== 'Closure') throw new Error('expected a closure');
      expect(f.value.captures).toEqual(n === 1 ? ['v0'] : ['v0', `v${n - 1}`]);
      // shadowing disabled: a second `let` of a name in scope is an error
      expectParseError(`${lets(n)} let v${n >> 1} = 0;`, 'VariableExists', { allowShadowing: false });
    });
  }
});
