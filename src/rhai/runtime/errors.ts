/**
 * Runtime errors: one class, `RhaiError`, whose `kind` mirrors Rhai's `EvalAltResult` variants.
 * `message` is Rhai's Display text WITHOUT the position suffix; `toString()`/`fullMessage` adds
 * ` (line L, position P)` when a position is known. Positions are filled lazily on the way up.
 * break/continue/return are NOT errors (see the compiler's completion signals).
 */
import type { Value } from './value.ts';

export type EvalErrorKind =
  | 'ErrorParsing'
  | 'ErrorVariableExists'
  | 'ErrorForbiddenVariable'
  | 'ErrorVariableNotFound'
  | 'ErrorPropertyNotFound'
  | 'ErrorIndexNotFound'
  | 'ErrorFunctionNotFound'
  | 'ErrorModuleNotFound'
  | 'ErrorInFunctionCall'
  | 'ErrorInModule'
  | 'ErrorUnboundThis'
  | 'ErrorMismatchDataType'
  | 'ErrorMismatchOutputType'
  | 'ErrorIndexingType'
  | 'ErrorArrayBounds'
  | 'ErrorStringBounds'
  | 'ErrorBitFieldBounds'
  | 'ErrorFor'
  | 'ErrorDataRace'
  | 'ErrorNonPureMethodCallOnConstant'
  | 'ErrorAssignmentToConstant'
  | 'ErrorDotExpr'
  | 'ErrorArithmetic'
  | 'ErrorTooManyOperations'
  | 'ErrorTooManyVariables'
  | 'ErrorTooManyModules'
  | 'ErrorStackOverflow'
  | 'ErrorDataTooLarge'
  | 'ErrorTerminated'
  | 'ErrorCustomSyntax'
  | 'ErrorRuntime';

export interface Position {
  /** 1-based line */
  line: number;
  /** 1-based character (code point) within the line */
  position: number;
}

export class RhaiError extends Error {
  /** Source offset (UTF-16 index into the script) where the error happened, when known. */
  offset: number | undefined;
  /** Line/position, computed from `offset` by the engine when the error leaves it. */
  pos: Position | undefined;

  constructor(
    readonly kind: EvalErrorKind,
    /** Rhai Display text, without position */
    readonly text: string,
    readonly extra: {
      /** thrown value for ErrorRuntime */
      thrown?: Value;
      /** wrapped error for ErrorInFunctionCall / ErrorInModule */
      inner?: RhaiError;
      /** function name for ErrorInFunctionCall */
      fnName?: string;
      /** not catchable by `try`/`catch` nor swallowed by callbacks (an async function called where nothing can suspend) */
      fatal?: boolean;
    } = {},
    offset?: number,
  ) {
    super(text);
    this.name = 'RhaiError';
    this.offset = offset;
  }

  /** Rhai's full message: text plus ` (line L, position P)` when known. */
  get fullMessage(): string {
    let base = this.text;
    if (this.kind === 'ErrorInFunctionCall' && this.extra.inner) {
      const name = this.extra.fnName ?? '';
      base =
        this.extra.inner.fullMessage + (name.startsWith('anon$') ? '\nin closure call' : `\nin call to function '${name}'`);
    } else if (this.kind === 'ErrorInModule' && this.extra.inner) {
      // Rhai: `{err}\nin module '{name}'`, the inner error with its own position (inside the module)
      const m = /\nin module( '.*')?$/s.exec(this.text);
      base = this.extra.inner.fullMessage + (m ? m[0] : '\nin module');
    }
    return this.pos ? `${base} (line ${this.pos.line}, position ${this.pos.position})` : base;
  }

  /** Is this error catchable by `try`/`catch`? (Rhai `is_catchable`: limits, termination and parse errors are not.) */
  get catchable(): boolean {
    switch (this.kind) {
      case 'ErrorParsing':
      case 'ErrorCustomSyntax':
      case 'ErrorTooManyOperations':
      case 'ErrorTooManyVariables':
      case 'ErrorTooManyModules':
      case 'ErrorStackOverflow':
      case 'ErrorDataTooLarge':
      case 'ErrorTerminated':
        return false;
      default:
        return true;
    }
  }

  /** The innermost error (through ErrorInFunctionCall / ErrorInModule wrappers). */
  get root(): RhaiError {
    return this.extra.inner ? this.extra.inner.root : this;
  }

  /** Set the offset if none is set yet (Rhai `fill_position`). */
  fill(offset: number): this {
    if (this.offset === undefined) this.offset = offset;
    return this;
  }
}

// ---- constructors with Rhai's wording (src/types/error.rs Display) ----

export const errArithmetic = (msg: string) => new RhaiError('ErrorArithmetic', msg || 'Arithmetic error');
export const errRuntime = (text: string, thrown?: Value) => new RhaiError('ErrorRuntime', text, { thrown });
export const errFunctionNotFound = (sig: string) => new RhaiError('ErrorFunctionNotFound', `Function not found: ${sig}`);
export const errVariableNotFound = (name: string) => new RhaiError('ErrorVariableNotFound', `Variable not found: ${name}`);
export const errMismatch = (expected: string, actual: string) =>
  new RhaiError('ErrorMismatchDataType', `Data type incorrect: ${actual} (expecting ${expected})`);
