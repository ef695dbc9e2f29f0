/**
 * The pre-receive step of a push (architecture.md §3), run inside the server for the hook shim:
 * for every ref update, validate the pushed tree and compile its scripts, then switch all releases of the push in
 * one transaction — all before git accepts the push. Output lines go to `out` (the pusher sees them as `remote:`).
 *
 * Ref updates: `refs/heads/B` → a release of B (production or preview); deleting `refs/heads/B` removes the
 * preview (the production branch cannot be deleted); other refs (tags) are accepted and ignored.
 * A ref that moved since the client read it is refused here, so the DB never points at a commit git rejects
 * (the git bridge holds the app's push lock until git-receive-pack ends, so the check cannot go stale).
 */
import type { FaultStep } from '../common/fault.ts';
import type { Logger } from '../common/log.ts';
import { getApp } from '../db/apps.ts';
import type { Pool } from '../db/pool.ts';
import { liveBranchNames } from '../db/releases.ts';
import { existingScriptHashes, getScriptAsts } from '../db/scripts.ts';
import { keepQuarantinedObjects } from '../git/quarantine.ts';
import { readRef } from '../git/repos.ts';
import type { ScriptCache } from './buildpacks/index.ts';
import type { DeployEngine } from './engine.ts';
import type { PreloadOutcome } from './preload.ts';
import { applyReleaseOps, type ReleaseOp } from './release.ts';
import { gitTreeSource, validateTree } from './validate.ts';
import { branchSlug } from '../common/names.ts';

export const ZERO_SHA = '0000000000000000000000000000000000000000';

export interface RefUpdate {
  oldSha: string;
  newSha: string;
  ref: string;
}

export interface PreReceiveInput {
  app: string;
  pusher: string;
  /** bare repo path (absolute) */
  repoDir: string;
  updates: RefUpdate[];
  /** env for git processes reading the pushed objects: GIT_DIR + the quarantine variables */
  gitEnv: NodeJS.ProcessEnv;
}

export interface PreReceiveDeps {
  pool: Pool;
  log: Logger;
  engine: DeployEngine | null;
  cache: ScriptCache | null;
  /** resolves once this process serves the release (the in-process route table); bounded wait */
  waitForRelease?(app: string, branch: string, releaseId: number | null): Promise<boolean>;
  /** true once the hook that asked has gone away (git died or the pusher hung up): nothing must switch then */
  aborted?(): boolean;
  /** test-only fault injection (PICLOUD_FAULT): SIGKILLs the process at the named step */
  fault?(step: FaultStep): void;
  /** public URLs of a deployed branch */
  urls(app: string, branch: string, production: boolean): { host: string; path: string };
}

/** Parse the hook's stdin: one `<old> <new> <ref>` per line. */
export function parseRefUpdates(stdin: string): RefUpdate[] {
  return stdin
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [oldSha, newSha, ref] = l.split(' ');
      return { oldSha: oldSha!, newSha: newSha!, ref: ref! };
    });
}


/** Why a preview branch cannot get a host name of its own, or null. */
function previewHostProblem(app: string, branch: string, liveBranches: string[]): string | null {
  const slug = branchSlug(branch);
  if (!/[a-z0-9]/.test(slug)) return `branch name "${branch}" has no letters or digits to build a URL from`;
  if (slug.startsWith('-') || slug.endsWith('-')) {
    // "<slug>--<app>" must split unambiguously at its "--"
    return `branch name "${branch}" starts or ends with a separator, so its preview host "${slug}--${app}" would be ambiguous; rename it`;
  }
  const clash = liveBranches.find((b) => b !== branch && branchSlug(b) === slug);
  if (clash) return `branch "${branch}" would share the preview URL "${slug}--${app}" with the live branch "${clash}"; rename it`;
  return null;
}

