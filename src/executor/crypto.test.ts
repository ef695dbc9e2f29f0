import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Engine } from '../rhai/index.ts';
import { registerCrypto } from './crypto.ts';

describe('crypto:: host functions', () => {
  const e = new Engine();
  registerCrypto(e);
  it('computes sha256 and hmac_sha256 as hex, of strings and blobs', () => {
    expect(e.eval('crypto::sha256("abc")')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const want = createHmac('sha256', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex');
    expect(e.eval('crypto::hmac_sha256("key", "The quick brown fox jumps over the lazy dog")')).toBe(want);
    expect(e.eval('let b = blob(3, 0x61); crypto::sha256(b)')).toBe(e.eval('crypto::sha256("aaa")'));
  });
  it('compares in constant time and refuses other types', () => {
    expect(e.eval('crypto::equal("sha256=ab", "sha256=ab")')).toBe(true);
    expect(e.eval('crypto::equal("sha256=ab", "sha256=ac")')).toBe(false);
    expect(e.eval('crypto::equal("a", "ab")')).toBe(false);
    expect(() => e.eval('crypto::sha256(42)')).toThrow(/must be a string or a blob/);
  });
});
