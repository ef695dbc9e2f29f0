/**
 * Reads of the live routing state for the orchestrator's in-memory route table (never per request):
 * per (app, branch) the live release (branch_pointers), its routes and schedules, release.config (env, limits)
 * and the config_vars overrides. `loadLiveBranches(pool)` loads everything; with `only` it loads one branch.
 */
import type { Pool, PoolClient } from './pool.ts';

export interface LiveRoute {
  idx: number;
  methods: string[];
  path: string;
  scriptPath: string;
  scriptHash: string;
  fn: string | null;
}

export interface LiveSchedule {
  idx: number;
  cron: string;
  scriptPath: string;
  scriptHash: string;
  fn: string | null;
  overlap: boolean;
}

/** A `[[queues]]` entry of a live release (stored in release.config.queues). */
export interface LiveQueue {
  name: string;
  scriptPath: string;
  scriptHash: string;
  fn: string | null;
  attempts: number;
  backoffMs: number;
  concurrency: number;
}

export interface LiveBranch {
  appId: number;
  app: string;
  productionBranch: string;
  branch: string;
  releaseId: number;
  version: number;
  /**
   * release.config: { env?: Record<string,string>, limits?: {...}, fetch?: {...}, modules?: script path →
   * (import path → module hash), queues?, previewSchedules? } as stored by deploy
   */
  config: {
    env?: Record<string, unknown>; limits?: Record<string, unknown>; fetch?: Record<string, unknown>; modules?: Record<string, Record<string, string>>;
    queues?: LiveQueue[]; previewSchedules?: boolean;
  };
  /** config_vars overrides for this (app, branch) */
  vars: Record<string, string>;
  routes: LiveRoute[];
  schedules: LiveSchedule[];
}

const SELECT_LIVE = `
  SELECT a.id AS app_id, a.name AS app, a.production_branch, p.branch, r.id AS release_id, r.version, r.config,
         coalesce((SELECT json_agg(json_build_object('idx', x.idx, 'methods', x.methods, 'path', x.path,
                     'scriptPath', x.script_path, 'scriptHash', x.script_hash, 'fn', x.function) ORDER BY x.idx)
                     FROM routes x WHERE x.release_id = r.id), '[]') AS routes,
         coalesce((SELECT json_agg(json_build_object('idx', s.idx, 'cron', s.cron,
                     'scriptPath', s.script_path, 'scriptHash', s.script_hash, 'fn', s.function, 'overlap', s.overlap) ORDER BY s.idx)
                     FROM schedules s WHERE s.release_id = r.id), '[]') AS schedules,
         coalesce((SELECT json_object_agg(c.key, c.value) FROM config_vars c
                    WHERE c.app_id = a.id AND c.branch = p.branch), '{}') AS vars
    FROM branch_pointers p
    JOIN apps a ON a.id = p.app_id
    JOIN releases r ON r.id = p.release_id
   WHERE ($1::text IS NULL OR (a.name = $1 AND p.branch = $2))`;

/** Load the live state of every (app, branch), or only of `only` — one round trip. */
export async function loadLiveBranches(db: Pool | PoolClient, only?: { app: string; branch: string }): Promise<LiveBranch[]> {
  const { rows } = await db.query<{
    app_id: number; app: string; production_branch: string; branch: string; release_id: number; version: number;
    config: LiveBranch['config'] | null; routes: LiveRoute[]; schedules: LiveSchedule[]; vars: Record<string, string>;
  }>(SELECT_LIVE, [only?.app ?? null, only?.branch ?? null]);
  return rows.map((r) => ({
    appId: r.app_id, app: r.app, productionBranch: r.production_branch, branch: r.branch, releaseId: r.release_id,
    version: r.version, config: r.config ?? {}, vars: r.vars, routes: r.routes, schedules: r.schedules,
  }));
}
