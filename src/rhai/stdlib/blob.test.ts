import { describe, expect, it } from 'vitest';
import { TestKit } from './testkit.ts';
import { standardPackage } from './standard.ts';
import { RRange, type Value } from '../runtime/value.ts';

const k = new TestKit(standardPackage);
const seq = () => Uint8Array.from({ length: 16 }, (_, i) => i);

describe('blobs', () => {
  it('blob() / len / get / set', () => {
    const b = k.call('blob', 4, 0x1ff) as Uint8Array;
    expect([...b]).toEqual([255, 255, 255, 255]);
    expect(k.call('len', b)).toBe(4);
    k.call('set', b, -1, 7);
    expect(k.call('get', b, 3)).toBe(7);
  });
  it('parse_le_int / parse_be_int', () => {
    expect(k.call('parse_le_int', seq(), 2, 0)).toBe(0);
    expect(k.call('parse_le_int', seq(), 2, 9)).toBe(650777868590383874n);
    expect(k.call('parse_le_int', seq(), new RRange(2, 11, true))).toBe(650777868590383874n);
    expect(k.call('parse_be_int', seq(), 2, 10)).toBe(144964032628459529n);
    expect(k.call('parse_le_int', seq(), -5, 99)).toBe(64660245515);
    expect(k.call('parse_le_int', seq(), -5, 2)).toBe(3083);
    expect(k.call('parse_le_int', seq(), -99, 99)).toBe(506097522914230528n);
  });
  it('write_be / write_le', () => {
    const x = seq();
    k.call('write_be', x, 3, 3, -98765432);
    expect(k.call('parse_be_int', x, 3, 3)).toBe(-1099511627776);
    const y = seq();
    k.call('write_le', y, 3, 3, -98765432);
    expect(k.call('parse_le_int', y, 3, 3)).toBe(1897864);
    const z = new Uint8Array(16);
    k.call('write_be', z, 0, 8, 0x1234567890abcdefn);
    k.call('write_be', z, 8, 8, BigInt.asIntN(64, 0xabcdef1234567890n));
    expect([...z]).toEqual([18, 52, 86, 120, 144, 171, 205, 239, 171, 205, 239, 18, 52, 86, 120, 144]);
  });
  it('write_ascii / write_utf8', () => {
    const a = new Uint8Array(10);
    k.call('write_ascii', a, new RRange(0, 9, false), '❤ hello, ❤ world! ❤❤❤');
    expect([...a]).toEqual([32, 104, 101, 108, 108, 111, 44, 32, 32, 0]);
    const b = new Uint8Array(10);
    k.call('write_utf8', b, new RRange(3, 7, false), '❤❤❤❤');
    expect([...b]).toEqual([0, 0, 0, 226, 157, 164, 226, 0, 0, 0]);
  });
  it('growing functions replace args[0]', () => {
    const [, b] = k.mut('push', Uint8Array.of(1), 2);
    expect([...(b as Uint8Array)]).toEqual([1, 2]);
    const [, c] = k.mut('append', Uint8Array.of(1), 'é');
    expect([...(c as Uint8Array)]).toEqual([1, 0xc3, 0xa9]);
    expect(k.call('as_string', Uint8Array.of(104, 105))).toBe('hi');
    expect(k.call('to_array', Uint8Array.of(1, 2))).toEqual([1, 2] as Value[]);
  });
});
