/**
 * Test data for the control plane written straight into the schema of migrations/0001 (apps, scripts, releases,
 * routes, schedules, branch_pointers, invocations) — for tests that need releases without a git push.
 * The release switch mirrors the contract: one transaction, pointer upsert, NOTIFY 'picloud_releases'.
 */
import { createHash, randomBytes } from 'node:crypto';
import { withTransaction, type Pool } from '../../src/db/pool.ts';
import { insertToken, newToken } from '../../src/db/tokens.ts';

export interface FixtureRoute {
  path: string;
  methods?: string[];
  script?: string;
  function?: string | null;
}

export interface FixtureRelease {
  app: string;
  branch?: string;
  commit?: string;
  pusher?: string;
  description?: string;
  routes?: FixtureRoute[];
  schedules?: { cron: string; script?: string; function?: string | null }[];
  env?: Record<string, string>;
}

/** A new admin (or read) token inserted into the DB. */
export async function fixtureToken(pool: Pool, name = 'test', role = 'admin'): Promise<string> {
  const t = newToken();
  await insertToken(pool, name, t, role);
  return t;
}

/** Insert a release (creating the app and a script row as needed) and make it live. Returns ids. */
export async function fixtureRelease(pool: Pool, f: FixtureRelease): Promise<{ appId: number; releaseId: number; version: number }> {
  const branch = f.branch ?? 'main';
  return withTransaction(pool, async (c) => {
    await c.query('INSERT INTO apps (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [f.app]);
    const { rows: a } = await c.query<{ id: number }>('SELECT id FROM apps WHERE name = $1', [f.app]);
    const appId = a[0]!.id;
    const source = `// ${f.app} ${randomBytes(4).toString('hex')}\n"hello"`;
    const hash = createHash('sha256').update(source).digest('hex');
    await c.query(
      `INSERT INTO scripts (hash, engine_version, ast, bytes) VALUES ($1, 'test', '{}', $2) ON CONFLICT DO NOTHING`,
      [hash, source.length],
    );
    const { rows: v } = await c.query<{ v: number }>(
      'SELECT coalesce(max(version), 0) + 1 AS v FROM releases WHERE app_id = $1 AND branch = $2',
      [appId, branch],
    );
    const version = v[0]!.v;
    const commit = f.commit ?? randomBytes(20).toString('hex');
    const routes = f.routes ?? [{ path: '/hello' }];
    const schedules = f.schedules ?? [];
    const scripts: Record<string, string> = {};
    for (const r of [...routes, ...schedules]) scripts[r.script ?? 'main.rhai'] = hash;
    const { rows: rel } = await c.query<{ id: number }>(
      `INSERT INTO releases (app_id, branch, version, commit_sha, pusher, scripts, config, manifest, description)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [
        appId,
        branch,
        version,
        commit,
        f.pusher ?? 'tester',
        JSON.stringify(scripts),
        JSON.stringify({ env: f.env ?? {}, limits: {} }),
        JSON.stringify({ routes, schedules }),
        f.description ?? `Deploy ${commit.slice(0, 7)}`,
      ],
    );
    const releaseId = rel[0]!.id;
    for (const [idx, r] of routes.entries()) {
      await c.query(
        `INSERT INTO routes (release_id, idx, methods, path, script_path, script_hash, function) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
        [releaseId, idx, r.methods ?? ['GET'], r.path, r.script ?? 'main.rhai', hash, r.function ?? null],
      );
    }
    for (const [idx, s] of schedules.entries()) {
      await c.query(
        `INSERT INTO schedules (release_id, idx, cron, script_path, script_hash, function) VALUES ($1,$2,$3,$4,$5,$6)`,
        [releaseId, idx, s.cron, s.script ?? 'main.rhai', hash, s.function ?? null],
      );
    }
    await c.query(
      `INSERT INTO branch_pointers (app_id, branch, release_id) VALUES ($1, $2, $3)
       ON CONFLICT (app_id, branch) DO UPDATE SET release_id = EXCLUDED.release_id, updated_at = now()`,
      [appId, branch, releaseId],
    );
    await c.query(`SELECT pg_notify('picloud_releases', $1)`, [JSON.stringify({ app: f.app, branch, release: releaseId })]);
    return { appId, releaseId, version };
  });
}

