/**
 * Validation of a tree, shared by `git push` (pre-receive) and `picloud check DIR`: one code path.
 * Tree checks (sizes, symlinks, UTF-8) first, then the ordered buildpacks. Every problem is collected,
 * not just the first (at most MAX_SHOWN_DIAGNOSTICS are shown, then "and N more"); the result carries the
 * rendered diagnostics in push order.
 *
 * `validateTree` of a git or directory tree never runs on the calling thread: it runs in a validation worker
 * (validate-offthread.ts) with its own time and memory budget, so a pathological push cannot stall the server's
 * requests. The worker runs `validateTreeHere` on the same tree, which is what this module does for a tree it
 * holds in memory (tests).
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { PUSH_LIMITS } from '../common/config.ts';
import { readBlobs, streamTree } from '../git/tree.ts';
import { BUILDPACKS, type BuildOutput, type ScriptCache } from './buildpacks/index.ts';
import { byPosition, capProblems, DiagnosticList, renderDiagnostic, type DeployDiagnostic } from './diagnostics.ts';
import type { DeployEngine } from './engine.ts';
import { MANIFEST_PATH } from './manifest.ts';
import { checkSymlink, checkTreeShape, decodeUtf8, TreeTally, type TreeFile, type TreeLimits } from './tree-checks.ts';
import { validateOffThread, type ValidationBudget } from './validate-offthread.ts';

/**
 * How the validation worker reads the contents of a tree the caller has already listed (the listing itself,
 * `files` and `over`, travels with it: the worker never lists a tree again).
 */
export type TreeOrigin = { kind: 'git'; env: Record<string, string>; oids: [string, string][] } | { kind: 'fs'; root: string };

export interface TreeSource {
  /** the files of the tree; when `over` is set, only those listed before the listing stopped */
  files: TreeFile[];
  /** set when the listing stopped early because the tree is over the file-count or total-size limit */
  over?: DeployDiagnostic | null;
  /** contents of these files (symlinks: their target) */
  read(files: TreeFile[]): Promise<Map<string, Buffer>>;
  /** set for trees in git or on disk: validateTree reads and validates the tree in the validation worker */
  origin?: TreeOrigin;
}

export interface ValidationResult {
  ok: boolean;
  /** each `path:line:col: message` (+ source line and caret); capped, the last line then says "and N more" */
  problems: string[];
  /** how many problems were found (the shown ones and the hidden ones) */
  problemCount: number;
  build: BuildOutput | null;
  /** the buildpack's release manifest (routes, schedules as declared) */
  releaseManifest: Record<string, unknown>;
}

export interface ValidateOptions {
  engine: DeployEngine | null;
  cache?: ScriptCache | null;
  progress?(line: string): void;
  /** time and memory of the validation worker (defaults: VALIDATION_BUDGET) */
  budget?: Partial<ValidationBudget>;
}

/** Validate a tree and compile its scripts: in the validation worker, for a tree on disk or in git. */
export async function validateTree(src: TreeSource, opts: ValidateOptions): Promise<ValidationResult> {
  if (src.origin) return validateOffThread({ files: src.files, over: src.over ?? null, origin: src.origin }, opts);
  return validateTreeHere(src, opts);
}

/** A rejection with one problem at the tree's root. */
export function rejected(message: string): ValidationResult {
  return { ok: false, problems: [`.:1:1: ${message}`], problemCount: 1, build: null, releaseManifest: {} };
}

