/**
 * Parse side of the conformance corpus (../shared/rhai-conformance/cases.jsonl): every case that expects a parse
 * error must fail with that `ParseErrorType` variant, and every other case must parse. Skips with a note when the
 * shared folder is absent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, type ParseOptions } from './parser.ts';

const casesFile = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/rhai-conformance/cases.jsonl');
const present = existsSync(casesFile);
if (!present) console.warn(`note: ${casesFile} not found; skipping the parse conformance cases`);

interface Case {
  id: string;
  mode: string;
  script: string;
  expect: { error?: string; parse_error?: string };
  engine?: Record<string, unknown>;
}

function options(c: Case): ParseOptions {
  const e = (c.engine ?? {}) as Record<string, never>;
  const o: ParseOptions = {
    // the corpus was produced by a debug build of Rhai: depths 32 / 16 unless the case overrides them
    maxExprDepth: e['max_expr_depth'] ?? 32,
    maxFunctionExprDepth: e['max_function_expr_depth'] ?? 16,
    expression: c.mode === 'expression' || c.mode === 'compile_expression',
  };
  if (e['max_functions'] !== undefined) o.maxFunctions = e['max_functions'];
  if (e['max_string_size'] !== undefined) o.maxStringSize = e['max_string_size'];
  if (e['max_array_size'] !== undefined) o.maxArraySize = e['max_array_size'];
  if (e['max_map_size'] !== undefined) o.maxMapSize = e['max_map_size'];
  if (e['disabled_symbols'] !== undefined) o.disabledSymbols = e['disabled_symbols'];
  if (e['strict_variables'] !== undefined) o.strictVariables = e['strict_variables'];
  if (e['allow_if_expression'] !== undefined) o.allowIfExpression = e['allow_if_expression'];
  if (e['allow_switch_expression'] !== undefined) o.allowSwitchExpression = e['allow_switch_expression'];
  if (e['allow_statement_expression'] !== undefined) o.allowStatementExpression = e['allow_statement_expression'];
  if (e['allow_anonymous_fn'] !== undefined) o.allowAnonymousFn = e['allow_anonymous_fn'];
  if (e['allow_looping'] !== undefined) o.allowLooping = e['allow_looping'];
  if (e['allow_shadowing'] !== undefined) o.allowShadowing = e['allow_shadowing'];
  if (e['allow_loop_expressions'] !== undefined) o.allowLoopExpressions = e['allow_loop_expressions'];
  return o;
}

describe.skipIf(!present)('conformance corpus, parse side', () => {
  const cases: Case[] = present
    ? readFileSync(casesFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Case)
    : [];
  it('every case parses, or fails with the expected ParseErrorType variant', () => {
    const failures: string[] = [];
    for (const c of cases) {
      const r = parse(c.script, options(c));
      const want = c.expect.error === 'parse' ? (c.expect.parse_error ?? '?') : null;
      const got = r.ok ? null : r.diagnostics[0]!.code.split('/')[0]!;
      if (want !== got) failures.push(`${c.id}: want ${want}, got ${got}${r.ok ? '' : ` (${r.diagnostics[0]!.message})`}`);
    }
    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThan(900);
  });
});
