import { describe, expect, it } from 'vitest';
import { compareValues, valuesEqual } from './compare.ts';
import { RChar, RFloat, RRange, Timestamp } from './value.ts';

const f = (x: number) => new RFloat(x);

describe('valuesEqual', () => {
  it('same-type primitives', () => {
    expect(valuesEqual(1, 1)).toBe(true);
    expect(valuesEqual(1, 2)).toBe(false);
    expect(valuesEqual(9223372036854775807n, 9223372036854775807n)).toBe(true);
    expect(valuesEqual('a', 'a')).toBe(true);
    expect(valuesEqual(true, false)).toBe(false);
    expect(valuesEqual(undefined, undefined)).toBe(true);
  });
  it('float epsilon and int/float mix', () => {
    expect(valuesEqual(f(0.1 + 0.2), f(0.3))).toBe(true);
    expect(valuesEqual(1, f(1))).toBe(true);
    expect(valuesEqual(f(1), 1)).toBe(true);
    expect(valuesEqual(f(123.456), f(1.23456e2))).toBe(true);
    expect(valuesEqual(f(NaN), f(NaN))).toBe(false);
  });
  it('mixed unrelated types are unequal', () => {
    expect(valuesEqual('42', 42)).toBe(false);
    expect(valuesEqual(true, 1)).toBe(false);
    expect(valuesEqual(undefined, '')).toBe(false);
  });
  it('char vs string', () => {
    expect(valuesEqual(new RChar('a'), 'a')).toBe(true);
    expect(valuesEqual('a', new RChar('a'))).toBe(true);
    expect(valuesEqual(new RChar('a'), 'ab')).toBe(false);
  });
  it('containers', () => {
    expect(valuesEqual([1, [2, 'x']], [1, [2, 'x']])).toBe(true);
    expect(valuesEqual([1, 2], [1, '2'])).toBe(false);
    expect(valuesEqual(new Map([['a', 1]]), new Map([['a', 1]]))).toBe(true);
    expect(valuesEqual(new Map([['a', 1]]), new Map([['b', 1]]))).toBe(false);
    expect(valuesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(valuesEqual(new RRange(1, 2, false), new RRange(1, 2, true))).toBe(false);
    expect(valuesEqual(new Timestamp(5), new Timestamp(5))).toBe(true);
  });
});

describe('compareValues', () => {
  it('orders numbers with the epsilon rule', () => {
    expect(compareValues(1, 2)).toBe(-1);
    expect(compareValues(2n ** 60n, 1)).toBe(1);
    expect(compareValues(f(1e-19), f(1e-18))).toBe(-1);
    expect(compareValues(0, f(1e-16))).toBe(0);
    expect(compareValues(0, f(1e-15))).toBe(-1);
    expect(compareValues(f(NaN), f(1))).toBe(null);
  });
  it('strings, chars, bools', () => {
    expect(compareValues('a', 'b')).toBe(-1);
    expect(compareValues(new RChar('b'), new RChar('a'))).toBe(1);
    expect(compareValues(new RChar('a'), 'b')).toBe(-1);
    expect(compareValues('ab', new RChar('a'))).toBe(1);
    expect(compareValues(false, true)).toBe(-1);
  });
  it('incomparable pairs give null', () => {
    expect(compareValues(true, 42)).toBe(null);
    expect(compareValues(undefined, undefined)).toBe(null);
    expect(compareValues([1], [1])).toBe(null);
  });
});
