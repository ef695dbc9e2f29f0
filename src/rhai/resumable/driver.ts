/**
 * Driving a resumable run: resume the generator with each awaited host value (or throw the rejection into it),
 * swapping the run's state in while it runs; the main body and `callFn` as generators.
 */
import { errFnNotFound, mkErr } from '../compile/errors.ts';
import { newFrame, Unit } from '../compile/functions.ts';
import { enterRun, getCtl, leaveRun, type RunState, settleThrown } from '../compile/run.ts';
import { Ctl, NO_THIS, RETURN } from '../runtime/state.ts';
import { cloneValue, type Value } from '../runtime/value.ts';
import { invokeG } from './calls.ts';
import type { Gen } from './expressions.ts';

/**
 * Run a resumable computation to its end: resume it with each awaited value (or throw the rejection into it),
 * with its run state swapped in while it runs. Settles with the script's value or a RhaiError.
 */
export function drive(st: RunState, g: Gen<Value>, signal: AbortSignal | undefined): Promise<Value> {
  return new Promise<Value>((resolve, reject) => {
    let done = false;
    const onAbort = (): void => {
      if (done) return;
      done = true;
      const pos = st.r.waitPos;
      reject(mkErr('ErrorTerminated', 'Script terminated', pos >= 0 ? pos : undefined));
    };
    const end = (): void => {
      done = true;
      signal?.removeEventListener('abort', onAbort);
    };
    const step = (isErr: boolean, input: unknown): void => {
      if (done) return;
      const prev = enterRun(st);
      let res: IteratorResult<unknown, Value>;
      try {
        res = isErr ? g.throw(input) : g.next(input);
      } catch (e) {
        let v: Value;
        try {
          v = settleThrown(e);
        } catch (err) {
          leaveRun(st, prev);
          end();
          reject(err);
          return;
        }
        leaveRun(st, prev);
        end();
        resolve(v);
        return;
      }
      leaveRun(st, prev);
      if (res.done) {
        end();
        resolve(res.value);
        return;
      }
      Promise.resolve(res.value).then(
        (v) => step(false, v),
        (e: unknown) => step(true, e),
      );
    };
    if (signal) {
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
    }
    step(false, undefined);
  });
}

/** The main body (resumable or not) as a generator: its value, or the value of `return`. */
export function* runMainG(unit: Unit): Gen<Value> {
  const f = newFrame(unit.main, NO_THIS);
  const v = unit.main.gen ? yield* unit.main.gen(f) : unit.main.body(f);
  if (v instanceof Ctl) return v === RETURN ? getCtl() : undefined;
  return v;
}

/** callFn's body: optionally the main body, then the named function. */
export function* callFnG(unit: Unit, name: string, args: Value[], runMain: boolean): Gen<Value> {
  if (runMain) yield* runMainG(unit);
  const sf = unit.getFn(name, args.length);
  if (!sf) throw errFnNotFound(name, args, -1);
  const nf = newFrame(sf, NO_THIS);
  for (let i = 0; i < args.length; i++) nf[i + 1] = cloneValue(args[i]);
  return yield* invokeG(sf, nf, -1);
}
