/**
 * Rhai parser: recursive descent with precedence climbing, mirroring src/parser.rs function by function so
 * that the first error reported, its wording and its position match Rhai's, including the expression-depth
 * accounting (`ParseSettings::level_up`) that decides `ExprTooDeep`.
 *
 * Entry point: `parse(source, options)` → `{ ok: true, program }` or `{ ok: false, diagnostics }`. It never
 * throws: parse errors unwind internally as `ParseFailure`, and a JS stack overflow (only possible with
 * unlimited depth) becomes `ExprTooDeep`.
 *
 * Parse-time checks done here, as in Rhai: undefined variables/modules in strict mode, constant assignment,
 * shadowing when disabled, closure captures (`ClosureExpr.captures`, Rhai's `external_vars`: every variable
 * the closure body reads or writes that is not one of its params/locals and not the name of an already
 * defined script function).
 *
 * The parser itself is in parser/: base.ts (settings, variable stack, token helpers), expressions.ts,
 * statements.ts and functions.ts (functions, closures, modules, entry points); this file is its surface.
 */
import { diag, msg, ParseFailure, type Diagnostic } from './diagnostics.ts';
import { resolveOptions, type ParseOptions } from './options.ts';
import type { Program } from './ast.ts';
import { Parser } from './parser/functions.ts';

export type { ParseOptions } from './options.ts';
export type ParseResult = { ok: true; program: Program } | { ok: false; diagnostics: Diagnostic[] };

/**
 * Parse a Rhai script (or, with `expression: true`, a single expression as `Engine::eval_expression`).
 * A leading `#!` line is skipped, as Rhai does for script files.
 */
export function parse(source: string, opts?: ParseOptions): ParseResult {
  const o = resolveOptions(opts);
  let start = 0;
  if (source.startsWith('#!')) {
    const nl = source.indexOf('\n');
    start = nl === -1 ? source.length : nl;
  }
  const p = new Parser(source, o, start);
  try {
    const program = o.expression ? p.parseExpression() : p.parseScript();
    if (p.diags.length > 0) return { ok: false, diagnostics: p.diags };
    return { ok: true, program };
  } catch (e) {
    if (e instanceof ParseFailure) {
      const last = p.diags[p.diags.length - 1];
      if (last === undefined || e.diag.offset > last.offset) p.diags.push(e.diag);
      return { ok: false, diagnostics: p.diags };
    }
    if (e instanceof RangeError) {
      return { ok: false, diagnostics: p.diags.length > 0 ? p.diags : [diag('ExprTooDeep', msg.exprTooDeep(), 0)] };
    }
    throw e;
  }
}

