import { describe, expect, it } from 'vitest';
import { diag } from './diagnostics.ts';
import { formatPretty, formatShort } from './render.ts';
import { lineCol, lineText } from './source.ts';

describe('lineCol (Rhai Position)', () => {
  it('is 1-based line and 1-based character', () => {
    expect(lineCol('abc', 0)).toEqual({ line: 1, position: 1 });
    expect(lineCol('abc', 3)).toEqual({ line: 1, position: 4 }); // end of input: one past the last char
    expect(lineCol('a\nbc', 2)).toEqual({ line: 2, position: 1 });
    expect(lineCol('a\n', 2)).toEqual({ line: 2, position: 1 });
    expect(lineCol('a\r\nb', 3)).toEqual({ line: 2, position: 1 });
  });
  it('counts code points, not UTF-16 units', () => {
    const s = 'x = "😀é"; y';
    expect(lineCol(s, s.indexOf('y'))).toEqual({ line: 1, position: 11 });
    expect(lineCol('\t\tz', 2)).toEqual({ line: 1, position: 3 });
  });
  it('lineText', () => {
    expect(lineText('a\r\nb\nc', 1)).toBe('a');
    expect(lineText('a\r\nb\nc', 3)).toBe('c');
    expect(lineText('a', 5)).toBe('');
  });
});

describe('formatting', () => {
  it('short form', () => {
    expect(formatShort('Script is incomplete', { line: 1, position: 5 })).toBe('Script is incomplete (line 1, position 5)');
  });
  it('pretty form puts a caret under the error column', () => {
    const src = 'let a = 1;\nlet = 2;';
    expect(formatPretty('main.rhai', src, diag('VariableExpected', 'Expecting name of a variable', 15))).toBe(
      'main.rhai:2:5: Expecting name of a variable\nlet = 2;\n    ^',
    );
  });
  it('keeps tabs and counts non-ASCII characters once', () => {
    const src = '\tlet s = "日本😀"; let = 2;';
    const off = src.lastIndexOf('=');
    expect(formatPretty('x.rhai', src, diag('E', 'msg', off))).toBe(
      `x.rhai:1:21: msg\n${src}\n\t${' '.repeat(19)}^`,
    );
  });
  it('end of input', () => {
    expect(formatPretty('e.rhai', 'f(', diag('MissingToken', 'm', 2))).toBe('e.rhai:1:3: m\nf(\n  ^');
  });
});
