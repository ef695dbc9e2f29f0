/**
 * Shared conformance harness: loads the JSONL cases of ../shared/rhai-conformance (format in its README),
 * runs one case against our engine and compares the result with the typed expectation.
 * Used by run.ts (the CLI, `npm run conformance`) and conformance.test.ts (vitest, floor check).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Engine,
  RhaiError,
  RFloat,
  RChar,
  compile,
  typeName,
  type CompileOptions,
  type LanguageOptions,
  type Limits,
  type Program,
  type Value,
} from '../../src/rhai/index.ts';
import { testing } from '../../src/rhai/resumable.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_CASES = resolve(REPO_ROOT, '../shared/rhai-conformance/cases.jsonl');

export interface Case {
  id: string;
  feature: string;
  mode: 'eval' | 'run' | 'expression' | 'compile' | 'compile_expression';
  script: string;
  expect: Expect;
  engine?: Record<string, unknown>;
  rust_type?: string;
  note?: string;
}

export type Typed = { type: string; value: unknown };
export type Expect =
  | { type: string; value?: unknown; tolerance?: number; length?: number }
  | { success: true }
  | {
      error: string;
      variant?: string;
      parse_error?: string;
      inner?: string;
      thrown?: Typed;
      message?: string;
      observed?: boolean;
    };

export function loadCases(file: string): Case[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Case);
}

export { existsSync };

const CATEGORY: Record<string, string> = {
  ErrorParsing: 'parse',
  ErrorArithmetic: 'arithmetic',
  ErrorFunctionNotFound: 'function_not_found',
  ErrorVariableNotFound: 'variable_not_found',
  ErrorPropertyNotFound: 'property_not_found',
  ErrorArrayBounds: 'index_out_of_bounds',
  ErrorStringBounds: 'index_out_of_bounds',
  ErrorBitFieldBounds: 'index_out_of_bounds',
  ErrorIndexingType: 'indexing_type',
  ErrorMismatchDataType: 'type_mismatch',
  ErrorMismatchOutputType: 'output_type_mismatch',
  ErrorDotExpr: 'dot_expr',
  ErrorRuntime: 'runtime',
  ErrorInFunctionCall: 'in_function_call',
  ErrorInModule: 'in_module',
  ErrorAssignmentToConstant: 'assignment_to_constant',
  ErrorNonPureMethodCallOnConstant: 'non_pure_method_on_constant',
  ErrorDataRace: 'data_race',
  ErrorTooManyOperations: 'too_many_operations',
  ErrorTooManyVariables: 'too_many_variables',
  ErrorStackOverflow: 'stack_overflow',
  ErrorDataTooLarge: 'data_too_large',
};

const RUST_TYPES: Record<string, string> = {
  INT: 'i64',
  bool: 'bool',
  String: 'string',
  '& str': 'string',
  FLOAT: 'f64',
  '()': '()',
  char: 'char',
  Blob: 'blob',
  Map: 'map',
  Array: 'array',
  'rhai::Array': 'array',
};

type Outcome =
  | { kind: 'value'; value: Value }
  | { kind: 'ok' }
  | { kind: 'error'; category: string; variant: string; parseError?: string; inner?: string; thrown?: Value; message: string };

function engineConfig(c: Case): { limits: Partial<Limits>; options: Partial<LanguageOptions>; raw: boolean } {
  const e = c.engine ?? {};
  // debug-build defaults (the upstream tests run as a debug build)
  const limits: Partial<Limits> = { maxCallLevels: 8, maxExprDepth: 32, maxFunctionExprDepth: 16 };
  const options: Partial<LanguageOptions> = {};
  const num = (k: string): number | undefined => (typeof e[k] === 'number' ? (e[k] as number) : undefined);
  const map: [string, keyof Limits][] = [
    ['max_operations', 'maxOperations'],
    ['max_string_size', 'maxStringSize'],
    ['max_array_size', 'maxArraySize'],
    ['max_map_size', 'maxMapSize'],
    ['max_call_levels', 'maxCallLevels'],
    ['max_variables', 'maxVariables'],
    ['max_functions', 'maxFunctions'],
    ['max_modules', 'maxModules'],
    ['max_expr_depth', 'maxExprDepth'],
    ['max_function_expr_depth', 'maxFunctionExprDepth'],
  ];
  for (const [k, l] of map) {
    const v = num(k);
    if (v !== undefined) limits[l] = v;
  }
  const bools: [string, keyof LanguageOptions][] = [
    ['strict_variables', 'strictVariables'],
    ['fail_on_invalid_map_property', 'failOnInvalidMapProperty'],
    ['allow_if_expression', 'allowIfExpression'],
    ['allow_statement_expression', 'allowStatementExpression'],
    ['allow_anonymous_fn', 'allowAnonymousFn'],
    ['allow_looping', 'allowLooping'],
    ['allow_shadowing', 'allowShadowing'],
    ['allow_loop_expressions', 'allowLoopExpressions'],
    ['allow_switch_expression', 'allowSwitchExpression'],
  ];
  for (const [k, o] of bools) if (typeof e[k] === 'boolean') (options as Record<string, unknown>)[o] = e[k];
  if (Array.isArray(e['disabled_symbols'])) options.disabledSymbols = e['disabled_symbols'] as string[];
  return { limits, options, raw: e['raw'] === true };
}

function errorOutcome(err: unknown): Outcome {
  if (!(err instanceof RhaiError)) {
    return { kind: 'error', category: 'FOREIGN', variant: 'FOREIGN', message: String(err) };
  }
  const o: Outcome = {
    kind: 'error',
    category: CATEGORY[err.kind] ?? err.kind,
    variant: err.kind,
    message: err.fullMessage,
  };
  if (err.kind === 'ErrorInFunctionCall' && err.extra.inner) o.inner = err.extra.inner.kind;
  if (err.kind === 'ErrorRuntime') o.thrown = err.extra.thrown;
  return o;
}

export interface RunOptions {
  /** run every case with operation counting on (a huge max_operations when the case sets none), to check that
   * the checked closure variant behaves exactly like the fast one */
  forceChecked?: boolean;
}

