/**
 * Releases for invocation tests without a git push, through the real deploy code: the release is written out as a
 * tree (a generated picloud.toml plus the scripts), validated and compiled by validateTree (the push's buildpacks,
 * AST cache included), and switched live by applyReleaseOps (the push's one transaction + NOTIFY). Only git is
 * left out. A tree that a push would reject throws with the push's diagnostics.
 */
import { createHash } from 'node:crypto';
import type { Pool } from '../../src/db/pool.ts';
import { loadEngine } from '../../src/deploy/engine.ts';
import { createScriptCache } from '../../src/deploy/push.ts';
import { applyReleaseOps } from '../../src/deploy/release.ts';
import type { TreeFile } from '../../src/deploy/tree-checks.ts';
import { validateTree, type TreeSource } from '../../src/deploy/validate.ts';

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
  schedules?: { cron: string; script: string; function?: string; overlap?: boolean }[];
  queues?: { name: string; script: string; function?: string; attempts?: number; backoffMs?: number; concurrency?: number }[];
  /** `[preview] schedules` */
  previewSchedules?: boolean;
  env?: Record<string, string>;
  /** `[limits]` keys as in picloud.toml (snake_case) */
  limits?: Record<string, number>;
  /** extra picloud.toml text appended as is (e.g. a `[fetch]` table) */
  toml?: string;
}

const q = (s: string): string => JSON.stringify(s);

/** The picloud.toml a developer would write for this release. */
export function manifestOf(r: TestRelease): string {
  const out: string[] = [];
  if (r.productionBranch) out.push('[app]', `production_branch = ${q(r.productionBranch)}`, '');
  if (r.env && Object.keys(r.env).length) out.push('[env]', ...Object.entries(r.env).map(([k, v]) => `${k} = ${q(v)}`), '');
  if (r.limits && Object.keys(r.limits).length) out.push('[limits]', ...Object.entries(r.limits).map(([k, v]) => `${k} = ${v}`), '');
  for (const rt of r.routes ?? []) {
    out.push('[[routes]]', `path = ${q(rt.path)}`);
    if (rt.method !== undefined) out.push(`method = ${Array.isArray(rt.method) ? `[${rt.method.map(q).join(', ')}]` : q(rt.method)}`);
    out.push(`script = ${q(rt.script)}`);
    if (rt.function) out.push(`function = ${q(rt.function)}`);
    out.push('');
  }
  for (const s of r.schedules ?? []) {
    out.push('[[schedules]]', `cron = ${q(s.cron)}`, `script = ${q(s.script)}`);
    if (s.function) out.push(`function = ${q(s.function)}`);
    if (s.overlap !== undefined) out.push(`overlap = ${s.overlap}`);
    out.push('');
  }
  for (const x of r.queues ?? []) {
    out.push('[[queues]]', `name = ${q(x.name)}`, `script = ${q(x.script)}`);
    if (x.function) out.push(`function = ${q(x.function)}`);
    if (x.attempts !== undefined) out.push(`attempts = ${x.attempts}`);
    if (x.backoffMs !== undefined) out.push(`backoff_ms = ${x.backoffMs}`);
    if (x.concurrency !== undefined) out.push(`concurrency = ${x.concurrency}`);
    out.push('');
  }
  if (r.previewSchedules !== undefined) out.push('[preview]', `schedules = ${r.previewSchedules}`, '');
  if (r.toml) out.push(r.toml);
  return out.join('\n');
}

/** An in-memory tree, as validateTree reads a pushed commit. */
export function memoryTree(files: Record<string, string>): TreeSource {
  const list: TreeFile[] = Object.entries(files).map(([path, text]) => ({ path, mode: '100644', size: Buffer.byteLength(text) }));
  return {
    files: list,
    async read(wanted) {
      return new Map(wanted.map((f) => [f.path, Buffer.from(files[f.path]!)]));
    },
  };
}

let seq = 0;

/** Make a release live through validation and the release switch; returns its ids. Throws what a push would print. */
export async function pushRelease(pool: Pool, r: TestRelease): Promise<{ appId: number; releaseId: number; version: number }> {
  const engine = await loadEngine();
  const result = await validateTree(memoryTree({ 'picloud.toml': manifestOf(r), ...r.scripts }), { engine, cache: createScriptCache(pool, engine) });
  if (!result.ok) throw new Error(`the test release of ${r.app} would be rejected:\n${result.problems.join('\n')}`);
  const branch = r.branch ?? r.productionBranch ?? 'main';
  const commitSha = createHash('sha1').update(`${r.app}\0${branch}\0${++seq}\0${process.pid}\0${Date.now()}`).digest('hex');
  const [res] = await applyReleaseOps(pool, r.app, 'test', [
    { kind: 'deploy', branch, commitSha, build: result.build!, releaseManifest: result.releaseManifest, engineVersion: engine.version },
  ]);
  return { appId: res!.app.id, releaseId: res!.release!.id, version: res!.release!.version };
}

/** Remove a preview branch through the release switch (pointer deleted + NOTIFY with release null). */
export async function removeBranch(pool: Pool, app: string, branch: string): Promise<void> {
  await applyReleaseOps(pool, app, 'test', [{ kind: 'remove', branch }]);
}

/** Wait until `cond()` holds (polling every 10 ms), or fail after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
