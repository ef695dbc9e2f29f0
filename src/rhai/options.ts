/**
 * Engine/language options that affect parsing (Rhai `LangOptions`, `disable_symbol`, parse-time limits).
 * Every field is optional; defaults are Rhai's (`Engine::new()`), with the release-build expression depths
 * from runtime/limits.ts. A limit of 0 means unlimited.
 */
import { DEFAULT_LIMITS } from './runtime/limits.ts';

export interface ParseOptions {
  /** max expression nesting at the top level (ExprTooDeep) */
  maxExprDepth?: number;
  /** max expression nesting inside `fn` bodies */
  maxFunctionExprDepth?: number;
  /** max script functions, anonymous functions included (TooManyFunctions) */
  maxFunctions?: number;
  /** max string literal length in UTF-8 bytes (LiteralTooLarge) */
  maxStringSize?: number;
  /** max array literal items (LiteralTooLarge) */
  maxArraySize?: number;
  /** max object map literal properties (LiteralTooLarge) */
  maxMapSize?: number;
  /** keywords/operators turned off with `disable_symbol` */
  disabledSymbols?: readonly string[];
  allowIfExpression?: boolean;
  allowSwitchExpression?: boolean;
  allowStatementExpression?: boolean;
  allowAnonymousFn?: boolean;
  allowLooping?: boolean;
  allowShadowing?: boolean;
  allowLoopExpressions?: boolean;
  /** undefined variables are parse errors (VariableUndefined / ModuleUndefined) */
  strictVariables?: boolean;
  /** names defined by the host before the script runs (Rhai's external scope), seen by strict mode */
  externalVariables?: readonly string[];
  /** parse a single expression (Engine::eval_expression / compile_expression) */
  expression?: boolean;
}

export interface ResolvedOptions {
  maxExprDepth: number;
  maxFunctionExprDepth: number;
  maxFunctions: number;
  maxStringSize: number;
  maxArraySize: number;
  maxMapSize: number;
  disabled: ReadonlySet<string>;
  ifExpr: boolean;
  switchExpr: boolean;
  stmtExpr: boolean;
  anonFn: boolean;
  looping: boolean;
  shadowing: boolean;
  loopExpr: boolean;
  strict: boolean;
  external: ReadonlySet<string>;
  expression: boolean;
}

export function resolveOptions(o: ParseOptions = {}): ResolvedOptions {
  return {
    maxExprDepth: o.maxExprDepth ?? DEFAULT_LIMITS.maxExprDepth,
    maxFunctionExprDepth: o.maxFunctionExprDepth ?? DEFAULT_LIMITS.maxFunctionExprDepth,
    maxFunctions: o.maxFunctions ?? 0,
    maxStringSize: o.maxStringSize ?? 0,
    maxArraySize: o.maxArraySize ?? 0,
    maxMapSize: o.maxMapSize ?? 0,
    disabled: new Set(o.disabledSymbols ?? []),
    ifExpr: o.allowIfExpression ?? true,
    switchExpr: o.allowSwitchExpression ?? true,
    stmtExpr: o.allowStatementExpression ?? true,
    anonFn: o.allowAnonymousFn ?? true,
    looping: o.allowLooping ?? true,
    shadowing: o.allowShadowing ?? true,
    loopExpr: o.allowLoopExpressions ?? true,
    strict: o.strictVariables ?? false,
    external: new Set(o.externalVariables ?? []),
    expression: o.expression ?? false,
  };
}
