/**
 * Validation of a tree, shared by `git push` (pre-receive) and `picloud check DIR`: one code path.
 * Tree checks (sizes, symlinks, UTF-8) first, then the ordered buildpacks. Every problem is collected,
 * not just the first; the result carries the rendered diagnostics in push order.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { listTree, readBlobs } from '../git/tree.ts';
import { BUILDPACKS, type BuildOutput, type ScriptCache } from './buildpacks/index.ts';
import { byPosition, renderDiagnostic, type DeployDiagnostic } from './diagnostics.ts';
import type { DeployEngine } from './engine.ts';
import { MANIFEST_PATH } from './manifest.ts';
import { checkSymlink, checkTreeShape, decodeUtf8, type TreeFile } from './tree-checks.ts';

export interface TreeSource {
  files: TreeFile[];
  /** contents of these files (symlinks: their target) */
  read(files: TreeFile[]): Promise<Map<string, Buffer>>;
}

export interface ValidationResult {
  ok: boolean;
  /** each `path:line:col: message` (+ source line and caret) */
  problems: string[];
  build: BuildOutput | null;
  /** the buildpack's release manifest (routes, schedules as declared) */
  releaseManifest: Record<string, unknown>;
}

export interface ValidateOptions {
  engine: DeployEngine | null;
  cache?: ScriptCache | null;
  progress?(line: string): void;
}

/** Validate a tree and compile its scripts. */
export async function validateTree(src: TreeSource, opts: ValidateOptions): Promise<ValidationResult> {
  const progress = opts.progress ?? (() => {});
  const treeProblems: DeployDiagnostic[] = [];
  const shape = checkTreeShape(src.files);
  treeProblems.push(...shape.diagnostics);
  const contents = await src.read(shape.readable);
  const texts = new Map<string, string>();
  for (const f of shape.readable) {
    const buf = contents.get(f.path);
    if (!buf) continue;
    if (f.mode === '120000') {
      const d = checkSymlink(f, buf.toString('utf8'));
      if (d) treeProblems.push(d);
      continue;
    }
    const r = decodeUtf8(f.path, buf);
    if ('diagnostic' in r) treeProblems.push(r.diagnostic);
    else texts.set(f.path, r.text);
  }
  const modes = new Map(src.files.map((f) => [f.path, f.mode]));
  const problems = treeProblems.sort(byPosition).map((d) => renderDiagnostic(d));

  const input = { texts, modes, engine: opts.engine, cache: opts.cache ?? null, progress };
  const packs = BUILDPACKS.filter((b) => b.detect(input));
  if (packs.length === 0) {
    problems.push(`${MANIFEST_PATH}:1:1: ${MANIFEST_PATH} is required at the repository root (see docs/picloud-toml.md)`);
    return { ok: false, problems, build: null, releaseManifest: {} };
  }
  let build: BuildOutput | null = null;
  let releaseManifest: Record<string, unknown> = {};
  for (const pack of packs) {
    const out = await pack.compile(input);
    problems.push(...out.diagnostics.map((d) => renderDiagnostic(d)));
    if (!build) {
      build = out;
      releaseManifest = pack.release(out);
    }
  }
  return { ok: problems.length === 0 && build?.manifest != null, problems, build, releaseManifest };
}

/** The tree of a pushed commit, read with `git ls-tree` and one `git cat-file --batch` (quarantine-aware env). */
export async function gitTreeSource(rev: string, env: NodeJS.ProcessEnv): Promise<TreeSource> {
  const entries = (await listTree(rev, env)).filter((e) => e.type === 'blob' || e.type === 'commit');
  const oidOf = new Map(entries.map((e) => [e.path, e.oid]));
  return {
    files: entries.map((e) => ({ path: e.path, mode: e.mode, size: e.size })),
    async read(files) {
      const blobs = await readBlobs(files.map((f) => oidOf.get(f.path)!), env);
      return new Map(files.map((f) => [f.path, blobs.get(oidOf.get(f.path)!)!]));
    },
  };
}

/** A working tree on disk (for `picloud check`); `.git` and `node_modules` are skipped. */
export async function dirTreeSource(root: string): Promise<TreeSource> {
  const files: TreeFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      if (rel === '' && (name === '.git' || name === 'node_modules')) continue;
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(path.join(root, r));
      if (st.isSymbolicLink()) files.push({ path: r, mode: '120000', size: st.size });
      else if (st.isDirectory()) await walk(r);
      else if (st.isFile()) files.push({ path: r, mode: st.mode & 0o111 ? '100755' : '100644', size: st.size });
    }
  };
  await walk('');
  return {
    files,
    async read(list) {
      const out = new Map<string, Buffer>();
      for (const f of list) {
        const abs = path.join(root, f.path);
        out.set(f.path, f.mode === '120000' ? Buffer.from(await readlink(abs)) : await readFile(abs));
      }
      return out;
    },
  };
}
