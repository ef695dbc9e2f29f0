import { describe, expect, it } from 'vitest';
import { TestKit } from './testkit.ts';
import { standardPackage } from './standard.ts';
import { RFloat, Timestamp, typeName } from '../runtime/value.ts';

const k = new TestKit(standardPackage);

describe('timestamps', () => {
  it('timestamp arithmetic in seconds', () => {
    const t1 = k.call('timestamp') as Timestamp;
    expect(typeName(t1)).toBe('timestamp');
    const t2 = k.call('+', t1, new RFloat(123.45));
    expect((k.call('-', t2, t1) as RFloat).v).toBeCloseTo(123.45, 6);
    const t3 = k.call('-', t1, 2);
    expect((k.call('-', t1, t3) as RFloat).v).toBeCloseTo(2, 6);
    expect(k.call('<=', t1, t2)).toBe(true);
    expect((k.call('elapsed', t1) as RFloat).v).toBeGreaterThanOrEqual(0);
  });
  it('there is no sleep()', () => {
    expect(k.fns.has('sleep')).toBe(false);
  });
});

describe('timestamp errors', () => {
  it('elapsed of a future timestamp is an arithmetic error', () => {
    const t = k.call('+', k.call('timestamp'), 100) as Timestamp;
    expect(() => k.call('elapsed', t)).toThrowError(/later than now/);
  });
});
