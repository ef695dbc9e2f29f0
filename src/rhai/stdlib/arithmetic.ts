/**
 * Number functions beyond the built-in operators (arithmetic.rs, math_basic.rs, number formatting of
 * string_basic.rs): abs, sign, min, max, is_zero/is_odd/is_even, conversions, parsing, float math, PI(), E(),
 * to_hex/to_octal/to_binary. Float functions take floats only (`sqrt(4)` is ErrorFunctionNotFound, as in Rhai).
 */
import type { NativeFn, Package } from '../runtime/native.ts';
import { I64_MAX, I64_MIN, RChar, RFloat, type Value } from '../runtime/value.ts';
import { errArith } from './util.ts';

type Int = number | bigint;

const F = (x: number) => new RFloat(x);
const fv = (v: Value) => (v as RFloat).v;

/** Rust f64 `{}` Display (no exponent), used in error messages. */
function rustF64(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Math.abs(x) >= 1e21 || (x !== 0 && Math.abs(x) < 1e-6)) {
    // expand exponent form
    const neg = x < 0;
    const s = Math.abs(x).toExponential();
    const [m, e] = s.split('e') as [string, string];
    const exp = Number(e);
    const digits = m.replace('.', '');
    let out: string;
    if (exp >= 0) out = digits.length <= exp + 1 ? digits + '0'.repeat(exp + 1 - digits.length) : digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
    else out = '0.' + '0'.repeat(-exp - 1) + digits;
    return (neg ? '-' : '') + out;
  }
  return String(x);
}

function intAbs(x: Int): Int {
  if (typeof x === 'number') return Math.abs(x);
  if (x === I64_MIN) throw errArith(`Negation overflow: -${x}`);
  const r = x < 0n ? -x : x;
  return r <= 9007199254740991n ? Number(r) : r;
}

function toUnsigned64(x: Int): bigint {
  return BigInt.asUintN(64, BigInt(x));
}

const INT_MAX_F = 2 ** 63; // `INT::MAX as f64` rounds to 2^63
const INT_MIN_F = -(2 ** 63);

export function floatToInt(x: number): Int {
  if (x > INT_MAX_F || x < INT_MIN_F) throw errArith(`Integer overflow: to_int(${rustF64(x)})`);
  if (Number.isNaN(x)) return 0;
  const t = Math.trunc(x);
  if (Number.isSafeInteger(t)) return t === 0 ? 0 : t;
  let b = BigInt(t);
  if (b > I64_MAX) b = I64_MAX;
  return b;
}

const PARSE_INT_DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

export function parseIntRadix(original: string, radix: number): Int {
  const s = original.trim();
  const fail = (why: string) => errArith(`Error parsing integer number '${original}': ${why}`);
  if (s.length === 0) throw fail('cannot parse integer from empty string');
  let i = 0;
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    i = 1;
    if (s.length === 1) throw fail('invalid digit found in string');
  }
  const R = BigInt(radix);
  let acc = 0n;
  for (; i < s.length; i++) {
    const d = PARSE_INT_DIGITS.indexOf(s[i]!.toLowerCase());
    if (d < 0 || d >= radix) throw fail('invalid digit found in string');
    acc = acc * R + BigInt(d);
    if (!neg && acc > I64_MAX) throw fail('number too large to fit in target type');
    if (neg && acc > -I64_MIN) throw fail('number too small to fit in target type');
  }
  if (neg) acc = -acc;
  return acc >= -9007199254740991n && acc <= 9007199254740991n ? Number(acc) : acc;
}

const FLOAT_RE = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;

export function parseFloatRust(original: string): number {
  const s = original.trim();
  if (!FLOAT_RE.test(s)) {
    throw errArith(`Error parsing floating-point number '${original}': ${s.length === 0 ? 'cannot parse float from empty string' : 'invalid float literal'}`);
  }
  const lower = s.toLowerCase();
  const body = lower.replace(/^[+-]/, '');
  const neg = lower.startsWith('-');
  if (body === 'inf' || body === 'infinity') return neg ? -Infinity : Infinity;
  if (body === 'nan') return NaN;
  return Number(s);
}

function roundHalfAway(x: number): number {
  if (!Number.isFinite(x)) return x;
  const r = Math.round(Math.abs(x));
  // Math.round rounds .5 up; for |x| that is exactly k + 0.5 this is already "away from zero"
  return x < 0 ? -r : r;
}

function cmpMixed(a: Value, b: Value): number {
  const x = typeof a === 'object' ? (a as RFloat).v : Number(a);
  const y = typeof b === 'object' ? (b as RFloat).v : Number(b);
  return x - y;
}

