/**
 * String and char functions (string_more.rs, string_basic.rs): lengths and indices count chars (code points);
 * `bytes` counts UTF-8 bytes. Mutating functions are registered `{ pure: false }` and assign `args[0]`.
 * Also: print / debug / to_string / to_debug for every type, and `+` / `-` overloads involving strings.
 */
import type { NativeCallContext, NativeFn, NativeRegistrar, Package } from '../runtime/native.ts';
import { RChar, RIterable, RRange, type Value } from '../runtime/value.ts';
import { toDebug, toDisplay, utf8Length } from '../runtime/format.ts';
import { errDataTooLarge } from '../runtime/errors.ts';
import { charLen, checkString, isBmp, num } from './util.ts';

const MUT = { pure: false } as const;

// ---- char index helpers ----

/** UTF-16 offset of the char at char index `ci` (clamped to s.length). */
export function cpToUnit(s: string, ci: number): number {
  if (ci <= 0) return 0;
  if (isBmp(s)) return Math.min(ci, s.length);
  let u = 0;
  let c = 0;
  while (u < s.length && c < ci) {
    const x = s.charCodeAt(u);
    u += x >= 0xd800 && x <= 0xdbff && u + 1 < s.length ? 2 : 1;
    c++;
  }
  return u;
}

/** Char index of UTF-16 offset `u`. */
export function unitToCp(s: string, u: number): number {
  if (isBmp(s)) return u;
  let c = 0;
  for (let i = 0; i < u; i++) {
    const x = s.charCodeAt(i);
    if (x >= 0xd800 && x <= 0xdbff && i + 1 < u) i++;
    c++;
  }
  return c;
}

/** Substring by char offset and char length (both already clamped to be valid). */
function subChars(s: string, offset: number, len: number): string {
  if (isBmp(s)) return s.substr(offset, len);
  const a = cpToUnit(s, offset);
  let u = a;
  let c = 0;
  while (u < s.length && c < len) {
    const x = s.charCodeAt(u);
    u += x >= 0xd800 && x <= 0xdbff && u + 1 < s.length ? 2 : 1;
    c++;
  }
  return s.slice(a, u);
}

/** Rhai sub_string(start, len) semantics. */
export function subString(s: string, start: number, len: number): string {
  if (s.length === 0 || len <= 0) return '';
  const chars = charLen(s);
  let offset: number;
  if (start < 0) {
    const n = -start;
    offset = n > chars ? 0 : chars - n;
  } else if (start >= chars) {
    return '';
  } else offset = start;
  const l = offset + len > chars ? chars - offset : len;
  return subChars(s, offset, l);
}

function rangeBounds(rg: RRange): [number, number] {
  const start = Math.max(num(rg.start as Value), 0);
  let end = Math.max(num(rg.end as Value), start);
  if (rg.inclusive) end += 1;
  return [start, end - start];
}

/** (from, len) of a range argument to an iterator (iter_basic.rs): an inclusive range ending before its start is empty. */
export function iterRangeBounds(rg: RRange): [number, number] {
  const from = Math.max(num(rg.start as Value), 0);
  if (rg.inclusive) {
    const to = Math.max(num(rg.end as Value), from - 1);
    return [from, to - from + 1];
  }
  return [from, Math.max(num(rg.end as Value), from) - from];
}

/** index_of start position (chars) or -1 when past the end. */
function startPos(s: string, start: number): number {
  if (start < 0) {
    const n = -start;
    const chars = charLen(s);
    return n > chars ? 0 : chars - n;
  }
  if (start >= charLen(s)) return -1;
  return start;
}

function indexOf(s: string, find: string, start: number): number {
  if (s.length === 0) return -1;
  const sp = startPos(s, start);
  if (sp < 0) return -1;
  const u = s.indexOf(find, cpToUnit(s, sp));
  return u < 0 ? -1 : unitToCp(s, u);
}

