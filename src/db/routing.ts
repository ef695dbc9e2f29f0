/**
 * Reads of the live routing state for the orchestrator's in-memory route table (never per request):
 * per (app, branch) the live release (branch_pointers), its routes and schedules, release.config (env, limits)
 * and the config_vars overrides. `loadLiveBranches(pool)` loads everything; with `only` it loads one branch.
 */
import type { Pool } from './pool.ts';

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
}

export interface LiveBranch {
  appId: number;
  app: string;
  productionBranch: string;
  branch: string;
  releaseId: number;
  version: number;
  /** release.config: { env?: Record<string,string>, limits?: {...} } as stored by deploy */
  config: { env?: Record<string, unknown>; limits?: Record<string, unknown> };
  /** config_vars overrides for this (app, branch) */
  vars: Record<string, string>;
  routes: LiveRoute[];
  schedules: LiveSchedule[];
}

const SELECT_POINTERS = `
  SELECT a.id AS app_id, a.name AS app, a.production_branch, p.branch, r.id AS release_id, r.version, r.config
    FROM branch_pointers p
    JOIN apps a ON a.id = p.app_id
    JOIN releases r ON r.id = p.release_id
   WHERE ($1::text IS NULL OR (a.name = $1 AND p.branch = $2))`;

const SELECT_ROUTES = `
  SELECT release_id, idx, methods, path, script_path, script_hash, function
    FROM routes WHERE release_id = ANY($1::bigint[]) ORDER BY release_id, idx`;

const SELECT_SCHEDULES = `
  SELECT release_id, idx, cron, script_path, script_hash, function
    FROM schedules WHERE release_id = ANY($1::bigint[]) ORDER BY release_id, idx`;

const SELECT_VARS = `
  SELECT app_id, branch, key, value FROM config_vars WHERE app_id = ANY($1::bigint[])`;

/** Load the live state of every (app, branch), or only of `only`. */
export async function loadLiveBranches(pool: Pool, only?: { app: string; branch: string }): Promise<LiveBranch[]> {
  const { rows } = await pool.query<{
    app_id: number; app: string; production_branch: string; branch: string; release_id: number; version: number;
    config: LiveBranch['config'] | null;
  }>(SELECT_POINTERS, [only?.app ?? null, only?.branch ?? null]);
  if (rows.length === 0) return [];
  const releaseIds = rows.map((r) => r.release_id);
  const appIds = [...new Set(rows.map((r) => r.app_id))];
  const [routes, schedules, vars] = await Promise.all([
    pool.query<{ release_id: number; idx: number; methods: string[]; path: string; script_path: string; script_hash: string; function: string | null }>(SELECT_ROUTES, [releaseIds]),
    pool.query<{ release_id: number; idx: number; cron: string; script_path: string; script_hash: string; function: string | null }>(SELECT_SCHEDULES, [releaseIds]),
    pool.query<{ app_id: number; branch: string; key: string; value: string }>(SELECT_VARS, [appIds]),
  ]);
  const byRelease = new Map<number, LiveBranch>();
  const out: LiveBranch[] = rows.map((r) => {
    const b: LiveBranch = {
      appId: r.app_id, app: r.app, productionBranch: r.production_branch, branch: r.branch, releaseId: r.release_id,
      version: r.version, config: r.config ?? {}, vars: {}, routes: [], schedules: [],
    };
    byRelease.set(r.release_id, b);
    return b;
  });
  for (const r of routes.rows) {
    byRelease.get(r.release_id)?.routes.push({ idx: r.idx, methods: r.methods, path: r.path, scriptPath: r.script_path, scriptHash: r.script_hash, fn: r.function });
  }
  for (const s of schedules.rows) {
    byRelease.get(s.release_id)?.schedules.push({ idx: s.idx, cron: s.cron, scriptPath: s.script_path, scriptHash: s.script_hash, fn: s.function });
  }
  for (const v of vars.rows) {
    for (const b of out) if (b.appId === v.app_id && b.branch === v.branch) b.vars[v.key] = v.value;
  }
  return out;
}

/** The compiled program JSON of a script by content hash (the AST cache), or null. */
export async function loadScriptAst(pool: Pool, hash: string): Promise<string | null> {
  const { rows } = await pool.query<{ ast: string }>('SELECT ast FROM scripts WHERE hash = $1', [hash]);
  return rows[0]?.ast ?? null;
}
