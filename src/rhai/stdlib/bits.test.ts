import { describe, expect, it } from 'vitest';
import { TestKit } from './testkit.ts';
import { standardPackage } from './standard.ts';
import { RIterable, RRange } from '../runtime/value.ts';
import { RhaiError } from '../runtime/errors.ts';

const k = new TestKit(standardPackage);
const count = (v: unknown) => [...(v as RIterable).iter()].filter((b) => b === true).length;

describe('bit fields', () => {
  it('get_bit / set_bit', () => {
    expect(k.call('get_bit', 10, 0)).toBe(false);
    expect(k.call('get_bit', 10, 1)).toBe(true);
    expect(k.call('get_bit', 10, -1)).toBe(false);
    expect(k.call('get_bit', -1, 63)).toBe(true);
    expect(k.mut('set_bit', 10, 0, true)[1]).toBe(11);
    expect(k.mut('set_bit', 0, 63, true)[1]).toBe(-9223372036854775808n);
    expect(() => k.call('get_bit', 10, 64)).toThrowError(RhaiError);
  });
  it('get_bits / set_bits', () => {
    expect(k.call('get_bits', 10, 1, 3)).toBe(5);
    expect(k.call('get_bits', 10, new RRange(1, 3, true))).toBe(5);
    expect(k.call('get_bits', 255, -60, 2)).toBe(3);
    expect(k.mut('set_bits', 10, 1, 3, 7)[1]).toBe(14);
    expect(k.mut('set_bits', 0, -64, 1, 15)[1]).toBe(1);
    expect(k.mut('set_bits', 0, -60, 2, 15)[1]).toBe(48);
  });
  it('bits iterators', () => {
    expect(count(k.call('bits', 0b001101101010001, 2, 10))).toBe(5);
    expect(count(k.call('bits', 0b001101101010001, new RRange(2, 11, true)))).toBe(5);
    expect([...(k.call('bits', 5) as RIterable).iter()].length).toBe(64);
  });
});
