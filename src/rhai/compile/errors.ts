/**
 * Errors raised by compiled code: construction (`mkErr`, `errFnNotFound`, `throwValue`), positioning of errors on
 * their way up (`fill`), conversion of foreign JS exceptions (`toRhaiError`), and the `exit()` signal.
 */
import { RhaiError } from '../runtime/errors.ts';
import { toDisplay } from '../runtime/format.ts';
import { Ctl } from '../runtime/state.ts';
import { typeName, type Value } from '../runtime/value.ts';

export function mkErr(kind: RhaiError['kind'], text: string, offset?: number): RhaiError {
  return new RhaiError(kind, text, {}, offset);
}
/** `exit(value)`: ends the whole script; passes through functions and `try` (Rhai `EvalAltResult::Exit`). */
export class ExitSignal {
  constructor(readonly value: Value) {}
}

export function fill(e: unknown, pos: number): unknown {
  if (e instanceof ExitSignal) return e;
  if (e instanceof RhaiError) {
    if (e.offset === undefined && pos >= 0) e.offset = pos;
    return e;
  }
  if (e instanceof Ctl) return e;
  return toRhaiError(e, pos);
}
/** Convert a foreign JS exception into an engine error. */
export function toRhaiError(e: unknown, pos?: number): RhaiError {
  if (e instanceof RhaiError) return e;
  if (e instanceof RangeError && e.message === 'Maximum call stack size exceeded') {
    const r = mkErr('ErrorStackOverflow', 'Stack overflow', pos);
    return r;
  }
  if (e instanceof RangeError) {
    if (e.message === 'Invalid string length') return mkErr('ErrorDataTooLarge', 'Length of string too large', pos);
    if (e.message === 'Invalid array length') return mkErr('ErrorDataTooLarge', 'Size of array too large', pos);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return mkErr('ErrorRuntime', `Runtime error: internal error: ${msg}`, pos);
}

const SYSTEM = new Set<string>([
  'ErrorParsing',
  'ErrorCustomSyntax',
  'ErrorTooManyOperations',
  'ErrorTooManyVariables',
  'ErrorTooManyModules',
  'ErrorStackOverflow',
  'ErrorDataTooLarge',
  'ErrorTerminated',
]);
export function isSystemError(e: RhaiError): boolean {
  return SYSTEM.has(e.kind) || e.extra.fatal === true;
}

function typeList(args: readonly Value[]): string {
  return args.map((a) => (typeof a === 'string' ? '&str | ImmutableString | String' : typeName(a))).join(', ');
}
export function errFnNotFound(name: string, args: readonly Value[], pos: number): RhaiError {
  return mkErr('ErrorFunctionNotFound', `Function not found: ${name} (${typeList(args)})`, pos);
}

export function throwValue(v: Value, pos: number): RhaiError {
  const text = v === undefined || v === '' ? 'Runtime error' : `Runtime error: ${toDisplay(v)}`;
  return new RhaiError('ErrorRuntime', text, { thrown: v }, pos);
}
