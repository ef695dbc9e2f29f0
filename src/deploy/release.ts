/**
 * The release switch (architecture.md §3, §7): prepare (store the compiled scripts), preload (every node with
 * executors loads and compiles them, a bounded wait: preload.ts), then one transaction inserts the release and its
 * routes and schedules, moves the (app, branch) pointer and NOTIFYs 'picloud_releases'; a failure anywhere leaves
 * the live release as it was. Switches of one app serialise on a transaction-scoped advisory lock, so the API's rollback and a push never
 * interleave; different apps never wait for each other.
 *
 * release.config = { env: {K: V}, limits: { maxOperations?, timeoutMs?, maxBodyBytes?, … } (camelCase, only the
 * keys picloud.toml set; capped by PLATFORM_LIMITS at validation), queues: [{ name, scriptPath, scriptHash, fn,
 * attempts, backoffMs, concurrency }], previewSchedules }.
 */
import { AppError } from '../common/errors.ts';
import { ensureApp, getApp, lockAppForRelease, setProductionBranch, type App } from '../db/apps.ts';
import { withTransaction, type Pool, type PoolClient } from '../db/pool.ts';
import {
  getPointer,
  getReleaseByVersion,
  getRoutes,
  getSchedules,
  insertRelease,
  insertRoutes,
  insertSchedules,
  removePointer,
  switchPointer,
  type ReleaseRow,
} from '../db/releases.ts';
import { insertPendingRefUpdates } from '../db/pending-refs.ts';
import { insertScripts } from '../db/scripts.ts';
import type { BuildOutput } from './buildpacks/index.ts';
import type { Logger } from '../common/log.ts';
import { preloadOnNodes, type PreloadOutcome } from './preload.ts';

export interface DeployOp {
  kind: 'deploy';
  branch: string;
  commitSha: string;
  build: BuildOutput;
  releaseManifest: Record<string, unknown>;
  engineVersion: string;
}

export interface RemoveOp {
  kind: 'remove';
  branch: string;
}

export type ReleaseOp = DeployOp | RemoveOp;

export interface OpResult {
  branch: string;
  app: App;
  /** the release that was live before this push (null: none) */
  previousReleaseId: number | null;
  /** the new release, or null for a removed preview */
  release: ReleaseRow | null;
  removed?: boolean;
}

/**
 * Apply the ref updates of one push in ONE transaction (all switch or none), recording each switch in
 * `pending_ref_updates` until git has moved the ref. The first valid push creates the
 * app, with `[app] production_branch` of its picloud.toml (default main); a later push to branch P whose
 * picloud.toml names P as production_branch makes P the production branch.
 */
export async function applyReleaseOps(pool: Pool, appName: string, pusher: string, ops: ReleaseOp[], o: SwitchOptions = {}): Promise<OpResult[]> {
  // prepare → preload on the nodes → switch (preload.ts): the programs are stored first (content-addressed: nothing
  // live changes), so the nodes can load them before the switch makes them live
  const deploys = ops.filter((op): op is DeployOp => op.kind === 'deploy');
  for (const op of deploys) await insertScripts(pool, newScripts(op));
  if (deploys.length) {
    const pre = await preloadOnNodes(pool, deploys.flatMap((op) => op.build.scripts.map((s) => s.hash)), o);
    o.onPreload?.(pre);
  }
  return withTransaction(pool, async (c) => {
    await lockAppForRelease(c, appName);
    const results: OpResult[] = [];
    for (const op of ops) {
      if (op.kind === 'remove') {
        const app = await getApp(c, appName);
        if (!app) continue;
        const previousReleaseId = await getPointer(c, app.id, op.branch);
        const removed = await removePointer(c, app, op.branch);
        results.push({ branch: op.branch, app, previousReleaseId, release: null, removed });
        continue;
      }
      const m = op.build.manifest!;
      const app = await ensureApp(c, appName, m.productionBranch ?? 'main');
      if (m.productionBranch && m.productionBranch === op.branch && app.productionBranch !== op.branch) {
        await setProductionBranch(c, app.id, op.branch);
        app.productionBranch = op.branch;
      }
      const previousReleaseId = await getPointer(c, app.id, op.branch);
      results.push({ branch: op.branch, app, previousReleaseId, release: await deployInTx(c, app, op, pusher) });
    }
    // what git has yet to confirm, committed with the switch itself: a crash before git moves the refs leaves a
    // row that the next start reconciles (reconcile.ts); ref-guard.ts deletes it once git-receive-pack has ended
    await insertPendingRefUpdates(
      c,
      results.map((r) => ({ appId: r.app.id, branch: r.branch, commitSha: r.release?.commitSha ?? null, releaseId: r.release?.id ?? null, previousReleaseId: r.previousReleaseId })),
    );
    return results;
  });
}

