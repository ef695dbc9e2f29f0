import { describe, expect, it } from 'vitest';
import { TestKit, closure } from './testkit.ts';
import { standardPackage } from './standard.ts';
import { FnPtr, RFloat, RRange, type Value } from '../runtime/value.ts';
import { RhaiError } from '../runtime/errors.ts';

const k = new TestKit(standardPackage);
const num = (v: Value) => v as number;

describe('array basics', () => {
  it('push / insert / pop / shift / remove', () => {
    const a: Value[] = [1, 2, 3];
    k.call('push', a, 4);
    expect(a).toEqual([1, 2, 3, 4]);
    const b: Value[] = [1, 2, 3];
    k.call('insert', b, -2, 4);
    expect(b).toEqual([1, 4, 2, 3]);
    k.call('insert', b, 999, 9);
    k.call('insert', b, -999, 0);
    expect(b).toEqual([0, 1, 4, 2, 3, 9]);
    expect(k.call('pop', b)).toBe(9);
    expect(k.call('shift', b)).toBe(0);
    expect(k.call('remove', b, 1)).toBe(4);
    expect(k.call('remove', b, 99)).toBe(undefined);
    expect(b).toEqual([1, 2, 3]);
  });
  it('pad clones container items', () => {
    const a: Value[] = [1, 2, 3];
    k.call('pad', a, 5, [42]);
    expect(a).toEqual([1, 2, 3, [42], [42]]);
    expect(a[3]).not.toBe(a[4]);
  });
  it('extract / drain / retain / splice / split', () => {
    const y: Value[] = [1, 2, 3];
    expect(k.call('extract', y, 1, 10)).toEqual([2, 3]);
    expect(k.call('extract', y, -3, 1)).toEqual([1]);
    expect(k.call('extract', y, -99, 2)).toEqual([1, 2]);
    expect(k.call('extract', y, 99, 1)).toEqual([]);
    expect(k.call('extract', y, new RRange(1, 3, false))).toEqual([2, 3]);
    const d: Value[] = [1, 2, 3, 4, 5];
    expect(k.call('drain', d, 1, 2)).toEqual([2, 3]);
    expect(d).toEqual([1, 4, 5]);
    const r: Value[] = [1, 2, 3, 4, 5];
    expect(k.call('retain', r, 1, 2)).toEqual([1, 4, 5]);
    expect(r).toEqual([2, 3]);
    const s: Value[] = [1, 2, 3, 4];
    k.call('splice', s, 1, 2, [9, 9, 9]);
    expect(s).toEqual([1, 9, 9, 9, 4]);
    const t: Value[] = [1, 2, 3, 4];
    expect(k.call('split', t, 1)).toEqual([2, 3, 4]);
    expect(t).toEqual([1]);
  });
  it('truncate / chop / reverse / clear / append / +', () => {
    const a: Value[] = [1, 2, 3, 4];
    k.call('truncate', a, 3);
    expect(a).toEqual([1, 2, 3]);
    k.call('chop', a, 2);
    expect(a).toEqual([2, 3]);
    k.call('reverse', a);
    expect(a).toEqual([3, 2]);
    k.call('append', a, [7]);
    expect(a).toEqual([3, 2, 7]);
    expect(k.call('+', [1], [2])).toEqual([1, 2]);
    k.call('clear', a);
    expect(a).toEqual([]);
  });
  it('contains / index_of use Rhai equality', () => {
    expect(k.call('contains', [1, 2, 3], 2)).toBe(true);
    expect(k.call('contains', [1, 2, 3], new RFloat(2))).toBe(true);
    expect(k.call('index_of', ['hi', 'hello', 'world'], 'hello')).toBe(1);
    expect(k.call('index_of', ['a', 'b', 'c', 'b'], 'b', 2)).toBe(3);
    expect(k.call('index_of', [1, 2, 3], 'foo')).toBe(-1);
    expect(k.call('index_of', [1, 2, 3, 2], closure((_s, x) => x === 2))).toBe(1);
  });
  it('index_of with a named function', () => {
    const kk = new TestKit((r) => {
      standardPackage(r);
      r.fn('is_two', ['any'], (_c, [x]) => x === 2);
    });
    expect(kk.call('index_of', [1, 2, 3, 2], 'is_two')).toBe(1);
    expect(kk.call('index_of', [1, 2, 3, 2], 'is_two', 2)).toBe(3);
  });
  it('equality operator', () => {
    expect(k.call('==', [1, [2]], [1, [2]])).toBe(true);
    expect(k.call('!=', [1], [2])).toBe(true);
  });
  it('size limit', () => {
    const kk = new TestKit(standardPackage);
    kk.limits.maxArraySize = 3;
    const a: Value[] = [1, 2, 3];
    expect(() => kk.call('push', a, 4)).toThrowError(RhaiError);
  });
});

