import { describe, expect, it } from 'vitest';
import { TestKit } from './testkit.ts';
import { standardPackage } from './standard.ts';
import { RChar, RFloat, RRange, RIterable, type Value } from '../runtime/value.ts';
import { RhaiError } from '../runtime/errors.ts';

const k = new TestKit(standardPackage);
const f = (x: number) => new RFloat(x);
const fv = (v: Value) => (v as RFloat).v;

function err(fn: () => unknown): RhaiError {
  try {
    fn();
  } catch (e) {
    return e as RhaiError;
  }
  throw new Error('expected an error');
}

describe('integer functions', () => {
  it('abs / sign / parity', () => {
    expect(k.call('abs', -5)).toBe(5);
    expect(k.call('abs', -9223372036854775807n)).toBe(9223372036854775807n);
    expect(err(() => k.call('abs', -9223372036854775808n)).kind).toBe('ErrorArithmetic');
    expect(k.call('sign', -3)).toBe(-1);
    expect(k.call('is_odd', 3)).toBe(true);
    expect(k.call('is_even', 2n ** 60n)).toBe(true);
    expect(k.call('is_zero', 0)).toBe(true);
  });
  it('min / max mix ints and floats', () => {
    expect(k.call('max', 1, 2)).toBe(2);
    expect(fv(k.call('max', 1, f(2.5)))).toBe(2.5);
    expect(fv(k.call('min', 1, f(2.5)))).toBe(1);
  });
  it('to_hex / to_octal / to_binary (two\'s complement for negatives)', () => {
    expect(k.call('to_hex', 255)).toBe('ff');
    expect(k.call('to_hex', -1)).toBe('ffffffffffffffff');
    expect(k.call('to_octal', 8)).toBe('10');
    expect(k.call('to_binary', 5)).toBe('101');
  });
  it('parse_int', () => {
    expect(k.call('parse_int', '42')).toBe(42);
    expect(k.call('parse_int', ' -42 ')).toBe(-42);
    expect(k.call('parse_int', '42', 16)).toBe(66);
    expect(k.call('parse_int', 'abcdef', 16)).toBe(11259375);
    expect(k.call('parse_int', '9223372036854775807')).toBe(9223372036854775807n);
    const e = err(() => k.call('parse_int', '0x10'));
    expect(e.kind).toBe('ErrorArithmetic');
    expect(e.text).toBe("Error parsing integer number '0x10': invalid digit found in string");
    expect(err(() => k.call('parse_int', '9223372036854775808')).kind).toBe('ErrorArithmetic');
    expect(err(() => k.call('parse_int', '1', 99)).text).toBe("Invalid radix: '99'");
  });
  it('to_float / to_int', () => {
    expect(fv(k.call('to_float', 3))).toBe(3);
    expect(k.call('to_int', f(-3.9))).toBe(-3);
    expect(k.call('to_int', new RChar('A'))).toBe(65);
    expect(err(() => k.call('to_int', f(1e20))).kind).toBe('ErrorArithmetic');
  });
});

describe('float functions', () => {
  it('parse_float', () => {
    expect(fv(k.call('parse_float', '9.9999'))).toBe(9.9999);
    expect(fv(k.call('parse_float', '1e3'))).toBe(1000);
    expect(fv(k.call('parse_float', 'inf'))).toBe(Infinity);
    expect(err(() => k.call('parse_float', 'abc')).kind).toBe('ErrorArithmetic');
  });
  it('rounding family returns floats', () => {
    expect(fv(k.call('floor', f(1.7)))).toBe(1);
    expect(fv(k.call('ceiling', f(1.2)))).toBe(2);
    expect(fv(k.call('round', f(2.5)))).toBe(3);
    expect(fv(k.call('round', f(-2.5)))).toBe(-3);
    expect(fv(k.call('int', f(-2.7)))).toBe(-2);
    expect(fv(k.call('fraction', f(2.5)))).toBe(0.5);
  });
  it('math', () => {
    expect(fv(k.call('sqrt', f(4)))).toBe(2);
    expect(() => k.call('sqrt', 4)).toThrowError(/Function not found/);
    expect(fv(k.call('sin', f(fv(k.call('PI')) / 6)))).toBeCloseTo(0.5);
    expect(fv(k.call('log', f(100)))).toBeCloseTo(2);
    expect(fv(k.call('log', f(8), f(2)))).toBeCloseTo(3);
    expect(k.call('is_nan', f(NaN))).toBe(true);
    expect(k.call('sign', f(-0.5))).toBe(-1);
  });
});

describe('ranges', () => {
  const collect = (v: Value) => [...(v as RIterable).iter()];
  it('range(a, b) is an exclusive range', () => {
    expect(k.call('range', 1, 5)).toEqual(new RRange(1, 5, false));
  });
  it('step ranges', () => {
    expect(collect(k.call('range', 0, 10, 3))).toEqual([0, 3, 6, 9]);
    expect(collect(k.call('range', 10, 0, -3))).toEqual([10, 7, 4, 1]);
    expect(collect(k.call('range', 0, 10, -1))).toEqual([]);
    expect(collect(k.call('range', new RRange(1, 6, false), 2))).toEqual([1, 3, 5]);
    expect(collect(k.call('range', f(0), f(1), f(0.25))).map(fv)).toEqual([0, 0.25, 0.5, 0.75]);
    expect(err(() => k.call('range', 0, 10, 0)).kind).toBe('ErrorInFunctionCall');
  });
  it('range properties', () => {
    const r = new RRange(1, 5, true);
    expect(k.call('start', r)).toBe(1);
    expect(k.call('end', r)).toBe(5);
    expect(k.call('is_inclusive', r)).toBe(true);
    expect(k.call('contains', r, 5)).toBe(true);
    expect(k.call('contains', new RRange(1, 5, false), 5)).toBe(false);
    expect(k.call('is_empty', new RRange(5, 5, false))).toBe(true);
  });
});