/** Rust `str::split` (empty pattern yields "", each char, ""). */
function rustSplit(s: string, pat: string): string[] {
  if (pat.length === 0) return ['', ...Array.from(s), ''];
  return s.split(pat);
}

function rustSplitN(s: string, pat: string, n: number): string[] {
  const all = rustSplit(s, pat);
  if (all.length <= n) return all;
  if (pat.length === 0) {
    // splitn on "" : first n-1 pieces, then the rest
    const head = all.slice(0, n - 1);
    const consumed = head.join('');
    return [...head, s.slice(consumed.length)];
  }
  const head = all.slice(0, n - 1);
  return [...head, all.slice(n - 1).join(pat)];
}

function rustRSplitN(s: string, pat: string, n: number): string[] {
  const all = rustSplit(s, pat).reverse();
  if (all.length <= n) return all;
  const head = all.slice(0, n - 1);
  const rest = all.slice(n - 1).reverse().join(pat);
  return [...head, rest];
}

function segs(v: Value): number {
  const n = num(v);
  return n < 1 ? 1 : n;
}

function removeAll(s: string, find: string): string {
  if (find.length === 0) return s;
  return s.split(find).join('');
}

/** Rust `char::to_uppercase`, keeping the char when the mapping yields several chars (Rhai's rule). */
function firstUpper(c: string): string {
  const u = c.toUpperCase();
  return u.length === c.length || charLen(u) === 1 ? u : c;
}
function firstLower(c: string): string {
  const u = c.toLowerCase();
  return u.length === c.length || charLen(u) === 1 ? u : c;
}

function padTo(ctx: NativeCallContext, s: string, len: number, pad: string): string {
  if (len <= 0) return s;
  const max = ctx.limits.maxStringSize;
  if (max > 0 && len > max) throw errDataTooLarge('Length of string');
  let cur = charLen(s);
  if (len <= cur || pad.length === 0) return s;
  const padChars = Array.from(pad);
  let out = s;
  while (cur < len) {
    if (cur + padChars.length <= len) {
      out += pad;
      cur += padChars.length;
    } else {
      out += padChars.slice(0, len - cur).join('');
      cur = len;
    }
  }
  if (max > 0 && utf8Length(out) > max) throw errDataTooLarge('Length of string');
  return out;
}

function charsIter(s: string, start: number, len: number): RIterable {
  return new RIterable('rhai::packages::iter_basic::CharsStream', function* () {
    const sub = subString(s, start, len);
    for (const c of sub) yield new RChar(c);
  });
}

function utf8Decode(b: Uint8Array): string {
  return new TextDecoder('utf-8').decode(b);
}

/** Printing: print, debug, to_string, to_debug. */
function printing(r: NativeRegistrar): void {
  const disp: NativeFn = (_c, [x]) => toDisplay(x);
  const dbg: NativeFn = (_c, [x]) => toDebug(x);
  r.fn('print', [], () => '');
  r.fn('debug', [], () => '');
  r.fn('print', ['any'], disp);
  r.fn('to_string', ['any'], disp);
  r.fn('debug', ['any'], dbg);
  r.fn('to_debug', ['any'], dbg);
}

/** Operators +, +=, - and append (specific overloads first: the registry picks the first match). */
function operators(r: NativeRegistrar): void {
  r.fn('+', ['string', 'blob'], (c, [a, b]) => checkString(c, (a as string) + utf8Decode(b as Uint8Array)));
  r.fn('+', ['blob', 'string'], (c, [a, b]) => checkString(c, utf8Decode(a as Uint8Array) + (b as string)));
  r.fn('+=', ['string', 'blob'], (c, args) => {
    args[0] = checkString(c, (args[0] as string) + utf8Decode(args[1] as Uint8Array));
    return undefined;
  }, MUT);
  r.fn('+', ['string', 'string'], (c, [a, b]) => checkString(c, (a as string) + (b as string)));
  r.fn('+', ['string', 'any'], (c, [a, b]) => checkString(c, (a as string) + toDisplay(b)));
  r.fn('+', ['any', 'string'], (c, [a, b]) => checkString(c, toDisplay(a) + (b as string)));
  r.fn('+', ['char', 'char'], (c, [a, b]) => checkString(c, (a as RChar).c + (b as RChar).c));
  r.fn('-', ['string', 'string'], (_c, [a, b]) => removeAll(a as string, b as string));
  r.fn('-', ['string', 'char'], (_c, [a, b]) => removeAll(a as string, (b as RChar).c));
  r.fn('append', ['string', 'blob'], (c, args) => {
    args[0] = checkString(c, (args[0] as string) + utf8Decode(args[1] as Uint8Array));
    return undefined;
  }, MUT);
  r.fn('append', ['string', 'any'], (c, args) => {
    args[0] = checkString(c, (args[0] as string) + toDisplay(args[1]));
    return undefined;
  }, MUT);
}

