/**
 * Stored programs as this executor may run them: a program compiled under this engine's ENGINE_VERSION as stored,
 * any other compiled again from the source it carries (src/rhai/version.ts), so an executor never runs an AST
 * that another engine version produced (a rolling upgrade, a database restored from an older release). The
 * compiler is imported only when a program needs it: an executor process's main thread otherwise never loads the
 * interpreter (~1.4 MB of heap that each idle GC would mark again).
 */
import { AppError } from '../common/errors.ts';
import { ENGINE_VERSION } from '../rhai/version.ts';
import type { Pool } from '../db/pool.ts';
import { loadScripts } from '../db/scripts.ts';

export type LoadedProgram =
  /** program JSON this engine runs; `recompiledFrom`: the other engine version it was stored under */
  | { json: string; recompiledFrom?: string; error?: undefined }
  /** stored under another engine version, and its source does not compile under this one */
  | { json?: undefined; error: AppError };

/** The runnable programs of these hashes (hashes not stored are absent). */
export async function loadPrograms(pool: Pool, hashes: string[]): Promise<Map<string, LoadedProgram>> {
  const out = new Map<string, LoadedProgram>();
  for (const r of await loadScripts(pool, hashes)) {
    if (r.engineVersion === ENGINE_VERSION) {
      out.set(r.hash, { json: r.ast });
      continue;
    }
    try {
      const { recompileProgramJSON } = await import('../rhai/index.ts');
      out.set(r.hash, { json: recompileProgramJSON(r.ast), recompiledFrom: r.engineVersion });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      out.set(r.hash, {
        error: new AppError('INTERNAL', `script ${r.hash.slice(0, 12)} was compiled by engine ${r.engineVersion} and does not compile under ${ENGINE_VERSION} (${why}); push the app again`),
      });
    }
  }
  return out;
}