export function execute(c: Case, opts: RunOptions = {}): Outcome {
  const r = prepare(c, opts);
  if ('kind' in r) return r;
  try {
    return outcome(c, r.engine.run(r.program));
  } catch (e) {
    return errorOutcome(e);
  }
}

/**
 * The same through Engine.runAsync with every call treated as one that can suspend (resumable.ts `testing`): the
 * resumable variant of every construct must give exactly the sync outcome.
 */
export async function executeResumable(c: Case, opts: RunOptions = {}): Promise<Outcome> {
  const r = prepare(c, opts);
  if ('kind' in r) return r;
  r.engine.registerAsyncFn('never_called_async', [], async () => undefined);
  testing.everyCall = true;
  try {
    return outcome(c, await r.engine.runAsync(r.program));
  } catch (e) {
    return errorOutcome(e);
  } finally {
    testing.everyCall = false;
  }
}

function prepare(c: Case, opts: RunOptions): Outcome | { engine: Engine; program: Program } {
  const cfg = engineConfig(c);
  if (opts.forceChecked && cfg.limits.maxOperations === undefined) cfg.limits.maxOperations = 1e12;
  const expression = c.mode === 'expression' || c.mode === 'compile_expression';
  const copts: CompileOptions = { limits: cfg.limits, options: cfg.options, expression };
  let r: ReturnType<typeof compile>;
  try {
    r = compile(c.script, copts);
  } catch (e) {
    return { kind: 'error', category: 'FOREIGN', variant: 'FOREIGN', message: `compile threw: ${String(e)}` };
  }
  if (!r.ok) {
    const d = r.diagnostics[0]!;
    return {
      kind: 'error',
      category: 'parse',
      variant: 'ErrorParsing',
      parseError: d.code,
      message: `${d.message} (line ${d.line}, position ${d.position})`,
    };
  }
  if (c.mode === 'compile' || c.mode === 'compile_expression') return { kind: 'ok' };
  return { engine: new Engine({ limits: cfg.limits, raw: cfg.raw, options: cfg.options, onPrint: () => {}, onDebug: () => {} }), program: r.program };
}

function outcome(c: Case, v: Value): Outcome {
  {
    if (c.mode === 'run') return { kind: 'ok' };
    const want = c.rust_type ? RUST_TYPES[c.rust_type] : undefined;
    if (want && typeName(v) !== want) {
      return {
        kind: 'error',
        category: 'output_type_mismatch',
        variant: 'ErrorMismatchOutputType',
        message: `Output type incorrect: ${typeName(v)} (expecting ${want})`,
      };
    }
    return { kind: 'value', value: v };
  }
}

function describe(v: Value): string {
  try {
    return `${typeName(v)} ${JSON.stringify(toTyped(v))}`;
  } catch {
    return typeName(v);
  }
}

function toTyped(v: Value): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof RFloat) return v.v;
  if (v instanceof RChar) return v.c;
  if (Array.isArray(v)) return v.map(toTyped);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, toTyped(x)]));
  if (v instanceof Uint8Array) return Array.from(v);
  if (v === undefined) return null;
  return typeof v === 'object' ? String(v) : v;
}

