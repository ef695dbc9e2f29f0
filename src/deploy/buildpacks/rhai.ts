/**
 * The Rhai buildpack. detect: `picloud.toml` at the root. compile: validate picloud.toml, check every script it
 * names (inside the repo, a regular `.rhai` file, present), compile every `.rhai` file of the tree (the AST cache
 * answers for sources already seen), and check that every `function` named exists and takes one parameter
 * (`fn handle(ctx)`), resolve every `import` within the tree (modules.ts: missing modules and cycles are
 * problems at the import), and check that every `queue::send` with a literal name names a declared `[[queues]]`
 * entry. release: the routes, schedules and queues as declared, with script hashes.
 */
import path from 'node:path/posix';
import { byPosition, DiagnosticList, renderDiagnostic } from '../diagnostics.ts';
import { scriptHash } from '../engine.ts';
import { MANIFEST_PATH, parseManifest, type Pos } from '../manifest.ts';
import { resolveModules } from './modules.ts';
import { queueSendCalls } from '../queue-sends.ts';
import type { BuildInput, BuildOutput, Buildpack, BuiltScript } from './types.ts';

/** Normalise a script path from picloud.toml, or say why it is not acceptable. */
export function checkScriptPath(p: string): { path: string } | { problem: string } {
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return { problem: `script path "${p}" must be relative to the repository root` };
  if (p.includes('\\')) return { problem: `script path "${p}" must use "/" as separator` };
  if (p.split('/').includes('..')) return { problem: `script path "${p}" escapes the repository ("..")` };
  const norm = path.normalize(p);
  if (!norm.endsWith('.rhai')) return { problem: `script "${p}" must be a .rhai file` };
  return { path: norm };
}

