/**
 * Parse diagnostics as data (style guide 3.5): Rhai's `ParseError` = `ParseErrorType` + position.
 *
 * `code` is the `ParseErrorType` variant name; for lexer errors it is `BadInput/<LexError variant>`
 * (e.g. `BadInput/MalformedEscapeSequence`), so `code.split('/')[0]` is the top-level variant.
 * `message` is Rhai's Display text (src/types/parse_error.rs) without the ` (line L, position P)` suffix.
 * `offset` is the UTF-16 offset Rhai reports the error at; use `lineCol()` / `formatShort()` to render it.
 */

export interface Diagnostic {
  severity: 'error';
  code: string;
  message: string;
  /** UTF-16 offset of the error position */
  offset: number;
  /** optional end offset (exclusive) of the offending text */
  end?: number;
}

/** Internal exception used by the parser to unwind to `parse()`; never escapes src/rhai/parser.ts. */
export class ParseFailure {
  constructor(readonly diag: Diagnostic) {}
}

export function diag(code: string, message: string, offset: number, end?: number): Diagnostic {
  return end === undefined ? { severity: 'error', code, message, offset } : { severity: 'error', code, message, offset, end };
}

// ---- Rhai Display texts (src/types/parse_error.rs) ----

export const msg = {
  unexpectedEOF: () => 'Script is incomplete',
  unknownOperator: (s: string) => `Unknown operator: '${s}'`,
  missingToken: (token: string, desc: string) => `Expecting '${token}' ${desc}`,
  malformedIndexExpr: (s: string) => (s === '' ? 'Invalid index in indexing expression' : s),
  malformedCapture: (s: string) => (s === '' ? 'Invalid capturing' : s),
  duplicatedProperty: (s: string) => `Duplicated property for object map literal: ${s}`,
  duplicatedVariable: (s: string) => `Duplicated variable name: ${s}`,
  wrongSwitchIntegerCase: () => 'Numeric switch case cannot follow a range case',
  wrongSwitchDefaultCase: () => 'Default switch case must be the last',
  wrongSwitchCaseCondition: () => 'This switch case cannot have a condition',
  propertyExpected: () => 'Expecting name of a property',
  variableExpected: () => 'Expecting name of a variable',
  forbiddenVariable: (s: string) => `Forbidden variable name: ${s}`,
  reserved: (s: string, isIdent: boolean) => (isIdent ? `'${s}' is a reserved keyword` : `'${s}' is a reserved symbol`),
  mismatchedType: (r: string, a: string) => `Expecting ${r}, not ${a}`,
  exprExpected: (s: string) => `Expecting ${s} expression`,
  wrongDocComment: () => 'Doc-comment must be followed immediately by a function definition',
  wrongFnDefinition: () =>
    'Function definitions must be at global level and cannot be inside a block or another function',
  fnDuplicatedDefinition: (s: string, n: number) =>
    `Function ${s} with ${n === 0 ? 'no parameters' : n === 1 ? '1 parameter' : `${n} parameters`} already exists`,
  fnMissingName: () => 'Expecting function name in function declaration',
  fnMissingParams: (s: string) => `Expecting parameters for function ${s}`,
  fnDuplicatedParam: (s: string, arg: string) => `Duplicated parameter ${arg} for function ${s}`,
  fnMissingBody: (s: string) =>
    s === '' ? 'Expecting body statement block for anonymous function' : `Expecting body statement block for function ${s}`,
  wrongExport: () => 'Export statement can only appear at global level',
  assignmentToConstant: (s: string) => (s === '' ? 'Cannot assign to a constant value' : `Cannot assign to constant ${s}`),
  assignmentToInvalidLHS: (s: string) => (s === '' ? 'Expression cannot be assigned to' : s),
  variableExists: (s: string) => `Variable already defined: ${s}`,
  variableUndefined: (s: string) => `Undefined variable: ${s}`,
  moduleUndefined: (s: string) => `Undefined module: ${s}`,
  exprTooDeep: () => 'Expression exceeds maximum complexity',
  tooManyFunctions: () => 'Number of functions defined exceeds maximum limit',
  literalTooLarge: (typ: string, max: number) => `${typ} exceeds the maximum limit (${max})`,
  loopBreak: () => 'Break statement should only be used inside a loop',
  // LexError
  unexpectedInput: (s: string) => `Unexpected '${s}'`,
  malformedEscapeSequence: (s: string) => `Invalid escape sequence: '${s}'`,
  malformedNumber: (s: string) => `Invalid number: '${s}'`,
  malformedChar: (s: string) => `Invalid character: '${s}'`,
  malformedIdentifier: (s: string) => `Variable name is not proper: '${s}'`,
  unterminatedString: () => 'Open string is not terminated',
  improperSymbol: (s: string, d: string) => (d === '' ? `Invalid symbol encountered: '${s}'` : d),
} as const;
