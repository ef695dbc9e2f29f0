/**
 * Value formatting, Rhai semantics.
 *
 * - `toDisplay(v)` is what Rhai's `to_string()` / `print()` / string interpolation / `string + value` produce
 *   (src/packages/string_basic.rs `print_with_func(FUNC_TO_STRING)`): unit is `""`, strings and chars are bare,
 *   floats use FloatWrapper Display, arrays/maps/blobs print their items in the debug form.
 * - `toDebug(v)` is `to_debug()` / `debug()`: strings quoted and escaped, unit `()`, floats in Rust `{:?}` form.
 *   Note: Rhai's registered `to_debug(char)` returns the bare char, so chars inside arrays and maps print bare
 *   (`[1, "a", c]`, `#{"a": c}`); `debugChar` (the Rust char literal) is only used by `to_json`.
 */
import { FnPtr, RChar, RFloat, RRange, Timestamp, type Value } from './value.ts';
import { RIterable } from './value.ts';

/** f32 constants of FloatWrapper (src/types/float.rs), widened to f64 as Rust does. */
const MAX_NATURAL = Math.fround(10_000_000_000_000.0);
const MIN_NATURAL = Math.fround(0.000_000_000_000_1);

/** Shortest round-trip digits and decimal exponent of a finite non-zero |x|: x = 0.d1d2d3... * 10^(exp+1). */
function digitsOf(abs: number): { digits: string; exp: number } {
  const s = abs.toExponential(); // shortest round-trip digits, e.g. "1.2345e+21"
  const e = s.indexOf('e');
  const mant = s.slice(0, e);
  const exp = Number(s.slice(e + 1));
  const digits = mant.length > 1 ? mant[0] + mant.slice(2) : mant;
  return { digits, exp };
}

/** Rust `{}` Display of a finite f64 (never uses an exponent). */
function rustPlain(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const neg = x < 0;
  const abs = neg ? -x : x;
  // fast path: JS already prints plainly in this range
  if (abs >= 1e-6 && abs < 1e21) {
    const s = String(abs);
    return neg ? '-' + s : s;
  }
  const { digits, exp } = digitsOf(abs);
  let out: string;
  if (exp >= 0) {
    out = digits.length <= exp + 1 ? digits + '0'.repeat(exp + 1 - digits.length) : digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  } else {
    out = '0.' + '0'.repeat(-exp - 1) + digits;
  }
  return neg ? '-' + out : out;
}

/** Rust `{:e}` LowerExp of an f64: shortest digits, `1e100`, `1.5e-14`, `inf`, `NaN`. */
function rustExp(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0e0' : '0e0';
  return x.toExponential().replace('e+', 'e');
}

/** Rhai FloatWrapper Display (print / to_string / interpolation). */
export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  const abs = Math.abs(x);
  if (abs === 0) return '0.0';
  if (abs > MAX_NATURAL || abs < MIN_NATURAL) return rustExp(x);
  const s = rustPlain(x);
  return Number.isInteger(x) ? s + '.0' : s;
}

/** Rust f64 `{:?}` Debug: decimal in [1e-4, 1e16), exponent otherwise; always has a `.` or exponent. */
export function formatFloatDebug(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs < 1e-4 || abs >= 1e16) return rustExp(x);
  const s = rustPlain(x);
  return Number.isInteger(x) ? s + '.0' : s;
}

function isPrintable(cp: number): boolean {
  // approximation of Rust's `char::is_printable` for the characters scripts commonly use
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return false;
  if (cp === 0xad) return false;
  if ((cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f)) return false;
  if (cp === 0xfeff || (cp >= 0xfff0 && cp <= 0xfffb)) return false;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  if ((cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000) return false;
  return true;
}

/** Rust `escape_debug` of one code point, with quote handling for str (`"`) or char (`'`). */
function escapeCp(ch: string, quote: '"' | "'"): string {
  switch (ch) {
    case '\\':
      return '\\\\';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '\0':
      return '\\0';
    case '"':
      return quote === '"' ? '\\"' : '"';
    case "'":
      return quote === "'" ? "\\'" : "'";
  }
  const cp = ch.codePointAt(0)!;
  if (!isPrintable(cp)) return '\\u{' + cp.toString(16) + '}';
  return ch;
}

// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\"\u0000-\u001f\u007f-\u00a0\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff0-\ufffb\ud800-\udfff\ue000-\uf8ff]/;

/** Rust `{:?}` of a str: `"a\"b\n"`. */
export function debugString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  for (const ch of s) out += escapeCp(ch, '"');
  return out + '"';
}