/** Validate a tree on this thread (the validation worker's body; trees held in memory). */
export async function validateTreeHere(src: TreeSource, opts: ValidateOptions): Promise<ValidationResult> {
  const progress = opts.progress ?? (() => {});
  const over = src.over ?? firstOver(src.files);
  if (over) return rejected(over.message);
  const treeProblems = new DiagnosticList();
  const shape = checkTreeShape(src.files);
  for (const d of shape.diagnostics) treeProblems.push(d);
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
  const problems = treeProblems.items.sort(byPosition).map((d) => renderDiagnostic(d));
  let more = treeProblems.more;

  const input = { texts, modes, engine: opts.engine, cache: opts.cache ?? null, progress };
  const packs = BUILDPACKS.filter((b) => b.detect(input));
  if (packs.length === 0) {
    problems.push(`${MANIFEST_PATH}:1:1: ${MANIFEST_PATH} is required at the repository root (see docs/picloud-toml.md)`);
    return { ok: false, problems: capProblems(problems, more), problemCount: problems.length + more, build: null, releaseManifest: {} };
  }
  let build: BuildOutput | null = null;
  let releaseManifest: Record<string, unknown> = {};
  for (const pack of packs) {
    const out = await pack.compile(input);
    problems.push(...out.diagnostics.map((d) => renderDiagnostic(d)));
    more += out.more ?? 0;
    if (!build) {
      build = out;
      releaseManifest = pack.release(out);
    }
  }
  const problemCount = problems.length + more;
  return { ok: problemCount === 0 && build?.manifest != null, problems: capProblems(problems, more), problemCount, build, releaseManifest };
}

/** The first file that takes a tree over the count or total-size limit, as a diagnostic, or null. */
function firstOver(files: TreeFile[], limits: TreeLimits = PUSH_LIMITS): DeployDiagnostic | null {
  const tally = new TreeTally(limits);
  for (const f of files) {
    const over = tally.add(f);
    if (over) return over;
  }
  return null;
}

/**
 * The tree of a pushed commit: a streamed `git ls-tree` that stops at the first file over the count or total-size
 * limit (nothing past it is listed, nothing is read), and one `git cat-file --batch` for the contents
 * (quarantine-aware env).
 */
export async function gitTreeSource(rev: string, env: NodeJS.ProcessEnv): Promise<TreeSource> {
  const plainEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) plainEnv[k] = v;
  const tally = new TreeTally(PUSH_LIMITS);
  const files: TreeFile[] = [];
  const oidOf = new Map<string, string>();
  let over: DeployDiagnostic | null = null;
  await streamTree(rev, plainEnv, (e) => {
    if (e.type !== 'blob' && e.type !== 'commit') return true;
    const f = { path: e.path, mode: e.mode, size: e.size };
    over = tally.add(f);
    if (over) return false;
    oidOf.set(e.path, e.oid);
    files.push(f);
    return true;
  });
  return { files, over, ...gitReader(plainEnv, oidOf) };
}

/** Reading listed files of a git tree through one `git cat-file --batch`. */
export function gitReader(env: Record<string, string>, oidOf: Map<string, string>): Pick<TreeSource, 'read' | 'origin'> {
  return {
    origin: { kind: 'git', env, oids: [...oidOf] },
    async read(list) {
      const blobs = await readBlobs(list.map((f) => oidOf.get(f.path)!), env);
      return new Map(list.map((f) => [f.path, blobs.get(oidOf.get(f.path)!)!]));
    },
  };
}

/** A directory on disk, `.git`, `node_modules` and `.picloud` skipped; the walk stops at the first file over a limit. */
export async function dirTreeSource(root: string): Promise<TreeSource> {
  const tally = new TreeTally(PUSH_LIMITS);
  const files: TreeFile[] = [];
  let over: DeployDiagnostic | null = null;
  const add = (f: TreeFile): boolean => {
    over = tally.add(f);
    if (!over) files.push(f);
    return !over;
  };
  const walk = async (rel: string): Promise<boolean> => {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      if (rel === '' && (name === '.git' || name === 'node_modules' || name === '.picloud')) continue;
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(path.join(root, r));
      if (st.isSymbolicLink()) {
        if (!add({ path: r, mode: '120000', size: st.size })) return false;
      } else if (st.isDirectory()) {
        if (!(await walk(r))) return false;
      } else if (st.isFile() && !add({ path: r, mode: st.mode & 0o111 ? '100755' : '100644', size: st.size })) return false;
    }
    return true;
  };
  await walk('');
  return { origin: { kind: 'fs', root }, files, over, read: (list) => readFiles(root, list) };
}

/** Contents of files under `root` (symlinks: their target). */
export async function readFiles(root: string, list: TreeFile[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const f of list) {
    const abs = path.join(root, f.path);
    out.set(f.path, f.mode === '120000' ? Buffer.from(await readlink(abs)) : await readFile(abs));
  }
  return out;
}
