/**
 * The standard package: every stdlib package composed.
 *
 * PROPERTY GETTERS. Rhai exposes some functions as properties (`#[rhai_fn(get = "...")]`). Each is registered
 * under its plain name AND as `get$<name>` (the core maps `x.prop` to `get$prop`, falling back to the plain name):
 *   string: len, bytes, is_empty, chars          array: len, is_empty          blob: len, is_empty
 *   int: is_odd, is_even, is_zero, bits          float: is_zero, is_nan, is_finite, is_infinite,
 *                                                       floor, ceiling, round, int, fraction
 *   range / range=: start, end, is_inclusive, is_exclusive, is_empty
 *   Fn: name, is_anonymous                       timestamp: elapsed
 * Maps have NO getters (`m.len` is a key lookup returning `()`).
 *
 * OPERATORS registered here (for non-primitive operands; the core inlines primitives):
 *   `+`  string+string, string+any, any+string, char+char, string+blob / blob+string (UTF-8 decoded, gives a
 *        string), array+array, map+map, blob+blob, blob+char, timestamp+int/float
 *   `-`  string-string, string-char, timestamp-timestamp, timestamp-int/float
 *   `+=` array+=any (push, or append when the rhs is an array), map+=map (mixin), blob+=blob/int/string/char,
 *        string+=blob, timestamp+=int/float;  `-=` timestamp-=int/float
 *   `==` / `!=`  array, map, blob, timestamp;  `<` `<=` `>` `>=` timestamp
 * Equality/ordering of any two values is also available directly from runtime/compare.ts.
 */
import type { Package } from '../runtime/native.ts';
import { arithmeticPackage } from './arithmetic.ts';
import { arrayPackage } from './array.ts';
import { bitsPackage } from './bits.ts';
import { blobPackage } from './blob.ts';
import { corePackage } from './core.ts';
import { fnptrPackage } from './fnptr.ts';
import { iterPackage } from './iter.ts';
import { mapPackage } from './map.ts';
import { stringPackage } from './string.ts';
import { timePackage } from './time.ts';

/**
 * The stdlib packages by name, in registration order (string last: it registers generic `print`/`to_string`/
 * `+ (string, any)` overloads that must not shadow the type-specific ones above when the registry picks the first
 * match). docs/stdlib.md is generated from this list, one section per package.
 */
export const standardPackages: ReadonlyArray<readonly [name: string, pkg: Package]> = [
  ['core', corePackage],
  ['arithmetic', arithmeticPackage],
  ['iter', iterPackage],
  ['bits', bitsPackage],
  ['array', arrayPackage],
  ['blob', blobPackage],
  ['map', mapPackage],
  ['time', timePackage],
  ['fnptr', fnptrPackage],
  ['string', stringPackage],
];

export const standardPackage: Package = (r) => {
  for (const [, pkg] of standardPackages) pkg(r);
};
