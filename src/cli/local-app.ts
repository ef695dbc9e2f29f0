/**
 * An app built from a working tree the way a push builds it, for `picloud run /path`: the same validation and
 * compile (src/deploy/validate.ts), and the same route entry as the live route table (toBranchEntry: env, limits,
 * `[fetch]`, route order), from an in-memory "release" instead of PostgreSQL. Env is `[env]` overlaid with DIR/.env.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { loadEngine, scriptHash, type DeployEngine } from '../deploy/engine.ts';
import { modulePath, resolveModules } from '../deploy/buildpacks/modules.ts';
import { scanImports } from '../rhai/index.ts';
import { validateTree } from '../deploy/validate.ts';
import { workTreeSource } from '../deploy/worktree.ts';
import { toBranchEntry, type BranchEntry } from '../orchestrator/route-table.ts';

export interface LocalApp {
  entry: BranchEntry;
  /** program JSON by script hash */
  programs: Map<string, string>;
  /** script path → functions it defines */
  functions: Map<string, { name: string; params: string[] }[]>;
}

/** DIR/.env as KEY=VALUE pairs (Node's own dotenv parser), or {} when there is none. */
export function readDotEnv(dir: string): Record<string, string> {
  const f = path.join(dir, '.env');
  return existsSync(f) ? (parseEnv(readFileSync(f, 'utf8')) as Record<string, string>) : {};
}

export async function buildLocalApp(
  dir: string,
  opts: { app: string; branch?: string; progress?: (line: string) => void },
): Promise<{ ok: true; app: LocalApp } | { ok: false; problems: string[] }> {
  const engine = await loadEngine();
  const r = await validateTree(await workTreeSource(dir, { untracked: true }), { engine, cache: null, progress: opts.progress });
  if (!r.ok || !r.build?.manifest) return { ok: false, problems: r.problems };
  const m = r.build.manifest;
  const hashOf = new Map(r.build.scripts.map((s) => [s.path, s.hash]));
  const programs = new Map<string, string>();
  const functions = new Map<string, { name: string; params: string[] }[]>();
  for (const s of r.build.scripts) {
    if (s.ast === null) continue;
    programs.set(s.hash, s.ast);
    functions.set(s.path, engine.functionsOf(s.ast));
  }
  const branch = opts.branch ?? m.productionBranch ?? 'main';
  const entry = toBranchEntry({
    appId: 0,
    app: opts.app,
    productionBranch: m.productionBranch ?? 'main',
    branch,
    releaseId: 0,
    version: 0,
    config: {
      env: m.env, limits: m.limits as Record<string, unknown>, fetch: m.fetch as Record<string, unknown>, modules: r.build.modules ?? {},
      queues: m.queues.map((q) => ({ name: q.name, scriptPath: q.script, scriptHash: hashOf.get(q.script)!, fn: q.function, attempts: q.attempts, backoffMs: q.backoffMs, concurrency: q.concurrency })),
      previewSchedules: m.previewSchedules,
    },
    vars: readDotEnv(dir),
    routes: m.routes.map((rt, idx) => ({ idx, methods: rt.methods, path: rt.path, scriptPath: rt.script, scriptHash: hashOf.get(rt.script)!, fn: rt.function })),
    schedules: m.schedules.map((s, idx) => ({ idx, cron: s.cron, scriptPath: s.script, scriptHash: hashOf.get(s.script)!, fn: s.function, overlap: s.overlap })),
  });
  return { ok: true, app: { entry, programs, functions } };
}

/**
 * The modules a single script reaches (for `picloud run FILE.rhai`), read from `root` (the repository root) and
 * resolved exactly as a push resolves them (modules.ts): import path → hash, and each module's program JSON by hash.
 */
export function localModules(
  engine: DeployEngine,
  root: string,
  file: string,
  source: string,
): { ok: true; modules: Record<string, string> | undefined; programs: Map<string, string> } | { ok: false; problems: string[] } {
  const rel = path.relative(root, path.resolve(root, file)).split(path.sep).join('/');
  const sources = new Map<string, string>([[rel, source]]);
  const queue = [source];
  while (queue.length) {
    for (const imp of scanImports(queue.pop()!)) {
      const r = imp.path === null ? null : modulePath(imp.path);
      if (!r || 'problem' in r || sources.has(r.file)) continue;
      const abs = path.join(root, r.file);
      if (!existsSync(abs)) continue;
      const text = readFileSync(abs, 'utf8');
      sources.set(r.file, text);
      queue.push(text);
    }
  }
  const problems: string[] = [];
  const programs = new Map<string, string>();
  const hashOf = new Map<string, string>();
  for (const [p, text] of sources) {
    const c = engine.compile(p, text);
    if (!c.ok) {
      problems.push(...c.rendered);
      continue;
    }
    const h = scriptHash(engine.version, text);
    hashOf.set(p, h);
    programs.set(h, c.json);
  }
  const resolved = resolveModules({ sources: new Map([...sources].filter(([p]) => hashOf.has(p))), modes: new Map([...sources.keys()].map((p) => [p, '100644'])), hashOf });
  problems.push(...resolved.diagnostics.map((d) => d.rendered ?? `${d.path}:${d.line}:${d.col}: ${d.message}`));
  if (problems.length) return { ok: false, problems };
  return { ok: true, modules: resolved.modules[rel], programs };
}
