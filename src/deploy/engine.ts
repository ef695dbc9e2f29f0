/**
 * The deploy step's view of the Rhai engine (src/rhai/index.ts): compile a script to a serialisable program,
 * list its functions, and the content-addressed cache key `sha256(engineVersion NUL source)` (migration 0001), where
 * the engine version is the explicit ENGINE_VERSION of src/rhai/version.ts (the same from src/ and dist/).
 *
 * Diagnostics are rendered here, at the edge, in the push's `path:line:col` + caret form (diagnostics.ts).
 */
import { createHash } from 'node:crypto';
import { compile, ENGINE_VERSION, programFromJSON, programToJSON } from '../rhai/index.ts';
import { renderDiagnostic } from './diagnostics.ts';

export interface CompiledScript {
  ok: true;
  /** programToJSON(program) */
  json: string;
  functions: { name: string; params: string[] }[];
}
export interface FailedScript {
  ok: false;
  /** each rendered with formatPretty: `path:line:col: message` + source line + caret */
  rendered: string[];
  first: { line: number; col: number; message: string }[];
}

export interface DeployEngine {
  version: string;
  compile(path: string, source: string): CompiledScript | FailedScript;
  functionsOf(json: string): { name: string; params: string[] }[];
}

/** Cache key of a script source. */
export const scriptHash = (engineVersion: string, source: string): string =>
  createHash('sha256').update(engineVersion).update('\0').update(source).digest('hex');

let engine: DeployEngine | null = null;

/** The deploy step's engine (created once). Async for callers that once loaded it lazily. */
export async function loadEngine(): Promise<DeployEngine> {
  engine ??= {
    version: ENGINE_VERSION,
    compile(path, source) {
      const r = compile(source, { name: path });
      if (r.ok) return { ok: true, json: programToJSON(r.program), functions: [...r.program.functions] };
      const first = r.diagnostics.map((d) => ({ line: d.line, col: d.position, message: d.message }));
      return { ok: false, rendered: first.map((d) => renderDiagnostic({ path, ...d }, source)), first };
    },
    functionsOf(json) {
      return [...programFromJSON(json).functions];
    },
  };
  return engine;
}
