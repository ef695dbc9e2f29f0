import { describe, expect, it } from 'vitest';
import { iterate, intStepRange } from './iter.ts';
import { RChar, RIterable, RRange, type Value } from '../runtime/value.ts';

describe('iterate (ITERATION CONTRACT)', () => {
  it('arrays are iterated over a snapshot', () => {
    const a: Value[] = [1, 2];
    const out: Value[] = [];
    for (const x of iterate(a)!) {
      out.push(x);
      a.push(99);
    }
    expect(out).toEqual([1, 2]);
  });
  it('strings yield chars, blobs yield bytes', () => {
    expect([...iterate('a\u{1F600}')!]).toEqual([new RChar('a'), new RChar('\u{1F600}')]);
    expect([...iterate(Uint8Array.of(7, 8))!]).toEqual([7, 8]);
  });
  it('ranges, including ones beyond 2^53', () => {
    expect([...iterate(new RRange(1, 4, false))!]).toEqual([1, 2, 3]);
    expect([...iterate(new RRange(1, 3, true))!]).toEqual([1, 2, 3]);
    expect([...iterate(new RRange(5, 1, false))!]).toEqual([]);
    const big = 9223372036854775806n;
    expect([...iterate(new RRange(big, 9223372036854775807n, true))!]).toEqual([big, 9223372036854775807n]);
  });
  it('step ranges stop before overflowing i64', () => {
    const r = intStepRange(9223372036854775800n, 9223372036854775807n, 5n);
    expect([...r.iter()]).toEqual([9223372036854775800n]);
    expect([...intStepRange(0, 10, 4).iter()]).toEqual([0, 4, 8]);
  });
  it('RIterable values are re-iterable and other values are not iterable', () => {
    const r = intStepRange(0, 3, 1);
    expect([...(iterate(r) as Iterable<Value>)]).toEqual([0, 1, 2]);
    expect([...(iterate(r) as Iterable<Value>)]).toEqual([0, 1, 2]);
    expect(r).toBeInstanceOf(RIterable);
    expect(iterate(new Map())).toBe(null);
    expect(iterate(5)).toBe(null);
    expect(iterate(undefined)).toBe(null);
  });
});