export const arithmeticPackage: Package = (r) => {
  // ---- integers ----
  r.fn('abs', ['int'], (_c, [x]) => intAbs(x as Int));
  r.fn('sign', ['int'], (_c, [x]) => ((x as Int) > 0 ? 1 : (x as Int) < 0 ? -1 : 0));
  const isZeroI: NativeFn = (_c, [x]) => x == 0;
  const isOdd: NativeFn = (_c, [x]) => (typeof x === 'number' ? x % 2 !== 0 : (x as bigint) % 2n !== 0n);
  const isEven: NativeFn = (_c, [x]) => (typeof x === 'number' ? x % 2 === 0 : (x as bigint) % 2n === 0n);
  for (const [n, f] of [
    ['is_zero', isZeroI],
    ['is_odd', isOdd],
    ['is_even', isEven],
  ] as const) {
    r.fn(n, ['int'], f);
    r.fn('get$' + n, ['int'], f);
  }
  r.fn('to_float', ['int'], (_c, [x]) => F(Number(x)));
  r.fn('to_int', ['int'], (_c, [x]) => x);
  r.fn('to_int', ['char'], (_c, [x]) => (x as RChar).c.codePointAt(0)!);

  r.fn('min', ['int', 'int'], (_c, [a, b]) => ((a as Int) <= (b as Int) ? a : b));
  r.fn('max', ['int', 'int'], (_c, [a, b]) => ((a as Int) >= (b as Int) ? a : b));
  r.fn('min', ['float', 'float'], (_c, [a, b]) => F(Math.min(fv(a), fv(b))));
  r.fn('max', ['float', 'float'], (_c, [a, b]) => F(Math.max(fv(a), fv(b))));
  r.fn('min', ['int', 'float'], (_c, [a, b]) => (cmpMixed(a, b) <= 0 ? F(Number(a)) : b));
  r.fn('max', ['int', 'float'], (_c, [a, b]) => (cmpMixed(a, b) >= 0 ? F(Number(a)) : b));
  r.fn('min', ['float', 'int'], (_c, [a, b]) => (cmpMixed(a, b) <= 0 ? a : F(Number(b))));
  r.fn('max', ['float', 'int'], (_c, [a, b]) => (cmpMixed(a, b) >= 0 ? a : F(Number(b))));

  r.fn('to_hex', ['int'], (_c, [x]) => toUnsigned64(x as Int).toString(16));
  r.fn('to_octal', ['int'], (_c, [x]) => toUnsigned64(x as Int).toString(8));
  r.fn('to_binary', ['int'], (_c, [x]) => toUnsigned64(x as Int).toString(2));

  r.fn('parse_int', ['string'], (_c, [s]) => parseIntRadix(s as string, 10));
  r.fn('parse_int', ['string', 'int'], (_c, [s, radix]) => {
    const rd = Number(radix);
    if (!(rd >= 2 && rd <= 36)) throw errArith(`Invalid radix: '${radix}'`);
    return parseIntRadix(s as string, rd);
  });
  r.fn('parse_float', ['string'], (_c, [s]) => F(parseFloatRust(s as string)));

  // ---- floats ----
  r.fn('PI', [], () => F(Math.PI));
  r.fn('E', [], () => F(Math.E));
  r.fn('abs', ['float'], (_c, [x]) => F(Math.abs(fv(x))));
  r.fn('sign', ['float'], (_c, [x]) => {
    const v = fv(x);
    if (v === 0) return 0;
    if (Number.isNaN(v)) throw errArith('Sign of NaN is undefined');
    return v < 0 ? -1 : 1;
  });
  const isZeroF: NativeFn = (_c, [x]) => fv(x) === 0;
  r.fn('is_zero', ['float'], isZeroF);
  r.fn('get$is_zero', ['float'], isZeroF);
  r.fn('to_int', ['float'], (_c, [x]) => floatToInt(fv(x)));

  const unary: [string, (x: number) => number, boolean][] = [
    ['floor', Math.floor, true],
    ['ceiling', Math.ceil, true],
    ['round', roundHalfAway, true],
    ['int', Math.trunc, true],
    ['fraction', (x) => x - Math.trunc(x), true],
    ['sqrt', Math.sqrt, false],
    ['exp', Math.exp, false],
    ['ln', Math.log, false],
    ['log', Math.log10, false],
    ['sin', Math.sin, false],
    ['cos', Math.cos, false],
    ['tan', Math.tan, false],
    ['sinh', Math.sinh, false],
    ['cosh', Math.cosh, false],
    ['tanh', Math.tanh, false],
    ['asin', Math.asin, false],
    ['acos', Math.acos, false],
    ['atan', Math.atan, false],
    ['asinh', Math.asinh, false],
    ['acosh', Math.acosh, false],
    ['atanh', Math.atanh, false],
    ['to_degrees', (x) => (x * 180) / Math.PI, false],
    ['to_radians', (x) => (x * Math.PI) / 180, false],
  ];
  for (const [name, f, getter] of unary) {
    const impl: NativeFn = (_c, [x]) => F(f(fv(x)));
    r.fn(name, ['float'], impl);
    if (getter) r.fn('get$' + name, ['float'], impl);
  }
  r.fn('log', ['float', 'float'], (_c, [x, b]) => F(Math.log(fv(x)) / Math.log(fv(b))));
  r.fn('atan', ['float', 'float'], (_c, [x, y]) => F(Math.atan2(fv(x), fv(y))));
  r.fn('hypot', ['float', 'float'], (_c, [x, y]) => F(Math.hypot(fv(x), fv(y))));
  const preds: [string, (x: number) => boolean][] = [
    ['is_nan', Number.isNaN],
    ['is_finite', Number.isFinite],
    ['is_infinite', (x) => x === Infinity || x === -Infinity],
  ];
  for (const [name, f] of preds) {
    const impl: NativeFn = (_c, [x]) => f(fv(x));
    r.fn(name, ['float'], impl);
    r.fn('get$' + name, ['float'], impl);
  }
  // decimal rounding helpers exist only for Decimal in Rhai; floats get the integral ones above.
};