/** Preload options of a switch (preload.ts): its log, and the longest wait for the nodes (default PRELOAD_WAIT_MS). */
export interface SwitchOptions {
  log?: Logger;
  timeoutMs?: number;
  /** told how the preload went (push output) */
  onPreload?(o: PreloadOutcome): void;
}

/** The compiled scripts of a deploy that the AST cache does not hold yet. */
const newScripts = (op: DeployOp) =>
  op.build.scripts.filter((s) => s.ast !== null).map((s) => ({ hash: s.hash, engineVersion: op.engineVersion, ast: s.ast!, bytes: s.bytes }));

async function deployInTx(c: PoolClient, app: App, op: DeployOp, pusher: string): Promise<ReleaseRow> {
  const { build } = op;
  const m = build.manifest!;
  // the scripts themselves were stored before the preload (applyReleaseOps)
  const hashOf = new Map(build.scripts.map((s) => [s.path, s.hash]));
  const release = await insertRelease(c, {
    appId: app.id,
    branch: op.branch,
    commitSha: op.commitSha,
    pusher,
    scripts: Object.fromEntries(hashOf),
    config: {
      env: m.env,
      limits: m.limits,
      fetch: m.fetch,
      ...(build.modules && Object.keys(build.modules).length ? { modules: build.modules } : {}),
      // [[queues]] and [preview] live in the release's config, so a rollback brings them back with the code
      ...(m.queues.length
        ? { queues: m.queues.map((q) => ({ name: q.name, scriptPath: q.script, scriptHash: hashOf.get(q.script)!, fn: q.function, attempts: q.attempts, backoffMs: q.backoffMs, concurrency: q.concurrency })) }
        : {}),
      ...(m.previewSchedules ? { previewSchedules: true } : {}),
    },
    manifest: op.releaseManifest,
    description: `Deploy ${op.commitSha.slice(0, 7)}`,
  });
  await insertRoutes(
    c,
    release.id,
    m.routes.map((r) => ({ methods: r.methods, path: r.path, scriptPath: r.script, scriptHash: hashOf.get(r.script)!, fn: r.function })),
  );
  await insertSchedules(
    c,
    release.id,
    m.schedules.map((s) => ({ cron: s.cron, scriptPath: s.script, scriptHash: hashOf.get(s.script)!, fn: s.function, overlap: s.overlap })),
  );
  await switchPointer(c, app, op.branch, release.id);
  return release;
}

/**
 * Put (app, branch) back on `releaseId` (null: no live release), if it still points at `expected`. Used when git
 * failed to update the ref after the hook had switched the release (stack-notes.md §1): the DB follows the ref.
 */
export async function restorePointer(pool: Pool, app: { id: number; name: string }, branch: string, expected: number | null, releaseId: number | null): Promise<boolean> {
  return withTransaction(pool, async (c) => {
    await lockAppForRelease(c, app.name);
    if ((await getPointer(c, app.id, branch)) !== expected) return false;
    if (releaseId === null) await removePointer(c, app, branch);
    else await switchPointer(c, app, branch, releaseId);
    return true;
  });
}

/**
 * Roll (app, branch) back to release vN: a new release vM copying vN's commit, scripts, config, routes and
 * schedules, switched live (used by the API and `picloud rollback`).
 */
export async function rollbackRelease(
  pool: Pool,
  args: { app: string; branch: string; version: number; pusher: string },
  o: SwitchOptions = {},
): Promise<ReleaseRow & { rolledBackTo: number }> {
  // preload the programs of vN before the switch (a missing app or release is reported by the transaction below)
  const app = await getApp(pool, args.app);
  const target = app ? await getReleaseByVersion(pool, app.id, args.branch, args.version) : null;
  if (target) {
    const pre = await preloadOnNodes(pool, Object.values(target.scripts), o);
    o.onPreload?.(pre);
  }
  return withTransaction(pool, async (c) => {
    await lockAppForRelease(c, args.app);
    const app = await getApp(c, args.app);
    if (!app) throw new AppError('APP_NOT_FOUND', `no app named "${args.app}"`, { app: args.app });
    const from = await getReleaseByVersion(c, app.id, args.branch, args.version);
    if (!from) {
      throw new AppError('RELEASE_NOT_FOUND', `no release v${args.version} of ${args.app} (${args.branch})`, { app: args.app, branch: args.branch, version: args.version });
    }
    const release = await insertRelease(c, {
      appId: app.id,
      branch: args.branch,
      commitSha: from.commitSha,
      pusher: args.pusher,
      scripts: from.scripts,
      config: from.config,
      manifest: from.manifest,
      description: `Rollback to v${from.version}`,
    });
    await insertRoutes(c, release.id, await getRoutes(c, from.id));
    await insertSchedules(c, release.id, await getSchedules(c, from.id));
    await switchPointer(c, app, args.branch, release.id);
    return { ...release, rolledBackTo: from.version };
  });
}
