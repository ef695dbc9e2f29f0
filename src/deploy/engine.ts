/**
 * The deploy step's view of the Rhai engine (src/rhai/index.ts): compile a script to a serialisable program,
 * list its functions, and the content-addressed cache key `sha256(engineVersion NUL source)` (migration 0001).
 *
 * Diagnostics are rendered here, at the edge, in the push's `path:line:col` + caret form (diagnostics.ts).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, programFromJSON, programToJSON } from '../rhai/index.ts';
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

/**
 * Without an explicit engine version, the cache key covers the engine's own source: any change to src/rhai
 * (say, a new AST shape) gives new keys, so a stale serialised program is never reused.
 */
function sourceFingerprint(): string {
  const root = fileURLToPath(new URL('../rhai/', import.meta.url));
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs|js)$/.test(e.name) && !e.name.endsWith('.test.ts')) h.update(e.name).update(readFileSync(p));
    }
  };
  walk(root);
  return `src-${h.digest('hex').slice(0, 12)}`;
}

let engine: DeployEngine | null = null;

/** The deploy step's engine (created once). Async for callers that once loaded it lazily. */
export async function loadEngine(): Promise<DeployEngine> {
  engine ??= {
    version: `rhai-ts/${sourceFingerprint()}`,
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
