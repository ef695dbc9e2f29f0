import { describe, expect, it } from 'vitest';
import { TestKit } from './testkit.ts';
import { standardPackage } from './standard.ts';
import { RChar, RFloat, RRange, RIterable, type Value } from '../runtime/value.ts';
import { RhaiError } from '../runtime/errors.ts';

const k = new TestKit(standardPackage);
const c = (s: string) => new RChar(s);
const H = '❤❤❤ hello! ❤❤❤';

describe('string functions', () => {
  it('len / bytes / is_empty count chars and UTF-8 bytes', () => {
    expect(k.call('len', 'hello')).toBe(5);
    expect(k.call('get$len', H)).toBe(14);
    expect(k.call('bytes', H)).toBe(26);
    expect(k.call('is_empty', '')).toBe(true);
    expect(k.call('len', '\u{1F600}x')).toBe(2);
  });
  it('sub_string', () => {
    expect(k.call('sub_string', 'hello! ❤❤❤', -2, 2)).toBe('❤❤');
    expect(k.call('sub_string', H, 1, 5)).toBe('❤❤ he');
    expect(k.call('sub_string', H, 1)).toBe('❤❤ hello! ❤❤❤');
    expect(k.call('sub_string', H, 99)).toBe('');
    expect(k.call('sub_string', H, 1, -1)).toBe('');
    expect(k.call('sub_string', H, 1, 999)).toBe('❤❤ hello! ❤❤❤');
    expect(k.call('sub_string', 'hello', new RRange(1, 3, false))).toBe('el');
    expect(k.call('sub_string', 'hello', new RRange(1, 3, true))).toBe('ell');
    expect(k.call('sub_string', '\u{1F600}ab', 1, 1)).toBe('a');
  });
  it('crop mutates', () => {
    expect(k.mut('crop', H, 4, 6)[1]).toBe('hello!');
    expect(k.mut('crop', H, 1, -1)[1]).toBe('');
    expect(k.mut('crop', H, 1, 999)[1]).toBe('❤❤ hello! ❤❤❤');
  });
  it('index_of', () => {
    expect(k.call('index_of', H, c('❤'))).toBe(0);
    expect(k.call('index_of', H, c('❤'), 5)).toBe(11);
    expect(k.call('index_of', H, c('❤'), -6)).toBe(11);
    expect(k.call('index_of', H, c('❤'), 999)).toBe(-1);
    expect(k.call('index_of', H, c('x'))).toBe(-1);
    expect(k.call('index_of', H, 'hello')).toBe(4);
  });
  it('split / split_rev', () => {
    expect(k.call('split', H, c(' '))).toEqual(['❤❤❤', 'hello!', '❤❤❤']);
    expect((k.call('split', H, 'hello') as Value[]).length).toBe(2);
    expect(k.call('split', 'a,b,c', ',', 2)).toEqual(['a', 'b,c']);
    expect(k.call('split', 'a b  c')).toEqual(['a', 'b', 'c']);
    expect(k.call('split', 'a,b,c', 3)).toEqual(['a,b', ',c']);
    expect(k.call('split', 'abc', -1)).toEqual(['ab', 'c']);
    expect(k.call('split_rev', 'a,b,c', ',')).toEqual(['c', 'b', 'a']);
    expect(k.call('split_rev', 'a,b,c', c(','), 2)).toEqual(['c', 'a,b']);
  });
  it('pop / truncate / clear / trim / remove / replace', () => {
    expect(k.mut('pop', 'hello')).toEqual([c('o'), 'hell']);
    expect(k.mut('pop', 'hello', 3)).toEqual(['llo', 'he']);
    expect(k.mut('pop', 'hello', 10)).toEqual(['hello', '']);
    expect(k.mut('pop', 'hello', -42)).toEqual(['', 'hello']);
    expect(k.mut('pop', '')[0]).toBe(undefined);
    expect(k.mut('truncate', '❤❤❤', 2)[1]).toBe('❤❤');
    expect(k.mut('clear', 'abc')[1]).toBe('');
    expect(k.mut('trim', '  a b \n')[1]).toBe('a b');
    expect(k.mut('remove', H, c('l'))[1]).toBe('❤❤❤ heo! ❤❤❤');
    expect(k.mut('remove', H, '❤❤')[1]).toBe('❤ hello! ❤');
    expect(k.mut('replace', 'hello', 'l', 'L')[1]).toBe('heLLo');
    expect(k.mut('replace', 'hello', c('l'), c('x'))[1]).toBe('hexxo');
  });
  it('pad', () => {
    expect(k.mut('pad', 'ab', 5, c('*'))[1]).toBe('ab***');
    expect(k.mut('pad', 'ab', 7, 'xyz')[1]).toBe('abxyzxy');
    expect(k.mut('pad', 'abc', 2, c('*'))[1]).toBe('abc');
  });
  it('case, contains, starts/ends', () => {
    expect(k.call('to_upper', 'abc')).toBe('ABC');
    expect(k.mut('make_lower', 'ABC')[1]).toBe('abc');
    expect(k.call('to_upper', c('a'))).toEqual(c('A'));
    expect(k.call('contains', 'hello, world!', 'world')).toBe(true);
    expect(k.call('contains', 'hello, world!', c('w'))).toBe(true);
    expect(k.call('contains', 'hello, world!', 'hey')).toBe(false);
    expect(k.call('starts_with', 'hello', 'he')).toBe(true);
    expect(k.call('ends_with', 'hello', 'lo')).toBe(true);
  });
  it('chars iterator and to_chars', () => {
    const it = k.call('chars', 'a❤b') as RIterable;
    expect([...it.iter()]).toEqual([c('a'), c('❤'), c('b')]);
    expect([...(k.call('chars', 'abcd', 1, 2) as RIterable).iter()]).toEqual([c('b'), c('c')]);
    expect(k.call('to_chars', 'ab')).toEqual([c('a'), c('b')]);
  });
  it('printing and concatenation', () => {
    expect(k.call('to_string', 42)).toBe('42');
    expect(k.call('to_string', new RFloat(1))).toBe('1.0');
    expect(k.call('to_debug', 'a')).toBe('"a"');
    expect(k.call('print', undefined)).toBe('');
    expect(k.call('debug', undefined)).toBe('()');
    expect(k.call('+', 'foo', new RFloat(123.4556))).toBe('foo123.4556');
    expect(k.call('+', 1, 'a')).toBe('1a');
    expect(k.call('+', 'a', undefined)).toBe('a');
    expect(k.call('+', c('a'), c('b'))).toBe('ab');
    expect(k.call('-', 'hello', c('l'))).toBe('heo');
    expect(k.mut('append', 'a', 1)[1]).toBe('a1');
  });
  it('string size limit raises ErrorDataTooLarge', () => {
    const kk = new TestKit(standardPackage);
    kk.limits.maxStringSize = 10;
    expect(() => kk.call('+', '朝に紅顔、', '暮に白骨')).toThrowError(RhaiError);
    try {
      kk.mut('pad', 'a', 20, c('x'));
    } catch (e) {
      expect((e as RhaiError).kind).toBe('ErrorDataTooLarge');
      expect((e as RhaiError).text).toMatch(/^Length of string/);
    }
  });
});

describe('range arguments', () => {
  it('an inclusive range ending before its start is empty for chars() but one char for sub_string()', () => {
    expect([...(k.call('chars', 'hello', new RRange(3, 1, true)) as RIterable).iter()]).toEqual([]);
    expect(k.call('sub_string', 'hello', new RRange(3, 1, true))).toBe('l');
    expect([...(k.call('chars', 'hello', new RRange(1, 3, true)) as RIterable).iter()]).toEqual([c('e'), c('l'), c('l')]);
  });
});
