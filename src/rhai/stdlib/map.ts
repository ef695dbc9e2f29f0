/**
 * Object-map functions (map_basic.rs). Maps iterate and print sorted by key (BTreeMap order).
 * Maps have no property getters (`m.len` is a key lookup), only method-style calls (`m.len()`).
 */
import type { NativeCallContext, NativeFn, Package } from '../runtime/native.ts';
import { FnPtr, RChar, RFloat, type RMap, type Value } from '../runtime/value.ts';
import { valuesEqual } from '../runtime/compare.ts';
import { debugChar, debugString, formatFloatDebug, sortedKeys, toDebug } from '../runtime/format.ts';
import { cloneValue } from '../runtime/value.ts';
import { callPlain, checkMap, toFnPtr, truthy } from './util.ts';

const MUT = { pure: false } as const;

export function toJson(v: Value): string {
  switch (typeof v) {
    case 'string':
      return debugString(v);
    case 'number':
    case 'bigint':
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return 'null';
  }
  if (v instanceof RFloat) return formatFloatDebug(v.v);
  // Rhai's format_dynamic_as_json falls back to the Dynamic Debug form: chars print as Rust char literals.
  if (v instanceof RChar) return debugChar(v.c);
  if (v instanceof Uint8Array) return '[' + Array.from(v).join(',') + ']';
  if (Array.isArray(v)) return '[' + v.map(toJson).join(',') + ']';
  if (v instanceof Map) {
    return '{' + sortedKeys(v).map((k) => debugString(k) + ':' + toJson(v.get(k))).join(',') + '}';
  }
  if (v instanceof FnPtr) {
    if (v.curry.length === 0) return debugString(v.name);
    return '[' + [debugString(v.name), ...v.curry.map(toJson)].join(',') + ']';
  }
  return toDebug(v);
}

export const mapPackage: Package = (r) => {
  r.fn('len', ['map'], (_c, [m]) => (m as RMap).size);
  r.fn('is_empty', ['map'], (_c, [m]) => (m as RMap).size === 0);
  r.fn('get', ['map', 'string'], (_c, [m, k]) => cloneValue((m as RMap).get(k as string)));
  r.fn('set', ['map', 'string', 'any'], (c, [m, k, v]) => {
    (m as RMap).set(k as string, v);
    if (c.limits.maxMapSize > 0) checkMap(c, m as RMap);
    return undefined;
  }, MUT);
  r.fn('contains', ['map', 'string'], (_c, [m, k]) => (m as RMap).has(k as string));
  r.fn('remove', ['map', 'string'], (_c, [m, k]) => {
    const map = m as RMap;
    const v = map.get(k as string);
    map.delete(k as string);
    return v;
  }, MUT);
  r.fn('clear', ['map'], (_c, [m]) => {
    (m as RMap).clear();
    return undefined;
  }, MUT);
  r.fn('keys', ['map'], (_c, [m]) => sortedKeys(m as RMap));
  r.fn('values', ['map'], (_c, [m]) => {
    const map = m as RMap;
    return sortedKeys(map).map((k) => cloneValue(map.get(k)));
  });
  const mixin: NativeFn = (c, [m, m2]) => {
    const map = m as RMap;
    for (const [k, v] of m2 as RMap) map.set(k, m2 === m ? v : cloneValue(v));
    if (c.limits.maxMapSize > 0) checkMap(c, map);
    return undefined;
  };
  r.fn('mixin', ['map', 'map'], mixin, MUT);
  r.fn('+=', ['map', 'map'], mixin, MUT);
  r.fn('+', ['map', 'map'], (c, [m, m2]) => {
    const out = cloneValue(m) as RMap;
    for (const [k, v] of m2 as RMap) out.set(k, cloneValue(v));
    if (c.limits.maxMapSize > 0) checkMap(c, out);
    return out;
  });
  r.fn('fill_with', ['map', 'map'], (c, [m, m2]) => {
    const map = m as RMap;
    for (const [k, v] of m2 as RMap) if (!map.has(k)) map.set(k, cloneValue(v));
    if (c.limits.maxMapSize > 0) checkMap(c, map);
    return undefined;
  }, MUT);
  r.fn('==', ['map', 'map'], (_c, [a, b]) => valuesEqual(a, b));
  r.fn('!=', ['map', 'map'], (_c, [a, b]) => !valuesEqual(a, b));
  r.fn('to_json', ['map'], (_c, [m]) => toJson(m));

  const pick = (c: NativeCallContext, name: string, m: RMap, f: Value, keep: boolean): [RMap, RMap] => {
    const fn = toFnPtr(f);
    const yes = new Map<string, Value>();
    const no = new Map<string, Value>();
    for (const k of sortedKeys(m)) {
      const v = m.get(k);
      (truthy(callPlain(c, name, fn, [k, v])) === keep ? yes : no).set(k, v);
    }
    return [yes, no];
  };
  for (const ft of ['fnptr', 'string'] as const) {
    r.fn('filter', ['map', ft], (c, [m, f]) => {
      const [yes] = pick(c, 'filter', m as RMap, f, true);
      return cloneValue(yes);
    });
    r.fn('map', ['map', ft], (c, [m, f]) => {
      const map = m as RMap;
      const fn = toFnPtr(f);
      const out = new Map<string, Value>();
      for (const k of sortedKeys(map)) out.set(k, callPlain(c, 'map', fn, [k, map.get(k)]));
      return out;
    });
    r.fn('retain', ['map', ft], (c, [m, f]) => {
      const map = m as RMap;
      const [, removed] = pick(c, 'retain', map, f, true);
      for (const k of removed.keys()) map.delete(k);
      return removed;
    }, MUT);
    r.fn('drain', ['map', ft], (c, [m, f]) => {
      const map = m as RMap;
      const [removed] = pick(c, 'drain', map, f, true);
      for (const k of removed.keys()) map.delete(k);
      return removed;
    }, MUT);
  }
};