/** Properties and conversions: len, bytes, is_empty, to_chars, to_blob. */
function properties(r: NativeRegistrar): void {
  const len: NativeFn = (_c, [s]) => charLen(s as string);
  const bytes: NativeFn = (_c, [s]) => utf8Length(s as string);
  const isEmpty: NativeFn = (_c, [s]) => (s as string).length === 0;
  r.fn('len', ['string'], len);
  r.fn('get$len', ['string'], len);
  r.fn('bytes', ['string'], bytes);
  r.fn('get$bytes', ['string'], bytes);
  r.fn('is_empty', ['string'], isEmpty);
  r.fn('get$is_empty', ['string'], isEmpty);
  r.fn('to_blob', ['string'], (_c, [s]) => new TextEncoder().encode(s as string));
  r.fn('to_chars', ['string'], (_c, [s]) => Array.from(s as string, (c) => new RChar(c)));
}

/** The chars iterator. */
function charsIterator(r: NativeRegistrar): void {
  const chars: NativeFn = (_c, [s]) => charsIter(s as string, 0, Number.MAX_SAFE_INTEGER);
  r.fn('chars', ['string'], chars);
  r.fn('get$chars', ['string'], chars);
  r.fn('chars', ['string', 'int'], (_c, [s, from]) => charsIter(s as string, num(from), Number.MAX_SAFE_INTEGER));
  r.fn('chars', ['string', 'int', 'int'], (_c, [s, from, l]) => charsIter(s as string, num(from), num(l)));
  for (const t of ['range', 'rangeInclusive'] as const) {
    r.fn('chars', ['string', t], (_c, [s, rg]) => {
      const [a, l] = iterRangeBounds(rg as RRange);
      return charsIter(s as string, a, l);
    });
  }
}

/** Indexing helpers: get, set, index of a character. */
function indexing(r: NativeRegistrar): void {
  r.fn('get', ['string', 'int'], (_c, [s, i]) => {
    const str = s as string;
    let idx = num(i);
    const n = charLen(str);
    if (idx < 0) idx += n;
    if (idx < 0 || idx >= n) return undefined;
    return new RChar(subChars(str, idx, 1));
  });
  r.fn('set', ['string', 'int', 'char'], (_c, args) => {
    const str = args[0] as string;
    let idx = num(args[1]);
    const n = charLen(str);
    if (idx < 0) idx += n;
    if (idx < 0 || idx >= n) return undefined;
    const a = cpToUnit(str, idx);
    const b = cpToUnit(str, idx + 1);
    args[0] = str.slice(0, a) + (args[2] as RChar).c + str.slice(b);
    return undefined;
  }, MUT);
}

