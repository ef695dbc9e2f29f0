/**
 * Timestamps (time_basic.rs): `timestamp()`, `elapsed` (float seconds), `t1 - t2` (float seconds),
 * `t ± secs`, comparisons. No `sleep` (sandbox).
 */
import type { NativeFn, Package } from '../runtime/native.ts';
import { RFloat, Timestamp, type Value } from '../runtime/value.ts';
import { errArith } from './util.ts';

const now = (): number => performance.now();

function secs(v: Value): number {
  return v instanceof RFloat ? v.v : Number(v);
}

function shift(t: Timestamp, s: number, sign: 1 | -1, op: string): Timestamp {
  if (!Number.isFinite(s)) throw errArith(`Integer overflow for timestamp ${op} ${s}`);
  return new Timestamp(t.ms + sign * s * 1000);
}

export const timePackage: Package = (r) => {
  r.fn('timestamp', [], () => new Timestamp(now()));
  const elapsed: NativeFn = (_c, [t]) => new RFloat((now() - (t as Timestamp).ms) / 1000);
  r.fn('elapsed', ['timestamp'], elapsed);
  r.fn('get$elapsed', ['timestamp'], elapsed);
  r.fn('-', ['timestamp', 'timestamp'], (_c, [a, b]) => new RFloat(((a as Timestamp).ms - (b as Timestamp).ms) / 1000));
  for (const t of ['float', 'int'] as const) {
    r.fn('+', ['timestamp', t], (_c, [a, s]) => shift(a as Timestamp, secs(s), 1, '+'));
    r.fn('-', ['timestamp', t], (_c, [a, s]) => shift(a as Timestamp, secs(s), -1, '-'));
    r.fn('+=', ['timestamp', t], (_c, args) => {
      args[0] = shift(args[0] as Timestamp, secs(args[1]), 1, '+');
      return undefined;
    }, { pure: false });
    r.fn('-=', ['timestamp', t], (_c, args) => {
      args[0] = shift(args[0] as Timestamp, secs(args[1]), -1, '-');
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