/** Rust `{:?}` of a char: `'a'`, `'\''`. */
export function debugChar(c: string): string {
  return "'" + escapeCp(c, "'") + "'";
}

function intToString(v: number | bigint): string {
  return typeof v === 'number' ? (Object.is(v, -0) ? '0' : String(v)) : v.toString();
}

function blobDebug(b: Uint8Array): string {
  let out = '[';
  for (let i = 0; i < b.length; i++) {
    if (i > 0 && i % 8 === 0) out += ' ';
    const x = b[i]!;
    out += (x < 16 ? '0' : '') + x.toString(16);
  }
  return out + ']';
}

function rangeString(r: RRange): string {
  return `${intToString(r.start)}${r.inclusive ? '..=' : '..'}${intToString(r.end)}`;
}

/** Item form inside arrays/maps: Rhai's registered `to_debug` (chars bare, strings quoted). */
function itemDebug(v: Value): string {
  if (v instanceof RChar) return v.c;
  return toDebug(v);
}

export function arrayToString(a: readonly Value[]): string {
  if (a.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < a.length; i++) {
    if (i > 0) out += ', ';
    out += itemDebug(a[i]);
  }
  return out + ']';
}

export function sortedKeys(m: Map<string, Value>): string[] {
  const keys = Array.from(m.keys());
  if (keys.length > 1) keys.sort(compareStrings);
  return keys;
}

/** Rust `str` ordering (by code point / UTF-8 bytes), not JS UTF-16 ordering. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // code point order: surrogates (code points above 0xFFFF) sort after 0xE000-0xFFFF
      const fx = x >= 0xd800 ? (x >= 0xe000 ? x - 0x800 : x + 0x2000) : x;
      const fy = y >= 0xd800 ? (y >= 0xe000 ? y - 0x800 : y + 0x2000) : y;
      return fx < fy ? -1 : 1;
    }
  }
  return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
}

/**
 * Maps print as `#{"key": value}` sorted by key. Rhai's `format_map` (string_basic.rs) renders each value with
 * the registered `to_debug`, exactly as `format_array` does: strings quoted, chars bare (`#{"k": c}`), in
 * `to_string`, `to_debug`, `print`, `debug` and string interpolation alike.
 */
export function mapToString(m: Map<string, Value>): string {
  if (m.size === 0) return '#{}';
  let out = '#{';
  let first = true;
  for (const k of sortedKeys(m)) {
    if (!first) out += ', ';
    first = false;
    out += debugString(k) + ': ' + itemDebug(m.get(k));
  }
  return out + '}';
}

/** Rhai `to_string` / print / interpolation form. */
export function toDisplay(v: Value): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return Object.is(v, -0) ? '0' : String(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return '';
  }
  if (v instanceof RFloat) return formatFloat(v.v);
  return nonNumericObjectString(v);
}

/** Rhai `to_debug` / debug form. */
export function toDebug(v: Value): string {
  switch (typeof v) {
    case 'string':
      return debugString(v);
    case 'number':
    case 'bigint':
      return intToString(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return '()';
  }
  if (v instanceof RFloat) return formatFloatDebug(v.v);
  return nonNumericObjectString(v);
}

/** The forms display and debug share: chars, containers, blobs, pointers, timestamps, ranges, iterators. */
function nonNumericObjectString(v: Value): string {
  if (v instanceof RChar) return v.c;
  if (Array.isArray(v)) return arrayToString(v);
  if (v instanceof Map) return mapToString(v);
  if (v instanceof Uint8Array) return blobDebug(v);
  if (v instanceof FnPtr) return `Fn(${v.name})`;
  if (v instanceof Timestamp) return '<timestamp>';
  if (v instanceof RRange) return rangeString(v);
  if (v instanceof RIterable) return v.typeName;
  return String(v);
}

/** UTF-8 byte length of a JS string (for max_string_size checks). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      // surrogate pair: 2 UTF-16 units -> 4 bytes
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}
