/** Function-pointer properties (fn_basic.rs): `name`, `is_anonymous`. `call`/`curry`/`Fn` are core special forms. */
import type { NativeFn, Package } from '../runtime/native.ts';
import type { FnPtr } from '../runtime/value.ts';

/** Anonymous functions get generated names starting with `anon$` in Rhai. */
export function isAnonymous(f: FnPtr): boolean {
  return f.name.startsWith('anon$') || (f.fn !== undefined && f.fn !== null && /^anon[$_]/.test(f.name));
}

export const fnptrPackage: Package = (r) => {
  const name: NativeFn = (_c, [f]) => (f as FnPtr).name;
  const anon: NativeFn = (_c, [f]) => isAnonymous(f as FnPtr);
  r.fn('name', ['fnptr'], name);
  r.fn('get$name', ['fnptr'], name);
  r.fn('is_anonymous', ['fnptr'], anon);
  r.fn('get$is_anonymous', ['fnptr'], anon);
};
