/**
 * The deploy step's view of the Rhai engine (src/rhai/index.ts): compile a script to a serialisable program,
 * list its functions, and the content-addressed cache key `sha256(engineVersion NUL source)` (migration 0001).
 *
 * The engine is loaded lazily so the rest of the deploy pipeline (TOML, paths, sizes, UTF-8) works without it.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

interface RhaiModule {
  compile(source: string, opts?: { name?: string }):
    | { ok: true; program: { functions: { name: string; params: string[] }[] } }
    | { ok: false; diagnostics: { message: string; offset: number; line: number; position: number }[] };
  programToJSON(p: unknown): string;
  programFromJSON(json: string): { functions: { name: string; params: string[] }[] };
  formatPretty?(path: string, source: string, d: unknown): string;
  ENGINE_VERSION?: string;
  VERSION?: string;
}

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

let loaded: Promise<DeployEngine> | null = null;

/** The engine, loaded once. Rejects when src/rhai/index.ts is not available. */
export function loadEngine(): Promise<DeployEngine> {
  loaded ??= (async () => {
    const spec = '../rhai/index.ts';
    const rhai = (await import(spec)) as RhaiModule;
    const version = `rhai-ts/${rhai.ENGINE_VERSION ?? rhai.VERSION ?? sourceFingerprint()}`;
    return {
      version,
      compile(path, source) {
        const r = rhai.compile(source, { name: path });
        if (r.ok) return { ok: true, json: rhai.programToJSON(r.program), functions: r.program.functions };
        return {
          ok: false,
          rendered: r.diagnostics.map((d) =>
            rhai.formatPretty ? rhai.formatPretty(path, source, d) : renderDiagnostic({ path, line: d.line, col: d.position, message: d.message }, source),
          ),
          first: r.diagnostics.map((d) => ({ line: d.line, col: d.position, message: d.message })),
        };
      },
      functionsOf(json) {
        return rhai.programFromJSON(json).functions;
      },
    };
  })();
  loaded.catch(() => (loaded = null));
  return loaded;
}
