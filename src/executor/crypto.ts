/**
 * `crypto::` host functions for handlers: digests and HMACs (verifying a webhook's signature is the common case)
 * with Node's own crypto, and a comparison that takes the same time whatever the inputs (for signatures).
 *   crypto::sha256(data) → hex            crypto::hmac_sha256(key, data) → hex
 *   crypto::equal(a, b) → bool (constant time for equal lengths)
 * `data` and `key` are strings (UTF-8) or blobs.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { RhaiError, type Engine, type Value } from '../rhai/index.ts';

function bytes(v: Value, what: string): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return Buffer.from(v);
  throw new RhaiError('ErrorRuntime', `crypto: ${what} must be a string or a blob`);
}

export function registerCrypto(e: Engine): void {
  e.registerModule('crypto', {
    sha256: { params: ['any'], fn: (_c, a) => createHash('sha256').update(bytes(a[0], 'data')).digest('hex') },
    hmac_sha256: { params: ['any', 'any'], fn: (_c, a) => createHmac('sha256', bytes(a[0], 'key')).update(bytes(a[1], 'data')).digest('hex') },
    equal: {
      params: ['any', 'any'],
      fn: (_c, a) => {
        const x = bytes(a[0], 'a');
        const y = bytes(a[1], 'b');
        return x.length === y.length && timingSafeEqual(x, y);
      },
    },
  });
}
