import { describe, expect, it } from 'vitest';
import { tokenize } from './lexer.ts';
import type { Token } from './tokens.ts';

/** Compact view of a token stream: kind, plus the value for value tokens. */
function kinds(src: string, opts?: Parameters<typeof tokenize>[1]): string[] {
  return tokenize(src, opts).map((t: Token) => {
    switch (t.t) {
      case 'int':
      case 'float':
        return `${t.t}:${t.n}`;
      case 'ident':
      case 'str':
      case 'char':
      case 'interp':
      case 'reserved':
        return `${t.t}:${t.s}`;
      case 'lexerr':
        return `err:${t.code}:${t.s}@${t.pos}`;
      default:
        return t.t;
    }
  });
}
const one = (src: string) => kinds(src)[0];
const str = (src: string) => tokenize(src)[0]!.s;

describe('numbers', () => {
  it('decimal, separators, radix', () => {
    expect(one('1_000_000')).toBe('int:1000000');
    expect(one('0xFF')).toBe('int:255');
    expect(one('0o777')).toBe('int:511');
    expect(one('0b1010_0101')).toBe('int:165');
    expect(one('0xFFFFFFFFFFFFFFFF')).toBe('int:-1');
    expect(one('0x7FFFFFFFFFFFFFFF')).toBe('int:9223372036854775807');
  });
  it('floats and exponents', () => {
    expect(one('1.5')).toBe('float:1.5');
    expect(one('123_456.78_9')).toBe('float:123456.789');
    expect(one('1e3')).toBe('float:1000');
    expect(one('1.5e-3')).toBe('float:0.0015');
    expect(kinds('1.;')).toEqual(['float:1', ';', 'eof']);
    expect(kinds('1.abs')).toEqual(['int:1', '.', 'ident:abs', 'eof']);
    expect(kinds('1..5')).toEqual(['int:1', '..', 'int:5', 'eof']);
    expect(kinds('123.456e1.23')).toEqual(['float:1234.56', '.', 'int:23', 'eof']);
  });
  it('too big for i64 becomes a float', () => {
    expect(one('9223372036854775808')).toBe('float:9223372036854776000');
    expect(one('9223372036854775807')).toBe('int:9223372036854775807');
  });
  it('negative literals are lexed where a unary minus is allowed', () => {
    expect(kinds('-5')).toEqual(['int:-5', 'eof']);
    expect(kinds('x-5')).toEqual(['ident:x', '-', 'int:5', 'eof']);
    expect(kinds('(-5)')).toEqual(['(', 'int:-5', ')', 'eof']);
    expect(kinds('- x')).toEqual(['u-', 'ident:x', 'eof']);
  });
  it('malformed numbers', () => {
    expect(one('0x')).toBe("err:BadInput/MalformedNumber:Invalid number: ''@0");
    expect(one('0x1FFFFFFFFFFFFFFFF')).toMatch(/^err:BadInput\/MalformedNumber/);
  });
});