/** Search: contains, index_of, starts_with, ends_with. */
function search(r: NativeRegistrar): void {
  r.fn('contains', ['string', 'string'], (_c, [s, f]) => (s as string).includes(f as string));
  r.fn('contains', ['string', 'char'], (_c, [s, f]) => (s as string).includes((f as RChar).c));
  r.fn('starts_with', ['string', 'string'], (_c, [s, f]) => (s as string).startsWith(f as string));
  r.fn('ends_with', ['string', 'string'], (_c, [s, f]) => (s as string).endsWith(f as string));
  r.fn('index_of', ['string', 'string'], (_c, [s, f]) => indexOf(s as string, f as string, 0));
  r.fn('index_of', ['string', 'char'], (_c, [s, f]) => indexOf(s as string, (f as RChar).c, 0));
  r.fn('index_of', ['string', 'string', 'int'], (_c, [s, f, st]) => indexOf(s as string, f as string, num(st)));
  r.fn('index_of', ['string', 'char', 'int'], (_c, [s, f, st]) => indexOf(s as string, (f as RChar).c, num(st)));
}

/** Substrings: sub_string, crop, and their range forms. */
function substrings(r: NativeRegistrar): void {
  r.fn('sub_string', ['string', 'int', 'int'], (_c, [s, st, l]) => subString(s as string, num(st), num(l)));
  r.fn('sub_string', ['string', 'int'], (_c, [s, st]) => subString(s as string, num(st), (s as string).length));
  r.fn('crop', ['string', 'int', 'int'], (_c, args) => {
    args[0] = subString(args[0] as string, num(args[1]), num(args[2]));
    return undefined;
  }, MUT);
  r.fn('crop', ['string', 'int'], (_c, args) => {
    const s = args[0] as string;
    args[0] = subString(s, num(args[1]), s.length);
    return undefined;
  }, MUT);
  for (const t of ['range', 'rangeInclusive'] as const) {
    r.fn('sub_string', ['string', t], (_c, [s, rg]) => {
      const [a, l] = rangeBounds(rg as RRange);
      return subString(s as string, a, l);
    });
    r.fn('crop', ['string', t], (_c, args) => {
      const [a, l] = rangeBounds(args[1] as RRange);
      args[0] = subString(args[0] as string, a, l);
      return undefined;
    }, MUT);
  }
}

/** Splitting: split, split_rev. */
function splitting(r: NativeRegistrar): void {
  r.fn('split', ['string'], (_c, [s]) => (s as string).split(/\s+/u).filter((x) => x.length > 0));
  r.fn('split', ['string', 'string'], (_c, [s, d]) => rustSplit(s as string, d as string));
  r.fn('split', ['string', 'char'], (_c, [s, d]) => rustSplit(s as string, (d as RChar).c));
  r.fn('split', ['string', 'string', 'int'], (_c, [s, d, n]) => rustSplitN(s as string, d as string, segs(n)));
  r.fn('split', ['string', 'char', 'int'], (_c, [s, d, n]) => rustSplitN(s as string, (d as RChar).c, segs(n)));
  r.fn('split', ['string', 'int'], (_c, [s, i]) => {
    const str = s as string;
    const start = num(i);
    const n = charLen(str);
    let at: number;
    if (start <= 0) {
      const k = -start;
      if (k > n) return ['', str];
      at = n - k;
    } else at = Math.min(start, n);
    const u = cpToUnit(str, at);
    return [str.slice(0, u), str.slice(u)];
  });
  r.fn('split_rev', ['string', 'string'], (_c, [s, d]) => rustSplit(s as string, d as string).reverse());
  r.fn('split_rev', ['string', 'char'], (_c, [s, d]) => rustSplit(s as string, (d as RChar).c).reverse());
  r.fn('split_rev', ['string', 'string', 'int'], (_c, [s, d, n]) => rustRSplitN(s as string, d as string, segs(n)));
  r.fn('split_rev', ['string', 'char', 'int'], (_c, [s, d, n]) => rustRSplitN(s as string, (d as RChar).c, segs(n)));
}