describe('higher-order array functions', () => {
  it('map with (x), (x, i) and this-bound callbacks', () => {
    expect(k.call('map', [1, 2, 3], closure((_s, x) => num(x) * 2))).toEqual([2, 4, 6]);
    expect(k.call('map', [1, 2, 3], closure((_s, x, i) => num(x) * num(i)))).toEqual([0, 2, 6]);
    expect(k.call('map', [1, 2, 3], closure((s) => num(s.value) * 2))).toEqual([2, 4, 6]);
  });
  it('for_each binds this by reference', () => {
    const a: Value[] = [1, 2, 3];
    k.call('for_each', a, closure((s) => ((s.value = num(s.value) + 41), undefined)));
    expect(a).toEqual([42, 43, 44]);
    const b: Value[] = [1, 2, 3];
    k.call('for_each', b, closure((s, i) => ((s.value = num(s.value) + num(i)), undefined)));
    expect(b[2]).toBe(5);
  });
  it('filter / some / all / find / find_map', () => {
    expect(k.call('filter', [1, 2, 3], closure((_s, v) => num(v) > 2))).toEqual([3]);
    expect(k.call('filter', [1, 2, 3], closure((_s, v, i) => num(v) > num(i)))).toEqual([1, 2, 3]);
    expect(k.call('some', [1, 2, 3], closure((_s, v) => num(v) > 1))).toBe(true);
    expect(k.call('all', [1, 2, 3], closure((_s, v) => num(v) > 1))).toBe(false);
    expect(k.call('find', [1, 2, 3], closure((_s, v) => num(v) > 2))).toBe(3);
    expect(k.call('find', [1, 2, 3], closure((_s, v) => num(v) > 4))).toBe(undefined);
    const maps = [new Map([['alice', 1]]), new Map([['bob', 2]])] as Value[];
    expect(k.call('find_map', maps, closure((_s, m) => (m as Map<string, Value>).get('bob')))).toBe(2);
  });
  it('reduce / reduce_rev start from unit without an initial value', () => {
    const sq = closure((_s, sum, v) => (sum === undefined ? num(v) * num(v) : num(sum) + num(v) * num(v)));
    expect(k.call('reduce', [1, 2, 3], sq)).toBe(14);
    expect(k.call('reduce_rev', [1, 2, 3], sq)).toBe(14);
    expect(k.call('reduce', [1, 2, 3], closure((_s, sum, v, i) => (i === 0 ? 10 : num(sum)) + num(v) * num(v)))).toBe(24);
    expect(k.call('reduce_rev', [1, 2, 3], closure((_s, sum, v, i) => (i === 2 ? 10 : num(sum)) + num(v) * num(v)))).toBe(24);
    expect(k.call('reduce', [1, 2, 3], closure((_s, a, v) => num(a) + num(v)), 100)).toBe(106);
  });
  it('sort, sort with comparer, order, dedup, zip, drain/retain by predicate', () => {
    const a: Value[] = [3, 1, 2];
    k.call('sort', a);
    expect(a).toEqual([1, 2, 3]);
    k.call('sort', a, closure((_s, x, y) => num(y) - num(x)));
    expect(a).toEqual([3, 2, 1]);
    expect(k.call('order', [2, 3, 1])).toEqual([1, 2, 3]);
    const strs: Value[] = ['b', 'a'];
    k.call('sort_desc', strs);
    expect(strs).toEqual(['b', 'a']);
    expect(() => k.call('sort', [1, 'a'])).toThrowError(/different types/);
    const d: Value[] = [1, 1, 2, 2, 1];
    k.call('dedup', d);
    expect(d).toEqual([1, 2, 1]);
    expect(k.call('zip', [1, 2, 3], [4, 5], closure((_s, x, y) => num(x) + num(y)))).toEqual([5, 7]);
    const e: Value[] = [1, 2, 3, 4];
    expect(k.call('drain', e, closure((_s, x) => num(x) % 2 === 0))).toEqual([2, 4]);
    expect(e).toEqual([1, 3]);
    const f: Value[] = [1, 2, 3, 4];
    expect(k.call('retain', f, closure((_s, x) => num(x) % 2 === 0))).toEqual([1, 3]);
    expect(f).toEqual([2, 4]);
  });
  it('errors inside callbacks are wrapped in ErrorInFunctionCall', () => {
    try {
      k.call('map', [1], closure((_s) => {
        throw new RhaiError('ErrorRuntime', 'boom');
      }));
      expect.unreachable();
    } catch (e) {
      expect((e as RhaiError).kind).toBe('ErrorInFunctionCall');
      expect((e as RhaiError).extra.inner?.text).toBe('boom');
    }
  });
  it('callbacks by name fall back to (item, index)', () => {
    const kk = new TestKit((r) => {
      standardPackage(r);
      r.fn('add_idx', ['int', 'int'], (_c, [x, i]) => num(x) + num(i));
    });
    expect(kk.call('map', [10, 20], new FnPtr('add_idx'))).toEqual([10, 21]);
    expect(kk.call('map', [10, 20], 'add_idx')).toEqual([10, 21]);
  });
});

describe('value semantics of returned and callback values', () => {
  it('get() returns a copy of a container element', () => {
    const inner: Value[] = [1];
    const a: Value[] = [inner];
    const got = k.call('get', a, 0) as Value[];
    got.push(2);
    expect(inner).toEqual([1]);
  });
  it('callbacks receive copies of container elements', () => {
    const a: Value[] = [new Map([['x', 1]])];
    const r = k.call('reduce', a, closure((_s, _acc, v) => v)) as Map<string, Value>;
    r.set('x', 2);
    expect((a[0] as Map<string, Value>).get('x')).toBe(1);
  });
});

describe('calc_offset_len edge cases', () => {
  it('get/set clamp a too-negative index to 0; retain with nothing selected leaves the array alone', () => {
    expect(k.call('get', [1, 2, 3], -99)).toBe(1);
    expect(k.call('get', [1, 2, 3], 99)).toBe(undefined);
    const a: Value[] = [1, 2, 3];
    expect(k.call('retain', a, 1, 0)).toEqual([]);
    expect(a).toEqual([1, 2, 3]);
    expect(k.call('retain', a, 5, 2)).toEqual([]);
    expect(a).toEqual([1, 2, 3]);
  });
});