export const rhaiBuildpack: Buildpack = {
  name: 'rhai',

  detect(input) {
    return input.modes.has(MANIFEST_PATH);
  },

  async compile(input: BuildInput): Promise<BuildOutput> {
    // capped: past MAX_SHOWN_DIAGNOSTICS problems are only counted (and not rendered)
    const diagnostics = new DiagnosticList();
    const tomlSource = input.texts.get(MANIFEST_PATH);
    input.progress('-----> Validating picloud.toml');
    const parsed = tomlSource === undefined ? { manifest: null, diagnostics: [], more: 0 } : parseManifest(tomlSource);
    for (const d of parsed.diagnostics) diagnostics.push({ ...d, rendered: renderDiagnostic(d, tomlSource) });
    diagnostics.skip(parsed.more);
    const tomlError = (at: Pos, message: string) => {
      if (diagnostics.full) return diagnostics.skip(1);
      const d = { path: MANIFEST_PATH, line: at.line, col: at.col, message };
      diagnostics.push({ ...d, rendered: renderDiagnostic(d, tomlSource) });
    };

    // compile every .rhai file of the tree (symlinks excluded: they are rejected where referenced)
    const t0 = performance.now();
    const sources = [...input.texts].filter(([p]) => p.endsWith('.rhai') && input.modes.get(p) !== '120000');
    const engine = input.engine;
    const scripts: BuiltScript[] = [];
    const functions = new Map<string, { name: string; params: string[] }[]>();
    /** program JSON of the freshly compiled scripts that mention queue:: (for the literal queue::send check) */
    const queueUsers = new Map<string, string>();
    let cachedCount = 0;
    if (sources.length && !engine) {
      diagnostics.push({ path: '.', line: 1, col: 1, message: 'the Rhai engine is not available on this server; scripts cannot be compiled' });
    } else if (engine) {
      const hashes = sources.map(([, src]) => scriptHash(engine.version, src));
      const cached = input.cache ? await input.cache.lookup(hashes) : new Map<string, { name: string; params: string[] }[]>();
      sources.forEach(([p, src], k) => {
        const hash = hashes[k]!;
        const bytes = Buffer.byteLength(src);
        const hit = cached.get(hash);
        if (hit) {
          cachedCount++;
          functions.set(p, hit);
          scripts.push({ path: p, hash, bytes, ast: null });
          return;
        }
        const r = engine.compile(p, src);
        if (!r.ok) {
          r.rendered.forEach((rendered, i) => diagnostics.push({ path: p, line: r.first[i]!.line, col: r.first[i]!.col, message: r.first[i]!.message, rendered }));
          return;
        }
        functions.set(p, r.functions);
        if (src.includes('queue')) queueUsers.set(p, r.json);
        input.cache?.remember?.(hash, r.functions);
        scripts.push({ path: p, hash, bytes, ast: r.json });
      });
    }
    // every import of a compiled script names a module of this tree, without cycles
    const compiled = new Map(sources.filter(([p]) => functions.has(p)));
    const resolved = resolveModules({ sources: compiled, modes: input.modes, hashOf: new Map(scripts.map((x) => [x.path, x.hash])) });
    for (const d of resolved.diagnostics) diagnostics.push(d);
    const ms = Math.round(performance.now() - t0);
    input.progress(`-----> Compiled ${sources.length} script${sources.length === 1 ? '' : 's'} (${cachedCount} cached) in ${ms} ms`);

    // every script named by a route or schedule
    const manifest = parsed.manifest;
    const checkRef = (script: string, fn: string | null, at: { script: Pos; function: Pos }): string | null => {
      const r = checkScriptPath(script);
      if ('problem' in r) {
        tomlError(at.script, r.problem);
        return null;
      }
      const mode = input.modes.get(r.path);
      if (mode === undefined) {
        tomlError(at.script, `script "${script}" not found in the pushed tree`);
        return null;
      }
      if (mode === '120000') {
        tomlError(at.script, `script "${script}" is a symlink; scripts must be regular files inside the repository`);
        return null;
      }
      if (fn !== null) {
        const fns = functions.get(r.path);
        if (fns) {
          const found = fns.filter((f) => f.name === fn);
          if (found.length === 0) tomlError(at.function, `function "${fn}" is not defined in ${r.path} (expected fn ${fn}(ctx))`);
          else if (!found.some((f) => f.params.length === 1)) {
            tomlError(at.function, `function "${fn}" in ${r.path} takes ${found[0]!.params.length} parameter(s); a handler takes exactly one: fn ${fn}(ctx)`);
          }
        }
      }
      return r.path;
    };
    if (manifest) {
      for (const route of manifest.routes) {
        const p = checkRef(route.script, route.function, route.at);
        if (p) route.script = p;
      }
      for (const s of manifest.schedules) {
        const p = checkRef(s.script, s.function, s.at);
        if (p) s.script = p;
      }
      for (const q of manifest.queues) {
        const p = checkRef(q.script, q.function, q.at);
        if (p) q.script = p;
      }
      // queue::send("name", …) with a literal name: the name must be declared (cached scripts are compiled again
      // for this only when their source mentions `queue`, which few do)
      const declared = new Set(manifest.queues.map((q) => q.name));
      for (const [p, src] of sources) {
        if (!src.includes('queue') || !engine) continue;
        let json = queueUsers.get(p);
        if (json === undefined) {
          const r = engine.compile(p, src);
          if (!r.ok) continue;
          json = r.json;
        }
        for (const call of queueSendCalls(json)) {
          if (declared.has(call.name)) continue;
          const known = declared.size ? ` (declared: ${[...declared].join(', ')})` : ' (picloud.toml declares no [[queues]])';
          const d = { path: p, line: call.line, col: call.col, message: `queue::send to "${call.name}", which no [[queues]] entry declares${known}` };
          diagnostics.push({ ...d, rendered: renderDiagnostic(d, src) });
        }
      }
    }
    const kept = diagnostics.items.sort(byPosition);
    const stats = { compiled: sources.length - cachedCount, cached: cachedCount, ms };
    return { diagnostics: kept, more: diagnostics.more, manifest: diagnostics.total ? null : manifest, scripts, modules: resolved.modules, stats };
  },

  release(out) {
    const m = out.manifest;
    if (!m) return {};
    const hashOf = new Map(out.scripts.map((s) => [s.path, s.hash]));
    return {
      production_branch: m.productionBranch,
      routes: m.routes.map((r) => ({ path: r.path, methods: r.methods, script: r.script, script_hash: hashOf.get(r.script), function: r.function })),
      schedules: m.schedules.map((s) => ({ cron: s.cron, script: s.script, script_hash: hashOf.get(s.script), function: s.function, overlap: s.overlap })),
      queues: m.queues.map((q) => ({
        name: q.name, script: q.script, script_hash: hashOf.get(q.script), function: q.function, attempts: q.attempts, backoff_ms: q.backoffMs, concurrency: q.concurrency,
      })),
      preview: { schedules: m.previewSchedules },
    };
  },
};
