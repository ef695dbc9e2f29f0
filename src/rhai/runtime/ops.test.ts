import { describe, expect, it } from 'vitest';
import { RhaiError } from './errors.ts';
import { RChar, RFloat } from './value.ts';
import { NO_BUILTIN, arith, compare, floatEq, intAdd, intDiv, intMul, intNeg, intPow, intRem, intShl, intShr, intSub } from './ops.ts';

const MAX = 9223372036854775807n;
const MIN = -9223372036854775808n;

function arithErr(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RhaiError);
    expect((e as RhaiError).kind).toBe('ErrorArithmetic');
    return (e as RhaiError).text;
  }
  throw new Error('expected ErrorArithmetic');
}

describe('checked i64 arithmetic', () => {
  it('stays a number while safe and continues exactly in bigint', () => {
    expect(intAdd(1, 2)).toBe(3);
    expect(intAdd(9007199254740991, 1)).toBe(9007199254740992n);
    expect(intSub(-9007199254740991, 1)).toBe(-9007199254740992n);
    expect(intMul(3037000499, 3037000499)).toBe(9223372030926249001n);
    expect(arithErr(() => intMul(4294967296, 2147483648))).toBe('Multiplication overflow: 4294967296 * 2147483648');
  });
  it('raises on overflow with Rhai messages', () => {
    expect(arithErr(() => intAdd(MAX, 1))).toBe('Addition overflow: 9223372036854775807 + 1');
    expect(arithErr(() => intSub(MIN, 1))).toBe('Subtraction overflow: -9223372036854775808 - 1');
    expect(arithErr(() => intMul(MAX, 2))).toBe('Multiplication overflow: 9223372036854775807 * 2');
    expect(arithErr(() => intNeg(MIN))).toBe('Negation overflow: --9223372036854775808');
    expect(arithErr(() => intDiv(MIN, -1))).toBe('Division overflow: -9223372036854775808 / -1');
    expect(arithErr(() => intDiv(1, 0))).toBe('Division by zero: 1 / 0');
    expect(arithErr(() => intPow(2, 63))).toBe('Exponential overflow: 2 ** 63');
    expect(arithErr(() => intPow(2, -1))).toBe('Integer raised to a negative power: 2 ** -1');
  });
  it('truncates division and remainder toward zero', () => {
    expect(intDiv(-7, 2)).toBe(-3);
    expect(intRem(-7, 2)).toBe(-1);
    expect(intDiv(MAX, 2)).toBe(4611686018427387903n);
    expect(intDiv(9007199254740991, 3)).toBe(3002399751580330);
  });
  it('shifts like Rhai', () => {
    expect(intShl(1, 62)).toBe(4611686018427387904n);
    expect(intShl(1, 64)).toBe(0);
    expect(intShr(-8, 1)).toBe(-4);
    expect(intShr(-1, 64)).toBe(-1);
    expect(intShl(10, -1)).toBe(5);
  });
});

describe('built-in operators', () => {
  it('mixes int and float, concatenates strings', () => {
    expect(arith('/', 10, new RFloat(4))).toEqual(new RFloat(2.5));
    expect(arith('+', 'a', 1)).toBe('a1');
    expect(arith('+', 1, 'a')).toBe('1a');
    expect(arith('+', 'a', undefined)).toBe('a');
    expect(arith('+', new RChar('a'), new RChar('b'))).toBe('ab');
    expect(arith('-', 'hello', new RChar('l'))).toBe('heo');
    expect(arith('*', 'a', 3)).toBe(NO_BUILTIN);
  });
  it('compares floats with a relative epsilon and mixed types as unequal', () => {
    expect(floatEq(0.1 + 0.2, 0.3)).toBe(true);
    expect(compare('<', 0, new RFloat(1e-16))).toBe(false);
    expect(compare('==', '42', 42)).toBe(false);
    expect(compare('!=', '42', 42)).toBe(true);
    expect(compare('<', true, 42)).toBe(false);
    expect(compare('>=', 'x', new RChar('x'))).toBe(true);
  });
});