/** `what` is Rhai's type text: 'Length of string', 'Size of array', 'Size of object map' → "<what> too large". */
export const errDataTooLarge = (what: string) => new RhaiError('ErrorDataTooLarge', `${what} too large`);
export const errArrayBounds = (len: number, index: number | bigint) =>
  new RhaiError(
    'ErrorArrayBounds',
    len === 0
      ? `Array index ${index} out of bounds: array is empty`
      : `Array index ${index} out of bounds: only ${len} element${len === 1 ? '' : 's'} in array`,
  );
export const errStringBounds = (len: number, index: number | bigint) =>
  new RhaiError(
    'ErrorStringBounds',
    len === 0
      ? `String index ${index} out of bounds: string is empty`
      : `String index ${index} out of bounds: only ${len} character${len === 1 ? '' : 's'} in string`,
  );
export const errBitFieldBounds = (bits: number, index: number | bigint) =>
  new RhaiError('ErrorBitFieldBounds', `Bit-field index ${index} out of bounds: only ${bits} bits in bit-field`);

// ---- the map a `catch (e)` receives ----

const after = (text: string, prefix: string): string => (text.startsWith(prefix) ? text.slice(prefix.length) : text);
const quoted = (text: string): string => /'(.*)'$/s.exec(text)?.[1] ?? '';
const toInt = (s: string | undefined): number => {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : 0;
};

/**
 * The variant-specific fields Rhai's `EvalAltResult::dump_fields` puts into the map a `catch (e)` receives
 * (src/types/error.rs), derived from the Display text, which carries every wrapped value:
 * `function` (+ `source` for ErrorInFunctionCall), `requested`/`actual`, `length`/`index` (bounds),
 * `variable`, `index` (ErrorIndexNotFound), `module`, `property`, `type`, `token`.
 * Arithmetic, runtime, `this`, `for` and limit errors add nothing.
 */
export function errorFields(err: RhaiError): [string, Value][] {
  const t = err.text;
  switch (err.kind) {
    case 'ErrorFunctionNotFound':
      return [['function', after(t, 'Function not found: ')]];
    case 'ErrorNonPureMethodCallOnConstant': {
      let fn = quoted(t);
      if (t.startsWith('Non-pure property ')) fn = `get$${/^Non-pure property (.*) cannot/s.exec(t)?.[1] ?? ''}`;
      else if (t.startsWith('Cannot modify property ')) fn = `set$${fn}`;
      else if (t === 'Non-pure indexer cannot be accessed on constant') fn = 'index$get$';
      else if (t === 'Cannot assign to indexer of constant') fn = 'index$set$';
      return [['function', fn]];
    }
    case 'ErrorInFunctionCall':
      return [
        ['function', err.extra.fnName ?? ''],
        ['source', ''],
      ];
    case 'ErrorMismatchDataType':
    case 'ErrorMismatchOutputType': {
      const m = /^\w+ type incorrect(?:: (.*?))?(?:(?: \(expecting |, expecting )(.*?)\)?)?$/s.exec(t);
      return [
        ['requested', m?.[2] ?? ''],
        ['actual', m?.[1] ?? ''],
      ];
    }
    case 'ErrorArrayBounds':
    case 'ErrorStringBounds':
    case 'ErrorBitFieldBounds': {
      const m = /index (-?\d+) out of bounds: (?:only (\d+)|\w+ is empty)/.exec(t);
      return [
        ['length', toInt(m?.[2] ?? '0')],
        ['index', toInt(m?.[1])],
      ];
    }
    case 'ErrorVariableExists':
      return [['variable', after(t, 'Variable already defined: ')]];
    case 'ErrorForbiddenVariable':
      return [['variable', after(t, 'Forbidden variable name: ')]];
    case 'ErrorVariableNotFound':
      return [['variable', after(t, 'Variable not found: ')]];
    case 'ErrorPropertyNotFound':
      return [['variable', after(t, 'Property not found: ')]];
    case 'ErrorDataRace':
      return [['variable', t === 'Data race detected' ? '' : quoted(after(t, 'Data race detected on variable '))]];
    case 'ErrorAssignmentToConstant':
      return [['variable', after(t, 'Cannot modify constant ')]];
    case 'ErrorIndexNotFound':
      return [['index', after(t, 'Invalid index: ')]];
    case 'ErrorModuleNotFound':
      return [['module', after(t, 'Module not found: ')]];
    case 'ErrorInModule':
      return [['module', /\nin module '(.*)'$/s.exec(t)?.[1] ?? '']];
    case 'ErrorDotExpr':
      return [['property', t === 'Malformed dot expression' ? '' : t]];
    case 'ErrorIndexingType':
      return [['type', after(t, 'Indexer unavailable: ')]];
    case 'ErrorDataTooLarge':
      return [['type', t.replace(/ too large$/, '')]];
    default:
      return [];
  }
}

/** Rhai's Display of an error without its own position (inner errors of a wrapper keep theirs). */
export function messageWithoutPosition(err: RhaiError): string {
  const pos = err.pos;
  err.pos = undefined;
  const off = err.offset;
  err.offset = undefined;
  try {
    return err.fullMessage;
  } finally {
    err.pos = pos;
    err.offset = off;
  }
}
