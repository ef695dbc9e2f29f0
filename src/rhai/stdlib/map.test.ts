import { describe, expect, it } from 'vitest';
import { TestKit, closure } from './testkit.ts';
import { standardPackage } from './standard.ts';
import { FnPtr, RFloat, RChar, type RMap, type Value } from '../runtime/value.ts';
import { parseJson } from './core.ts';

const k = new TestKit(standardPackage);
const m = (o: Record<string, Value>): RMap => new Map(Object.entries(o));

describe('map functions', () => {
  it('len / contains / remove / keys / values sorted', () => {
    const x = m({ c: 3, a: 1, b: 2 });
    expect(k.call('len', x)).toBe(3);
    expect(k.call('contains', x, 'b')).toBe(true);
    expect(k.call('keys', x)).toEqual(['a', 'b', 'c']);
    expect(k.call('values', x)).toEqual([1, 2, 3]);
    expect(k.call('remove', x, 'c')).toBe(3);
    expect(k.call('remove', x, 'zz')).toBe(undefined);
    expect(k.call('len', x)).toBe(2);
  });
  it('mixin / + / fill_with', () => {
    const x = m({ a: 1, b: 2, c: 3 });
    k.call('mixin', x, m({ b: 42, d: 9 }));
    expect(x.size + (x.get('b') as number)).toBe(46);
    const y = k.call('+', m({ a: 1 }), m({ a: 2, b: 3 })) as RMap;
    expect([...y.entries()]).toEqual([
      ['a', 2],
      ['b', 3],
    ]);
    const z = m({ a: 1 });
    k.call('fill_with', z, m({ a: 9, b: 2 }));
    expect(z.get('a')).toBe(1);
    expect(z.get('b')).toBe(2);
  });
  it('filter / map / retain / drain with (key, value) callbacks', () => {
    const x = m({ a: 1, b: 2, c: 3 });
    expect(k.call('filter', x, closure((_s, _k, v) => (v as number) > 1))).toEqual(m({ b: 2, c: 3 }));
    expect(k.call('map', x, closure((_s, _k, v) => (v as number) * 10))).toEqual(m({ a: 10, b: 20, c: 30 }));
    const removed = k.call('drain', x, closure((_s, key, _v) => key === 'a'));
    expect(removed).toEqual(m({ a: 1 }));
    expect(k.call('retain', x, closure((_s, key, _v) => key === 'b'))).toEqual(m({ c: 3 }));
    expect(x).toEqual(m({ b: 2 }));
  });
  it('to_json', () => {
    expect(k.call('to_json', m({ a: [m({ b: 42 })] }))).toBe('{"a":[{"b":42}]}');
    expect(k.call('to_json', m({ a: [new FnPtr('abc')] }))).toBe('{"a":["abc"]}');
    expect(k.call('to_json', m({ a: [new FnPtr('abc', [42, 123])] }))).toBe('{"a":[["abc",42,123]]}');
    expect(k.call('to_json', m({ f: new RFloat(1), u: undefined, c: new RChar('x'), s: 'q"' }))).toBe(
      '{"c":\'x\',"f":1.0,"s":"q\\"","u":null}',
    );
  });
  it('parse_json', () => {
    const v = parseJson('{"a": [1, 2.5, "x", null, true], "b": {"c": 9007199254740993}}') as RMap;
    expect(v.get('a')).toEqual([1, new RFloat(2.5), 'x', undefined, true]);
    expect((v.get('b') as RMap).get('c')).toBe(9007199254740993n);
    expect(() => parseJson('{"a": }')).toThrowError();
  });
});