/** Run validation + release switch. Resolves true when the push may be accepted. */
export async function runPreReceive(deps: PreReceiveDeps, input: PreReceiveInput, out: (line: string) => void): Promise<boolean> {
  const t0 = performance.now();
  const problems: string[] = [];
  /** problems found but not in `problems` (a tree's list is capped and closes with one "and N more" line) */
  let hidden = 0;
  const ops: ReleaseOp[] = [];
  const app = await getApp(deps.pool, input.app);
  const productionBranch = app?.productionBranch ?? 'main';
  const live = app ? await liveBranchNames(deps.pool, app.id) : [];
  const branchUpdates = input.updates.filter((u) => u.ref.startsWith('refs/heads/'));
  for (const u of input.updates) if (!u.ref.startsWith('refs/heads/')) out(`-----> Ignoring ${u.ref} (only branches are deployed)`);

  for (const u of branchUpdates) {
    const branch = u.ref.slice('refs/heads/'.length);
    const header = branchUpdates.length > 1 ? `-----> ${branch}: ` : '';
    const current = (await readRef(input.repoDir, u.ref)) ?? ZERO_SHA;
    if (current !== u.oldSha) {
      problems.push(`${u.ref}: the branch moved to ${current.slice(0, 7)} while this push was in flight; fetch and push again`);
      continue;
    }
    if (u.newSha === ZERO_SHA) {
      if (branch === productionBranch) problems.push(`${u.ref}: the production branch "${branch}" cannot be deleted`);
      else {
        out(`${header || '-----> '}Removing the preview of ${branch}`);
        ops.push({ kind: 'remove', branch });
      }
      continue;
    }
    const hostProblem = branch === productionBranch ? null : previewHostProblem(input.app, branch, live);
    if (hostProblem) {
      problems.push(`${u.ref}: ${hostProblem}`);
      continue;
    }
    if (header) out(`${header}${u.newSha.slice(0, 7)}`);
    const tRead = performance.now();
    const tree = await gitTreeSource(u.newSha, input.gitEnv);
    const result = await validateTree(tree, { engine: deps.engine, cache: deps.cache, progress: out });
    deps.log.debug({ app: input.app, branch, readAndValidateMs: Math.round(performance.now() - tRead) }, 'tree validated');
    if (!result.ok) {
      problems.push(...result.problems);
      // capped: problems = 100 shown + the "and N more" line, problemCount = 100 + N
      if (result.problemCount > result.problems.length) hidden += result.problemCount - result.problems.length;
      continue;
    }
    ops.push({ kind: 'deploy', branch, commitSha: u.newSha, build: result.build!, releaseManifest: result.releaseManifest, engineVersion: deps.engine?.version ?? 'none' });
  }

  deps.fault?.('after-validation');
  if (problems.length) {
    const count = problems.length + hidden;
    out(` !     Push rejected: ${count} problem${count === 1 ? '' : 's'}`);
    for (const p of problems) for (const line of p.split('\n')) out(line);
    out(' !     The live release is unchanged.');
    deps.log.info({ app: input.app, problems: count }, 'push rejected');
    return false;
  }
  if (ops.length === 0) return true;
  if (deps.aborted?.()) {
    deps.log.warn({ app: input.app }, 'the hook went away before the release switch; nothing switched');
    return false;
  }

  // every live release's commit must survive a crash before git moves the ref (git drops the quarantine when
  // its hook fails): its objects go into the repository now; unreferenced objects are harmless (reconcile.ts)
  await keepQuarantinedObjects(input.repoDir, input.gitEnv.GIT_QUARANTINE_PATH);
  deps.fault?.('before-release-commit');
  const tSwitch = performance.now();
  let preload: PreloadOutcome | null = null;
  const results = await applyReleaseOps(deps.pool, input.app, input.pusher, ops, { log: deps.log, onPreload: (o) => (preload = o) });
  const tCommit = performance.now();
  deps.fault?.('after-release-commit');
  // the push returns only after the release is live (architecture.md §3): wait for the local route table
  if (deps.waitForRelease) {
    const live = await Promise.all(results.map((r) => deps.waitForRelease!(input.app, r.branch, r.release?.id ?? null)));
    if (live.includes(false)) deps.log.warn({ app: input.app }, 'route table did not confirm the release in time');
  }
  const tEnd = performance.now();
  deps.log.debug({ app: input.app, prepareMs: Math.round(tSwitch - t0), switchMs: Math.round(tCommit - tSwitch), routeTableMs: Math.round(tEnd - tCommit) }, 'push timings');
  const pre = preload as PreloadOutcome | null;
  const preMs = pre?.nodes ? pre.ms : 0;
  const preText = pre?.nodes ? `preload ${Math.round(pre.ms)} ms on ${pre.ready === pre.nodes ? '' : `${pre.ready} of `}${pre.nodes} node${pre.nodes === 1 ? '' : 's'}, ` : '';
  out(`-----> Live in ${Math.round(tEnd - t0)} ms (${preText}release switch ${Math.round(tCommit - tSwitch - preMs)} ms)`);
  for (const r of results) {
    if (!r.release) {
      out(`-----> Removed the preview of ${r.branch}${r.removed ? '' : ' (it was not live)'}`);
      continue;
    }
    const isProd = r.branch === r.app.productionBranch;
    const urls = deps.urls(input.app, r.branch, isProd);
    out(`-----> Released v${r.release.version} (${r.release.commitSha.slice(0, 7)}) ${urls.host}`);
    out(`       ${urls.path}`);
  }
  deps.log.info(
    { app: input.app, releases: results.map((r) => ({ branch: r.branch, version: r.release?.version ?? null })), ms: Math.round(tEnd - t0) },
    'push released',
  );
  return true;
}

/** The AST cache as the buildpack sees it: which hashes are stored, with their function lists. */
export function createScriptCache(pool: Pool, engine: DeployEngine): ScriptCache {
  const functions = new Map<string, { name: string; params: string[] }[]>();
  const remember = (h: string, f: { name: string; params: string[] }[]) => {
    if (functions.size > 10_000) functions.clear();
    functions.set(h, f);
  };
  return {
    remember,
    async lookup(hashes) {
      const out = new Map<string, { name: string; params: string[] }[]>();
      if (hashes.length === 0) return out;
      // the DB is the truth (a reset database must not be answered from memory); ASTs are parsed once per hash
      const known = await existingScriptHashes(pool, hashes);
      const missing = [...known].filter((h) => !functions.has(h));
      if (missing.length) {
        for (const [h, ast] of await getScriptAsts(pool, missing)) remember(h, engine.functionsOf(ast));
      }
      for (const h of known) {
        const f = functions.get(h);
        if (f) out.set(h, f);
      }
      return out;
    },
  };
}