/** Exact typed comparison per the corpus README. */
export function matchTyped(exp: Typed, v: Value): boolean {
  const t = typeName(v);
  if (normType(exp.type) !== t) return false;
  switch (normType(exp.type)) {
    case 'i64': {
      const want = typeof exp.value === 'string' ? BigInt(exp.value) : BigInt(exp.value as number);
      return BigInt(v as number | bigint) === want;
    }
    case 'f64':
      return (v as RFloat).v === exp.value || (Number.isNaN((v as RFloat).v) && exp.value === null);
    case 'bool':
    case 'string':
      return v === exp.value;
    case 'char':
      return (v as RChar).c === exp.value;
    case '()':
    case 'unit':
      return v === undefined;
    case 'array': {
      const a = v as Value[];
      const e = exp.value as Typed[];
      return a.length === e.length && e.every((x, i) => matchTyped(x, a[i]));
    }
    case 'map': {
      const m = v as Map<string, Value>;
      const e = exp.value as Record<string, Typed>;
      const keys = Object.keys(e);
      return m.size === keys.length && keys.every((k) => m.has(k) && matchTyped(e[k]!, m.get(k)));
    }
    case 'blob': {
      const b = v as Uint8Array;
      const e = exp.value as number[];
      return b.length === e.length && e.every((x, i) => b[i] === x);
    }
    default:
      return false;
  }
}

function normType(t: string): string {
  return t === 'unit' ? '()' : t;
}

export interface CaseResult {
  id: string;
  feature: string;
  pass: boolean;
  reason: string;
}

export function runCase(c: Case, opts: RunOptions = {}): CaseResult {
  let out: Outcome;
  try {
    out = execute(c, opts);
  } catch (e) {
    out = { kind: 'error', category: 'FOREIGN', variant: 'FOREIGN', message: `harness: ${String(e)}` };
  }
  return judge(c, out);
}

/** runCase through the resumable variant (executeResumable). */
export async function runCaseResumable(c: Case, opts: RunOptions = {}): Promise<CaseResult> {
  let out: Outcome;
  try {
    out = await executeResumable(c, opts);
  } catch (e) {
    out = { kind: 'error', category: 'FOREIGN', variant: 'FOREIGN', message: `harness: ${String(e)}` };
  }
  return judge(c, out);
}

function judge(c: Case, out: Outcome): CaseResult {
  const res = (pass: boolean, reason = ''): CaseResult => ({ id: c.id, feature: c.feature, pass, reason });
  const exp = c.expect;
  const got = (): string =>
    out.kind === 'error'
      ? `error ${out.variant}${out.parseError ? `/${out.parseError}` : ''}${out.inner ? `(${out.inner})` : ''}: ${out.message}`
      : out.kind === 'ok'
        ? 'success'
        : `value ${describe(out.value)}`;
  if ('error' in exp) {
    if (out.kind !== 'error' || out.category === 'FOREIGN') return res(false, `expected error ${exp.error}, got ${got()}`);
    if (exp.observed) return res(true);
    if (exp.error !== out.category) return res(false, `expected ${exp.error}${exp.variant ? ` (${exp.variant})` : ''}, got ${got()}`);
    if (exp.parse_error && out.parseError !== exp.parse_error && out.parseError?.split('/')[0] !== exp.parse_error)
      return res(false, `expected parse error ${exp.parse_error}, got ${out.parseError}: ${out.message}`);
    if (exp.inner && out.inner !== exp.inner) return res(false, `expected inner ${exp.inner}, got ${got()}`);
    if (exp.thrown && !matchTyped({ ...exp.thrown, type: normType(exp.thrown.type) }, out.thrown))
      return res(false, `expected thrown ${JSON.stringify(exp.thrown)}, got ${got()}`);
    return res(true);
  }
  if ('success' in exp) {
    return out.kind === 'error' ? res(false, `expected success, got ${got()}`) : res(true);
  }
  if (out.kind !== 'value') {
    return out.kind === 'ok' && c.mode === 'run' ? res(true) : res(false, `expected ${exp.type}, got ${got()}`);
  }
  const v = out.value;
  if (exp.length !== undefined) {
    const t = typeName(v);
    if (t !== exp.type) return res(false, `expected ${exp.type} of length ${exp.length}, got ${got()}`);
    const len =
      typeof v === 'string' ? new TextEncoder().encode(v).length : Array.isArray(v) ? v.length : v instanceof Map ? v.size : -1;
    return len === exp.length ? res(true) : res(false, `expected length ${exp.length}, got ${len}`);
  }
  if (exp.tolerance !== undefined) {
    const x = v instanceof RFloat ? v.v : typeof v === 'number' ? NaN : NaN;
    return Math.abs(x - (exp.value as number)) <= exp.tolerance
      ? res(true)
      : res(false, `expected ${exp.value} ± ${exp.tolerance}, got ${got()}`);
  }
  return matchTyped({ type: normType(exp.type), value: exp.value }, v)
    ? res(true)
    : res(false, `expected ${exp.type} ${JSON.stringify(exp.value)}, got ${got()}`);
}
