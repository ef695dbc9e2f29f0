/**
 * Script modules at push time (architecture.md §6): `import "lib/util" as util;` names `lib/util.rhai` of the same
 * tree (from the repository root, `.rhai` implied). Every import of every script is resolved here, within the
 * pushed tree: a path that is not a string literal, that leaves the repository, or names no regular file, and an
 * import cycle, are problems at the import's `path:line:col`. The result maps each script to the modules it reaches
 * (transitively), import path → content hash: the release stores it, the invocation target carries it, and the
 * executor loads each module's compiled program by hash (so a changed module is a new hash: never a stale one).
 * A pure function of the tree (texts, modes, hashes): `picloud check`, `picloud run` and the push share it.
 */
import path from 'node:path/posix';
import { scanImports, type ImportRef } from '../../rhai/index.ts';
import { renderDiagnostic, type DeployDiagnostic } from '../diagnostics.ts';

/** script path → (import path as written → module content hash), for scripts that import anything */
export type ModuleMap = Record<string, Record<string, string>>;

export interface ModuleInput {
  /** compiled scripts: path → source (only scripts that compiled: the others already have their diagnostics) */
  sources: Map<string, string>;
  /** path → git mode of every file of the tree */
  modes: Map<string, string>;
  /** path → content hash of every compiled script */
  hashOf: Map<string, string>;
}

/** The file an import path names, or why it cannot name one. */
export function modulePath(importPath: string): { file: string } | { problem: string } {
  if (importPath === '') return { problem: 'import path is empty' };
  if (importPath.startsWith('/') || /^[A-Za-z]:/.test(importPath)) return { problem: `import path "${importPath}" must be relative to the repository root` };
  if (importPath.includes('\\')) return { problem: `import path "${importPath}" must use "/" as separator` };
  if (importPath.split('/').includes('..')) return { problem: `import path "${importPath}" escapes the repository ("..")` };
  return { file: path.normalize(`${importPath}.rhai`) };
}

export function resolveModules(input: ModuleInput): { diagnostics: DeployDiagnostic[]; modules: ModuleMap } {
  const diagnostics: DeployDiagnostic[] = [];
  const problem = (file: string, at: ImportRef, message: string): void => {
    const d = { path: file, line: at.line, col: at.position, message };
    diagnostics.push({ ...d, rendered: renderDiagnostic(d, input.sources.get(file)) });
  };
  /** file → its resolved imports (import path as written, target file, where) */
  const edges = new Map<string, { spec: string; file: string; at: ImportRef }[]>();
  for (const [file, src] of [...input.sources].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const list: { spec: string; file: string; at: ImportRef }[] = [];
    for (const imp of scanImports(src)) {
      if (imp.path === null) {
        problem(file, imp, 'import path must be a string literal: modules are resolved when the app is pushed');
        continue;
      }
      const r = modulePath(imp.path);
      if ('problem' in r) {
        problem(file, imp, r.problem);
        continue;
      }
      const mode = input.modes.get(r.file);
      if (mode === undefined) {
        const hint = imp.path.endsWith('.rhai') ? ` (the .rhai extension is implied: import "${imp.path.slice(0, -5)}")` : '';
        problem(file, imp, `module "${imp.path}" not found: ${r.file} is not in the pushed tree${hint}`);
        continue;
      }
      if (mode === '120000') {
        problem(file, imp, `module "${imp.path}": ${r.file} is a symlink; modules must be regular files inside the repository`);
        continue;
      }
      // a module that does not compile has its own diagnostic; nothing to resolve through it
      if (!input.hashOf.has(r.file)) continue;
      list.push({ spec: imp.path, file: r.file, at: imp });
    }
    edges.set(file, list);
  }
  findCycles(edges, (file, at, cycle) => problem(file, at, `import cycle: ${cycle.join(' → ')}`));

  const modules: ModuleMap = {};
  for (const file of edges.keys()) {
    const reach: Record<string, string> = {};
    const seen = new Set<string>([file]);
    const stack = [file];
    while (stack.length) {
      for (const e of edges.get(stack.pop()!) ?? []) {
        reach[e.spec] = input.hashOf.get(e.file)!;
        if (!seen.has(e.file)) {
          seen.add(e.file);
          stack.push(e.file);
        }
      }
    }
    if (Object.keys(reach).length) modules[file] = reach;
  }
  return { diagnostics, modules };
}

/** Report every import that closes a cycle (depth-first search; each back edge once). */
function findCycles(
  edges: Map<string, { spec: string; file: string; at: ImportRef }[]>,
  report: (file: string, at: ImportRef, cycle: string[]) => void,
): void {
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  const pathStack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 1);
    pathStack.push(file);
    for (const e of edges.get(file) ?? []) {
      const s = state.get(e.file);
      if (s === 1) report(file, e.at, [...pathStack.slice(pathStack.indexOf(e.file)), e.file]);
      else if (s === undefined) visit(e.file);
    }
    pathStack.pop();
    state.set(file, 2);
  };
  for (const file of edges.keys()) if (!state.has(file)) visit(file);
}