/** Record an invocation row as the invocation plane would. */
export async function fixtureInvocation(
  pool: Pool,
  f: { appId: number; branch?: string; releaseId?: number | null; status?: number; path?: string; durationMs?: number; logs?: { level: string; msg: string }[]; error?: string | null },
): Promise<number> {
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO invocations (app_id, branch, release_id, trigger, route, method, path, status, duration_ms, operations, logs, error)
     VALUES ($1, $2, $3, 'http', $4, 'GET', $4, $5, $6, 42, $7, $8) RETURNING id`,
    [
      f.appId,
      f.branch ?? 'main',
      f.releaseId ?? null,
      f.path ?? '/hello',
      f.status ?? 200,
      f.durationMs ?? 1.5,
      JSON.stringify(f.logs ?? []),
      f.error ?? null,
    ],
  );
  return rows[0]!.id;
}

/**
 * The rollback the API uses: platform-deploy's rollbackRelease when src/deploy/release.ts provides it, else a
 * copy of vN made here with the same contract (new release, same commit/scripts/config/routes/schedules, live).
 */
export async function rollbackForTests(): Promise<{
  fn: (pool: Pool, a: { app: string; branch: string; version: number; pusher: string }) => Promise<unknown>;
  real: boolean;
}> {
  try {
    const spec = '../../src/deploy/release.ts';
    const mod = (await import(spec)) as { rollbackRelease?: (pool: Pool, a: unknown) => Promise<unknown> };
    if (typeof mod.rollbackRelease === 'function') return { fn: mod.rollbackRelease, real: true };
  } catch {
    /* not there yet */
  }
  return { fn: fixtureRollback, real: false };
}

async function fixtureRollback(pool: Pool, a: { app: string; branch: string; version: number; pusher: string }): Promise<{ id: number }> {
  return withTransaction(pool, async (c) => {
    const { rows } = await c.query<{ id: number; app_id: number }>(
      `SELECT r.id, r.app_id FROM releases r JOIN apps ap ON ap.id = r.app_id WHERE ap.name = $1 AND r.branch = $2 AND r.version = $3`,
      [a.app, a.branch, a.version],
    );
    const src = rows[0];
    if (!src) throw new Error(`no release v${a.version}`);
    const { rows: nr } = await c.query<{ id: number }>(
      `INSERT INTO releases (app_id, branch, version, commit_sha, pusher, scripts, config, manifest, description)
       SELECT app_id, branch, (SELECT max(version) + 1 FROM releases WHERE app_id = $1 AND branch = $2), commit_sha, $4,
              scripts, config, manifest, 'Rollback to v' || version FROM releases WHERE id = $3 RETURNING id`,
      [src.app_id, a.branch, src.id, a.pusher],
    );
    const id = nr[0]!.id;
    await c.query(`INSERT INTO routes SELECT $1, idx, methods, path, script_path, script_hash, function FROM routes WHERE release_id = $2`, [id, src.id]);
    await c.query(`INSERT INTO schedules SELECT $1, idx, cron, script_path, script_hash, function FROM schedules WHERE release_id = $2`, [id, src.id]);
    await c.query(
      `INSERT INTO branch_pointers (app_id, branch, release_id) VALUES ($1, $2, $3)
       ON CONFLICT (app_id, branch) DO UPDATE SET release_id = EXCLUDED.release_id, updated_at = now()`,
      [src.app_id, a.branch, id],
    );
    await c.query(`SELECT pg_notify('picloud_releases', $1)`, [JSON.stringify({ app: a.app, branch: a.branch, release: id })]);
    return { id };
  });
}
