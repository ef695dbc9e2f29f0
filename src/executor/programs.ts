/**
 * Stored programs as this executor may run them: a program compiled under this engine's ENGINE_VERSION as stored,
 * any other compiled again from the source it carries (src/rhai/version.ts), so an executor never runs an AST
 * that another engine version produced (a rolling upgrade, a database restored from an older release).
 */
import { ENGINE_VERSION, recompileProgramJSON } from '../rhai/index.ts';
import type { Pool } from '../db/pool.ts';
import { loadScripts } from '../db/scripts.ts';

export interface LoadedProgram {
  /** program JSON this engine runs */
  json: string;
  /** the engine version it was stored under, when that was another one (it was recompiled) */
  recompiledFrom?: string;
}

/** The runnable programs of these hashes (hashes not stored are absent). */
export async function loadPrograms(pool: Pool, hashes: string[]): Promise<Map<string, LoadedProgram>> {
  const out = new Map<string, LoadedProgram>();
  for (const r of await loadScripts(pool, hashes)) {
    out.set(r.hash, r.engineVersion === ENGINE_VERSION ? { json: r.ast } : { json: recompileProgramJSON(r.ast), recompiledFrom: r.engineVersion });
  }
  return out;
}