describe('strings and chars', () => {
  it('escapes', () => {
    expect(str('"a\\tb\\n\\\\\\"c"')).toBe('a\tb\n\\"c');
    expect(str('"\\x41\\u2764\\U0001F600"')).toBe('A\u2764\u{1F600}');
    expect(str('"say ""hi"""')).toBe('say "hi"');
    expect(tokenize("'\\''")[0]).toMatchObject({ t: 'char', s: "'" });
    expect(tokenize("'\u{1F600}'")[0]).toMatchObject({ t: 'char', s: '\u{1F600}' });
  });
  it('bad escapes and chars', () => {
    expect(one('"\\q"')).toBe("err:BadInput/MalformedEscapeSequence:Invalid escape sequence: '\\q'@2");
    expect(one("'\\uhello'")).toBe("err:BadInput/MalformedEscapeSequence:Invalid escape sequence: '\\uh'@3");
    expect(one("''")).toBe("err:BadInput/MalformedChar:Invalid character: ''@0");
    expect(one("'ab'")).toBe("err:BadInput/MalformedChar:Invalid character: 'ab'@0");
    expect(one('"abc')).toBe('err:BadInput/UnterminatedString:Open string is not terminated@0');
    expect(one('  "abc\ndef"')).toBe('err:BadInput/UnterminatedString:Open string is not terminated@2');
  });
  it('line continuation skips indentation up to the opening quote column', () => {
    // quote at column 4, five spaces on the next line: one space remains (tests/string.rs)
    expect(str('"abc\\\n     def"')).toBe('abc    def');
    const t = tokenize('   "abc\\\n     def"')[0]!;
    expect(t.s).toBe('abc def');
  });
  it('back-tick strings', () => {
    expect(str('`\nline1\nline2`')).toBe('line1\nline2');
    expect(str('`a``b`')).toBe('a`b');
    expect(str('`no \\n escapes`')).toBe('no \\n escapes');
    expect(kinds('`a ${x} b`').slice(0, 2)).toEqual(['interp:a ', '{']);
    expect(str('`hello \\${world}`')).toBe('hello ${world}');
    expect(str('`price: \\$5`')).toBe('price: \\$5');
  });
  it('raw strings', () => {
    expect(str('#"a\\x"#')).toBe('a\\x');
    expect(str('##"a "# b"##')).toBe('a "# b');
  });
  it('string size limit is in UTF-8 bytes', () => {
    expect(kinds('"hello"', { maxStringSize: 5 })[0]).toBe('str:hello');
    expect(kinds('"朝に紅顔、暮に白骨"', { maxStringSize: 10 })[0]).toBe(
      'err:LiteralTooLarge:Length of string exceeds the maximum limit (10)@0',
    );
  });
});

describe('identifiers, keywords, reserved', () => {
  it('leading underscores follow the v1.25 rule', () => {
    expect(one('_r2d2_')).toBe('ident:_r2d2_');
    expect(one('c3po')).toBe('ident:c3po');
    expect(one('_data')).toBe('ident:_data');
    expect(one('_1')).toBe("err:BadInput/MalformedIdentifier:Variable name is not proper: '_1'@0");
    expect(one('_42foo')).toBe("err:BadInput/MalformedIdentifier:Variable name is not proper: '_42foo'@0");
    expect(one('_')).toBe('_');
  });
  it('keywords and reserved words', () => {
    expect(kinds('let while fn')).toEqual(['let', 'while', 'fn', 'eof']);
    expect(one('var')).toBe('reserved:var');
    expect(one('print')).toBe('reserved:print');
    expect(one('this')).toBe('reserved:this');
    expect(one('exit')).toBe('ident:exit');
  });
  it('reserved symbols and JS-isms', () => {
    expect(kinds('x++')).toEqual(['ident:x', 'reserved:++', 'eof']);
    expect(one('===')).toBe(
      "err:BadInput/ImproperSymbol:'===' is not a valid operator. This is not JavaScript! Should it be '=='?@0",
    );
    expect(one('->')).toBe("err:BadInput/ImproperSymbol:'->' is not a valid symbol. This is not C or C++!@0");
    expect(one('é')).toBe("err:BadInput/UnexpectedInput:Unexpected 'é'@0");
  });
  it('operators', () => {
    expect(kinds('a !in b ?? c ?. d ?[ **= <<= ..= #{')).toEqual([
      'ident:a', '!in', 'ident:b', '??', 'ident:c', '?.', 'ident:d', '?[', '**=', '<<=', '..=', '#{', 'eof',
    ]);
    expect(kinds('!input')).toEqual(['!', 'ident:input', 'eof']);
    expect(kinds('f()')).toEqual(['ident:f', '()', 'eof']);
    expect(kinds('( )')).toEqual(['(', ')', 'eof']);
  });
  it('disabled symbols', () => {
    expect(kinds('if x', { disabled: new Set(['if']) })[0]).toBe('reserved:if');
    expect(kinds('eval', { disabled: new Set(['eval']) })[0]).toBe(
      "err:BadInput/ImproperSymbol:reserved keyword 'eval' is disabled@0",
    );
  });
});

describe('comments', () => {
  it('line, nested block and doc comments are skipped', () => {
    expect(kinds('1 // c\n/* a /* b */ c */ 2 /// doc\n3')).toEqual(['int:1', 'int:2', 'int:3', 'eof']);
  });
  it('an unterminated block comment runs to the end of input', () => {
    expect(kinds('fn/*')).toEqual(['fn', 'eof']);
  });
});
