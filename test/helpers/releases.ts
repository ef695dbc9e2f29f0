/**
 * Releases for invocation tests without a git push: compiles scripts with the Rhai API, stores them in the AST
 * cache (scripts), inserts the release with its routes and schedules, moves the branch pointer and NOTIFYs
 * 'picloud_releases' in one transaction, exactly as the release-switch contract says (migrations/0001).
 */
import { createHash } from 'node:crypto';
import { withTransaction, type Pool } from '../../src/db/pool.ts';
import { compile, programToJSON } from '../../src/rhai/index.ts';

export interface TestRoute {
  path: string;
  method?: string | string[];
  script: string;
  function?: string;
}

export interface TestRelease {
  app: string;
  branch?: string;
  productionBranch?: string;
  /** path → Rhai source */
  scripts: Record<string, string>;
  routes?: TestRoute[];
  schedules?: { cron: string; script: string; function?: string }[];
  env?: Record<string, string>;
  limits?: Record<string, number>;
}

const ENGINE_VERSION = 'test';

/** Make a release live; returns its ids. Throws on a compile error. */
export async function pushRelease(pool: Pool, r: TestRelease): Promise<{ appId: number; releaseId: number; version: number }> {
  const branch = r.branch ?? 'main';
  const hashes: Record<string, string> = {};
  const asts: Record<string, string> = {};
  for (const [path, source] of Object.entries(r.scripts)) {
    const c = compile(source, { name: path });
    if (!c.ok) throw new Error(`${path}: ${c.diagnostics.map((d) => `${d.line}:${d.position} ${d.message}`).join('; ')}`);
    const hash = createHash('sha256').update(`${ENGINE_VERSION}\0${source}`).digest('hex');
    hashes[path] = hash;
    asts[hash] = programToJSON(c.program);
  }
  return withTransaction(pool, async (c) => {
    await c.query(
      `INSERT INTO apps (name, production_branch) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
      [r.app, r.productionBranch ?? 'main'],
    );
    const { rows: a } = await c.query<{ id: number }>('SELECT id FROM apps WHERE name = $1', [r.app]);
    const appId = a[0]!.id;
    for (const [hash, ast] of Object.entries(asts)) {
      await c.query(
        `INSERT INTO scripts (hash, engine_version, ast, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING`,
        [hash, ENGINE_VERSION, ast, ast.length],
      );
    }
    const { rows: v } = await c.query<{ v: number }>(
      'SELECT coalesce(max(version), 0) + 1 AS v FROM releases WHERE app_id = $1 AND branch = $2',
      [appId, branch],
    );
    const version = v[0]!.v;
    const config = { env: r.env ?? {}, limits: r.limits ?? {} };
    const { rows: rel } = await c.query<{ id: number }>(
      `INSERT INTO releases (app_id, branch, version, commit_sha, pusher, scripts, config, manifest, description)
       VALUES ($1, $2, $3, $4, 'test', $5, $6, $7, 'test release') RETURNING id`,
      [appId, branch, version, createHash('sha1').update(String(Math.random())).digest('hex'), hashes, config, { routes: r.routes ?? [], schedules: r.schedules ?? [] }],
    );
    const releaseId = rel[0]!.id;
    let idx = 0;
    for (const rt of r.routes ?? []) {
      const methods = rt.method === undefined ? ['GET'] : Array.isArray(rt.method) ? rt.method : [rt.method];
      await c.query(
        `INSERT INTO routes (release_id, idx, methods, path, script_path, script_hash, function) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [releaseId, idx++, methods.map((m) => m.toUpperCase()), rt.path, rt.script, hashes[rt.script], rt.function ?? null],
      );
    }
    idx = 0;
    for (const s of r.schedules ?? []) {
      await c.query(
        `INSERT INTO schedules (release_id, idx, cron, script_path, script_hash, function) VALUES ($1, $2, $3, $4, $5, $6)`,
        [releaseId, idx++, s.cron, s.script, hashes[s.script], s.function ?? null],
      );
    }
    await c.query(
      `INSERT INTO branch_pointers (app_id, branch, release_id) VALUES ($1, $2, $3)
       ON CONFLICT (app_id, branch) DO UPDATE SET release_id = EXCLUDED.release_id, updated_at = now()`,
      [appId, branch, releaseId],
    );
    await c.query(`SELECT pg_notify('picloud_releases', $1)`, [JSON.stringify({ app: r.app, branch, release: releaseId })]);
    return { appId, releaseId, version };
  });
}

/** Remove a preview branch (pointer deleted + NOTIFY with release null). */
export async function removeBranch(pool: Pool, app: string, branch: string): Promise<void> {
  await withTransaction(pool, async (c) => {
    await c.query('DELETE FROM branch_pointers p USING apps a WHERE a.id = p.app_id AND a.name = $1 AND p.branch = $2', [app, branch]);
    await c.query(`SELECT pg_notify('picloud_releases', $1)`, [JSON.stringify({ app, branch, release: null })]);
  });
}

/** Wait until `cond()` holds (polling every 10 ms), or fail after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
