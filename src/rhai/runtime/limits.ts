/** Sandbox limits, Rhai semantics. 0 means unlimited for every field. */
export interface Limits {
  /** max operations per run (ErrorTooManyOperations) */
  maxOperations: number;
  /** max nesting of script function calls (ErrorStackOverflow) */
  maxCallLevels: number;
  /** max expression nesting at parse time, top level (ExprTooDeep) */
  maxExprDepth: number;
  /** max expression nesting at parse time inside functions */
  maxFunctionExprDepth: number;
  /** max string length in UTF-8 bytes (ErrorDataTooLarge) */
  maxStringSize: number;
  /** max array length, counted recursively as Rhai does (ErrorDataTooLarge) */
  maxArraySize: number;
  /** max map size, counted recursively as Rhai does (ErrorDataTooLarge) */
  maxMapSize: number;
  /** max variables in scope (ErrorTooManyVariables) */
  maxVariables: number;
  /** max script functions defined (parse error TooManyFunctions) */
  maxFunctions: number;
  /** max modules (imports) */
  maxModules: number;
}

/** Rhai release-build defaults (debug builds use 8/32/16 for call levels and expression depths). */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxOperations: 0,
  maxCallLevels: 64,
  maxExprDepth: 64,
  maxFunctionExprDepth: 32,
  maxStringSize: 0,
  maxArraySize: 0,
  maxMapSize: 0,
  maxVariables: 0,
  maxFunctions: 0,
  maxModules: 0,
});
