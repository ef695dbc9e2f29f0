/**
 * Timestamps (time_basic.rs): `timestamp()`, `elapsed` (float seconds), `t1 - t2` (float seconds),
 * `t ± secs`, comparisons. No `sleep` (sandbox).
 */
import type { NativeFn, Package } from '../runtime/native.ts';
import { RFloat, Timestamp, type Value } from '../runtime/value.ts';
import { errArith } from './util.ts';

const now = (): number => performance.now();

const F64_INT_MAX = 2 ** 63; // `INT::MAX as f64` rounds to 2^63

/** Rhai `add_impl`/`subtract_impl` (time_basic.rs): float seconds are truncated to whole milliseconds. */
function shift(t: Timestamp, v: Value, sign: 1 | -1): Timestamp {
  if (v instanceof RFloat) {
    let s = v.v;
    let sg: number = sign;
    if (s < 0) {
      s = -s;
      sg = -sg;
    }
    if (s > F64_INT_MAX || Number.isNaN(s)) {
      throw errArith(`Integer overflow for timestamp ${sg > 0 ? 'add' : 'subtract'}: ${s}`);
    }
    return new Timestamp(t.ms + sg * Math.trunc(s * 1000));
  }
  const n = Number(v);
  return new Timestamp(t.ms + sign * n * 1000);
}

export const timePackage: Package = (r) => {
  r.fn('timestamp', [], () => new Timestamp(now()));
  const elapsed: NativeFn = (_c, [t]) => {
    const n = now();
    const ms = (t as Timestamp).ms;
    if (ms > n) throw errArith('Time-stamp is later than now');
    return new RFloat((n - ms) / 1000);
  };
  r.fn('elapsed', ['timestamp'], elapsed);
  r.fn('get$elapsed', ['timestamp'], elapsed);
  r.fn('-', ['timestamp', 'timestamp'], (_c, [a, b]) => new RFloat(((a as Timestamp).ms - (b as Timestamp).ms) / 1000));
  for (const t of ['float', 'int'] as const) {
    r.fn('+', ['timestamp', t], (_c, [a, s]) => shift(a as Timestamp, s, 1));
    r.fn('-', ['timestamp', t], (_c, [a, s]) => shift(a as Timestamp, s, -1));
    r.fn('+=', ['timestamp', t], (_c, args) => {
      args[0] = shift(args[0] as Timestamp, args[1], 1);
      return undefined;
    }, { pure: false });
    r.fn('-=', ['timestamp', t], (_c, args) => {
      args[0] = shift(args[0] as Timestamp, args[1], -1);
      return undefined;
    }, { pure: false });
  }
  const ms = (v: Value) => (v as Timestamp).ms;
  r.fn('==', ['timestamp', 'timestamp'], (_c, [a, b]) => ms(a) === ms(b));
  r.fn('!=', ['timestamp', 'timestamp'], (_c, [a, b]) => ms(a) !== ms(b));
  r.fn('<', ['timestamp', 'timestamp'], (_c, [a, b]) => ms(a) < ms(b));
  r.fn('<=', ['timestamp', 'timestamp'], (_c, [a, b]) => ms(a) <= ms(b));
  r.fn('>', ['timestamp', 'timestamp'], (_c, [a, b]) => ms(a) > ms(b));
  r.fn('>=', ['timestamp', 'timestamp'], (_c, [a, b]) => ms(a) >= ms(b));
};