/** Case: to_upper, to_lower, and the in-place forms. */
function caseConversion(r: NativeRegistrar): void {
  r.fn('to_upper', ['string'], (_c, [s]) => (s as string).toUpperCase());
  r.fn('to_lower', ['string'], (_c, [s]) => (s as string).toLowerCase());
  r.fn('make_upper', ['string'], (_c, args) => {
    args[0] = (args[0] as string).toUpperCase();
    return undefined;
  }, MUT);
  r.fn('make_lower', ['string'], (_c, args) => {
    args[0] = (args[0] as string).toLowerCase();
    return undefined;
  }, MUT);
  r.fn('to_upper', ['char'], (_c, [c]) => new RChar(firstUpper((c as RChar).c)));
  r.fn('to_lower', ['char'], (_c, [c]) => new RChar(firstLower((c as RChar).c)));
  r.fn('make_upper', ['char'], (_c, args) => {
    args[0] = new RChar(firstUpper((args[0] as RChar).c));
    return undefined;
  }, MUT);
  r.fn('make_lower', ['char'], (_c, args) => {
    args[0] = new RChar(firstLower((args[0] as RChar).c));
    return undefined;
  }, MUT);
}

/** Mutation in place: trim, pad, replace, remove, pop, clear, truncate. */
function mutation(r: NativeRegistrar): void {
  r.fn('clear', ['string'], (_c, args) => {
    args[0] = '';
    return undefined;
  }, MUT);
  r.fn('trim', ['string'], (_c, args) => {
    args[0] = (args[0] as string).trim();
    return undefined;
  }, MUT);
  r.fn('truncate', ['string', 'int'], (_c, args) => {
    const n = num(args[1]);
    const s = args[0] as string;
    if (n <= 0) args[0] = '';
    else args[0] = s.slice(0, cpToUnit(s, n));
    return undefined;
  }, MUT);
  r.fn('pop', ['string'], (_c, args) => {
    const s = args[0] as string;
    if (s.length === 0) return undefined;
    const last = s.codePointAt(s.length - 1)!;
    const cut = s.length >= 2 && last >= 0xdc00 && last <= 0xdfff && s.charCodeAt(s.length - 2) >= 0xd800 && s.charCodeAt(s.length - 2) <= 0xdbff ? 2 : 1;
    args[0] = s.slice(0, s.length - cut);
    return new RChar(s.slice(s.length - cut));
  }, MUT);
  r.fn('pop', ['string', 'int'], (_c, args) => {
    const s = args[0] as string;
    const n = num(args[1]);
    if (n <= 0) return '';
    const total = charLen(s);
    if (n >= total) {
      args[0] = '';
      return s;
    }
    const u = cpToUnit(s, total - n);
    args[0] = s.slice(0, u);
    return s.slice(u);
  }, MUT);
  r.fn('remove', ['string', 'string'], (_c, args) => {
    args[0] = removeAll(args[0] as string, args[1] as string);
    return undefined;
  }, MUT);
  r.fn('remove', ['string', 'char'], (_c, args) => {
    args[0] = removeAll(args[0] as string, (args[1] as RChar).c);
    return undefined;
  }, MUT);
  const repl = (c: NativeCallContext, args: Value[], find: string, sub: string) => {
    const s = args[0] as string;
    args[0] = checkString(c, find.length === 0 ? rustSplit(s, '').join(sub) : s.split(find).join(sub));
    return undefined;
  };
  const str = (v: Value) => (v instanceof RChar ? v.c : (v as string));
  for (const a of ['string', 'char'] as const) {
    for (const b of ['string', 'char'] as const) {
      r.fn('replace', ['string', a, b], (c, args) => repl(c, args, str(args[1]), str(args[2])), MUT);
    }
  }
  r.fn('pad', ['string', 'int', 'char'], (c, args) => {
    args[0] = padTo(c, args[0] as string, num(args[1]), (args[2] as RChar).c);
    return undefined;
  }, MUT);
  r.fn('pad', ['string', 'int', 'string'], (c, args) => {
    args[0] = padTo(c, args[0] as string, num(args[1]), args[2] as string);
    return undefined;
  }, MUT);
}

export const stringPackage: Package = (r) => {
  printing(r);
  operators(r);
  properties(r);
  charsIterator(r);
  indexing(r);
  search(r);
  substrings(r);
  splitting(r);
  caseConversion(r);
  mutation(r);
};
