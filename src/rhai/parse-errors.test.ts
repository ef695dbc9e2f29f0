/**
 * Golden parse errors: the exact Rhai message and position (`… (line L, position P)`) of common mistakes.
 * Wording: src/types/parse_error.rs (`ParseErrorType` / `LexError` Display) in rhaiscript/rhai; positions follow
 * Rhai's `Position` (1-based line, 1-based character within the line, counted in code points).
 */
import { describe, expect, it } from 'vitest';
import { parse } from './parser.ts';
import { formatDiagnostic } from './render.ts';

const GOLDEN: [source: string, rendered: string][] = [
  ['let = 1', 'Expecting name of a variable (line 1, position 5)'],
  ['x++', "Unknown operator: '++' (line 1, position 2)"],
  ['fn foo(a b) {}', "Expecting ',' to separate the parameters of function 'foo' (line 1, position 10)"],
  ['fn foo(1) {}', "Expecting ')' to close the parameters list of function 'foo' (line 1, position 8)"],
  ['fn f(a, a) {}', 'Duplicated parameter a for function f (line 1, position 9)'],
  ['fn f(x) {} fn f(y) {}', 'Function f with 1 parameter already exists (line 1, position 12)'],
  ['let x = 0; break;', 'Break statement should only be used inside a loop (line 1, position 12)'],
  [
    'if true { fn f() {} }',
    'Function definitions must be at global level and cannot be inside a block or another function (line 1, position 11)',
  ],
  ['{ export x; }', 'Export statement can only appear at global level (line 1, position 3)'],
  ['const x = 1; x = 2;', 'Cannot assign to constant x (line 1, position 14)'],
  ['foo(x) = 42;', 'Expression cannot be assigned to (line 1, position 1)'],
  ['switch x { _ => 1, 2 => 3 }', 'Default switch case must be the last (line 1, position 12)'],
  ['let x = "abc', 'Open string is not terminated (line 1, position 9)'],
  ['let x = "\\q";', "Invalid escape sequence: '\\q' (line 1, position 11)"],
  ['let x = 1 +', 'Script is incomplete (line 1, position 12)'],
  ['foo(1, 2', "Expecting ')' to close the arguments list of this function call 'foo' (line 1, position 9)"],
  ['let x = 1 let y = 2', "Expecting ';' to terminate this statement (line 1, position 11)"],
  ['if x = 1 {}', "Possibly a typo of '=='? (line 1, position 6)"],
  ['if 1 { }', 'Expecting a boolean expression, not a number (line 1, position 4)'],
  ['let _1 = 5', "Variable name is not proper: '_1' (line 1, position 5)"],
  ['let var = 1', "'var' is a reserved keyword (line 1, position 5)"],
  ['a === b', "'===' is not a valid operator. This is not JavaScript! Should it be '=='? (line 1, position 3)"],
  ['let a = 1;\nlet b = a +;', "Unexpected ';' (line 2, position 12)"],
  ['let x = ( );', "Unexpected ')' (line 1, position 11)"],
  ['bad ^ # syntax', "'#' is a reserved symbol (line 1, position 7)"],
  ['x.y ? 1', "Unknown operator: '?' (line 1, position 5)"],
  ['let x = 1;\nx.foo!();', "method-call style does not support running within the caller's scope (line 2, position 3)"],
  ['let m = #{a: 1, a: 2};', 'Duplicated property for object map literal: a (line 1, position 17)'],
  ['switch x { 1 => 2, _ if y => 3 }', 'This switch case cannot have a condition (line 1, position 22)'],
  ['for x in 5 {}', 'Expecting an iterable value, not a number (line 1, position 10)'],
  // non-ASCII: positions count characters (code points), not UTF-16 units or bytes
  ['let s = "😀😀"; let = 2;', 'Expecting name of a variable (line 1, position 19)'],
  ['let café = 1;', "Unexpected 'é' (line 1, position 8)"],
  ['// コメント\nlet 名前 = 1;', "Unexpected '名' (line 2, position 5)"],
  ['let s = "日本語" + ;', "Unexpected ';' (line 1, position 17)"],
];

describe('golden parse errors', () => {
  for (const [src, rendered] of GOLDEN) {
    it(JSON.stringify(src), () => {
      const r = parse(src);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(formatDiagnostic(src, r.diagnostics[0]!)).toBe(rendered);
    });
  }
});

describe('recovery: later errors are reported after the first (Rhai stops at the first)', () => {
  it('one diagnostic per broken statement, in source order', () => {
    const src = [
      'let x = 1',
      'let y = ;',
      'fn f(a, a) {',
      '  a',
      '}',
      'fn g() { let z = 1 +; z }',
      'x === 2;',
      '}',
      'let last = "unterminated',
    ].join('\n');
    const r = parse(src);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => formatDiagnostic(src, d))).toEqual([
      "Expecting ';' to terminate this statement (line 2, position 1)",
      "Unexpected ';' (line 2, position 9)",
      'Duplicated parameter a for function f (line 3, position 9)',
      "Unexpected ';' (line 6, position 21)",
      "'===' is not a valid operator. This is not JavaScript! Should it be '=='? (line 7, position 3)",
      "Unexpected '}' (line 8, position 1)",
      'Open string is not terminated (line 9, position 12)',
    ]);
  });
  it('recovers inside blocks and resumes at a statement keyword that starts a line', () => {
    const src = 'fn handler(req) {\n  let body = req.body\n  if body.len() > 10 { throw "x" }\n  let n = ;\n  body\n}';
    const r = parse(src);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => formatDiagnostic(src, d))).toEqual([
      "Expecting ';' to terminate this statement (line 3, position 3)",
      "Unexpected ';' (line 4, position 11)",
    ]);
  });
});
