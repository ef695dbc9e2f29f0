import { describe, expect, it } from 'vitest';
import { formatFloat, formatFloatDebug, toDebug, toDisplay, debugString, compareStrings, utf8Length } from './format.ts';
import { FnPtr, RChar, RFloat, RRange, Timestamp } from './value.ts';

const f = (x: number) => new RFloat(x);

describe('formatFloat (FloatWrapper Display)', () => {
  it.each([
    [0, '0.0'],
    [-0, '0.0'],
    [1, '1.0'],
    [-1, '-1.0'],
    [1.5, '1.5'],
    [0.1 + 0.2, '0.30000000000000004'],
    [123.4556, '123.4556'],
    [1e100, '1e100'],
    [1e14, '1e14'],
    [1e13, '1e13'],
    [9999999999999, '9.999999999999e12'],
    [9999999827968, '9999999827968.0'],
    [1e-14, '1e-14'],
    [1e-13, '0.0000000000001'],
    [0.0000001, '0.0000001'],
    [1.5e-14, '1.5e-14'],
    [-2.5e20, '-2.5e20'],
    [123456789012.5, '123456789012.5'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, 'NaN'],
  ])('%s -> %s', (x, s) => {
    expect(formatFloat(x)).toBe(s);
  });
});

describe('formatFloatDebug (Rust {:?})', () => {
  it.each([
    [0, '0.0'],
    [-0, '-0.0'],
    [1, '1.0'],
    [0.1, '0.1'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e16'],
    [0.0001, '0.0001'],
    [0.00001, '1e-5'],
    [1.5e300, '1.5e300'],
  ])('%s -> %s', (x, s) => {
    expect(formatFloatDebug(x)).toBe(s);
  });
});

describe('toDisplay / toDebug', () => {
  it('primitives', () => {
    expect(toDisplay(42)).toBe('42');
    expect(toDisplay(9223372036854775807n)).toBe('9223372036854775807');
    expect(toDisplay(undefined)).toBe('');
    expect(toDebug(undefined)).toBe('()');
    expect(toDisplay(true)).toBe('true');
    expect(toDisplay('a"b')).toBe('a"b');
    expect(toDebug('a"b\n')).toBe('"a\\"b\\n"');
    expect(toDisplay(new RChar('c'))).toBe('c');
    expect(toDisplay(f(2))).toBe('2.0');
  });
  it('arrays print items in debug form, chars bare', () => {
    expect(toDisplay([1, 'a', new RChar('c'), f(1.5), undefined, true])).toBe('[1, "a", c, 1.5, (), true]');
    expect(toDisplay([])).toBe('[]');
    expect(toDisplay([[1, 2], [f(1e20)]])).toBe('[[1, 2], [1e20]]');
  });
  it('maps print sorted with quoted keys', () => {
    const m = new Map<string, import('./value.ts').Value>([
      ['b', 1],
      ['a', 'x'],
      ['c d', [1]],
    ]);
    expect(toDisplay(m)).toBe('#{"a": "x", "b": 1, "c d": [1]}');
    expect(toDisplay(new Map())).toBe('#{}');
    // Rhai's format_map renders values with the registered to_debug, which leaves chars bare
    expect(toDisplay(new Map([['c', new RChar('x')]]))).toBe('#{"c": x}');
    expect(toDebug(new Map([['c', new RChar('x')]]))).toBe('#{"c": x}');
    expect(toDisplay([new RChar('x'), new Map([['c', [new RChar('y')]]])])).toBe('[x, #{"c": [y]}]');
  });
  it('other types', () => {
    expect(toDisplay(new FnPtr('foo'))).toBe('Fn(foo)');
    expect(toDisplay(new RRange(1, 5, false))).toBe('1..5');
    expect(toDisplay(new RRange(1, 5, true))).toBe('1..=5');
    expect(toDisplay(new Timestamp(0))).toBe('<timestamp>');
    expect(toDisplay(Uint8Array.from([1, 2, 255, 4, 5, 6, 7, 8, 9]))).toBe('[0102ff0405060708 09]');
  });
  it('escapes control characters like Rust', () => {
    expect(debugString('\u0001')).toBe('"\\u{1}"');
    expect(debugString("it's")).toBe('"it\'s"');
    expect(debugString('❤')).toBe('"❤"');
  });
});

describe('helpers', () => {
  it('compareStrings orders by code point', () => {
    expect(compareStrings('a', 'b')).toBe(-1);
    expect(compareStrings('b', 'a')).toBe(1);
    expect(compareStrings('ab', 'a')).toBe(1);
    expect(compareStrings('x', 'x')).toBe(0);
    // U+1F600 (surrogates in UTF-16) sorts after U+FFFD by code point
    expect(compareStrings('\u{1F600}', '\uFFFD')).toBe(1);
  });
  it('utf8Length', () => {
    expect(utf8Length('abc')).toBe(3);
    expect(utf8Length('朝に紅顔、暮に白骨')).toBe(27);
    expect(utf8Length('é')).toBe(2);
    expect(utf8Length('\u{1F600}')).toBe(4);
  });
});
