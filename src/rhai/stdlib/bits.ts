/** Bit-field functions (bit_field.rs): get_bit, set_bit, get_bits, set_bits, bits(). Bit 0 is the LSB; negative indices count from bit 64. */
import type { NativeFn, Package } from '../runtime/native.ts';
import { RIterable, RRange, type Value } from '../runtime/value.ts';
import { errBitFieldBounds } from '../runtime/errors.ts';
import { num } from './util.ts';
import { iterRangeBounds } from './string.ts';

const BITS = 64;
const MUT = { pure: false } as const;

function toBig(v: Value): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}
function fromBig(b: bigint): number | bigint {
  const x = BigInt.asIntN(64, b);
  return x >= -9007199254740991n && x <= 9007199254740991n ? Number(x) : x;
}

/** Normalise a bit index: 0..63, or -1..-64 from the top; out of range raises ErrorBitFieldBounds. */
export function bitIndex(index: number): number {
  if (index >= 0) {
    if (index >= BITS) throw errBitFieldBounds(BITS, index);
    return index;
  }
  const n = -index;
  if (n > BITS) throw errBitFieldBounds(BITS, index);
  return BITS - n;
}

export function getBit(value: Value, bit: number): boolean {
  const i = bitIndex(bit);
  if (typeof value === 'number' && value >= 0 && i < 53) return Math.floor(value / 2 ** i) % 2 === 1;
  return ((toBig(value) >> BigInt(i)) & 1n) === 1n;
}

export function setBit(value: Value, bit: number, on: boolean): number | bigint {
  const i = bitIndex(bit);
  const mask = 1n << BigInt(i);
  const v = toBig(value);
  return fromBig(on ? v | mask : v & ~mask);
}

export function getBits(value: Value, start: number, bits: number): number | bigint {
  if (bits <= 0) return 0;
  const i = bitIndex(start);
  const n = i + bits > BITS ? BITS - i : bits;
  if (n >= BITS) return value as number | bigint;
  const mask = (1n << BigInt(n)) - 1n;
  return fromBig((toBig(value) >> BigInt(i)) & mask);
}

export function setBits(value: Value, start: number, bits: number, newValue: Value): number | bigint {
  if (bits <= 0) return value as number | bigint;
  const i = bitIndex(start);
  const n = i + bits > BITS ? BITS - i : bits;
  if (n >= BITS) return newValue as number | bigint;
  const mask = (1n << BigInt(n)) - 1n;
  const sh = BigInt(i);
  let v = toBig(value) & ~(mask << sh);
  v |= (toBig(newValue) & mask) << sh;
  return fromBig(v);
}

export function bitsIter(value: Value, from: number, len: number): RIterable {
  const i = bitIndex(from);
  const n = len <= 0 ? 0 : i + len > BITS ? BITS - i : len;
  const v = toBig(value);
  return new RIterable('rhai::packages::iter_basic::BitRange', function* () {
    for (let k = 0; k < n; k++) yield ((v >> BigInt(i + k)) & 1n) === 1n;
  });
}

export const bitsPackage: Package = (r) => {
  r.fn('get_bit', ['int', 'int'], (_c, [v, b]) => getBit(v, num(b)));
  r.fn('set_bit', ['int', 'int', 'bool'], (_c, args) => {
    args[0] = setBit(args[0], num(args[1]), args[2] as boolean);
    return undefined;
  }, MUT);
  r.fn('get_bits', ['int', 'int', 'int'], (_c, [v, s, n]) => getBits(v, num(s), num(n)));
  r.fn('set_bits', ['int', 'int', 'int', 'int'], (_c, args) => {
    args[0] = setBits(args[0], num(args[1]), num(args[2]), args[3]);
    return undefined;
  }, MUT);
  const all: NativeFn = (_c, [v]) => bitsIter(v, 0, BITS);
  r.fn('bits', ['int'], all);
  r.fn('get$bits', ['int'], all);
  r.fn('bits', ['int', 'int'], (_c, [v, f]) => bitsIter(v, num(f), BITS));
  r.fn('bits', ['int', 'int', 'int'], (_c, [v, f, l]) => bitsIter(v, num(f), num(l)));
  for (const t of ['range', 'rangeInclusive'] as const) {
    r.fn('get_bits', ['int', t], (_c, [v, rg]) => {
      const [s, n] = iterRangeBounds(rg as RRange);
      return getBits(v, s, n);
    });
    r.fn('set_bits', ['int', t, 'int'], (_c, args) => {
      const [s, n] = iterRangeBounds(args[1] as RRange);
      args[0] = setBits(args[0], s, n, args[2]);
      return undefined;
    }, MUT);
    r.fn('bits', ['int', t], (_c, [v, rg]) => {
      const [s, n] = iterRangeBounds(rg as RRange);
      return bitsIter(v, s, n);
    });
  }
};
