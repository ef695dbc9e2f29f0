import { describe, expect, it } from 'vitest';
import { memoryKv } from './kv-memory.ts';
import { kvIncrError } from './kv.ts';

describe('kvIncrError', () => {
  it('should allow an absent key or an integer within ±(2^53 − 1), and say why otherwise', () => {
    expect(kvIncrError('k', null, 1)).toBeNull();
    expect(kvIncrError('k', '41', 1)).toBeNull();
    expect(kvIncrError('k', '-5', -3)).toBeNull();
    expect(kvIncrError('k', '"seven"', 1)).toBe('kv::incr: the value of "k" is not an integer');
    expect(kvIncrError('k', '2.5', 1)).toBe('kv::incr: the value of "k" is not an integer');
    expect(kvIncrError('k', '{"n":1}', 1)).toBe('kv::incr: the value of "k" is not an integer');
    expect(kvIncrError('k', String(Number.MAX_SAFE_INTEGER), 1)).toMatch(/would pass ±9007199254740991/);
    expect(kvIncrError('k', null, 0.5)).toMatch(/0.5 is not an integer/);
  });
});

describe('memoryKv', () => {
  it('should answer as the executors store does: get, set, delete, keys and incr', async () => {
    const kv = memoryKv();
    expect(await kv(null, 'get', 'a')).toBeNull();
    expect(await kv(null, 'incr', 'a', '1')).toBe(1);
    expect(await kv(null, 'incr', 'a', '-3')).toBe(-2);
    expect(await kv(null, 'get', 'a')).toBe('-2');
    await kv(null, 'set', 'b', '"x"');
    await expect(kv(null, 'incr', 'b', '1')).rejects.toThrow('kv::incr: the value of "b" is not an integer');
    expect(await kv(null, 'get', 'b')).toBe('"x"');
    expect(await kv(null, 'keys', '')).toEqual(['a', 'b']);
    expect(await kv(null, 'delete', 'a')).toBe(true);
    expect(await kv(null, 'delete', 'a')).toBe(false);
  });
});
