/**
 * Start-up reconciliation of git and the releases (docs/architecture.md, "Guarantees"). A push commits its
 * release inside git's pre-receive hook, before git moves the ref, so a crash at the wrong instant can leave the
 * two apart. Before the git endpoint serves anything, for every repository under `reposDir`:
 *
 * 1. Leftover quarantines (`objects/tmp_objdir-incoming-*`, of pushes that died with the server) are emptied
 *    into the repository and removed.
 * 2. Every `pending_ref_updates` row (a push the server did not live to confirm) is settled. The database is the
 *    truth about what is live, and it is already served (orchestrators act on the release's NOTIFY), so when the
 *    push's release is still live the REF FOLLOWS THE RELEASE: git's ref is moved to the pushed commit (deleted,
 *    for a removed preview), as git would have done, and the push is complete. Its objects are in the repository
 *    (push.ts keeps them before the release commit); only if they are not is the release put back instead.
 * 3. Every live (app, branch) whose release's commit is not what git's ref names (state left by an older version,
 *    or a rollback whose ref move did not happen: `alignRef`) gets the same rule: the ref moves to the live commit when git has it, else the newest release of the ref's
 *    commit goes live again.
 * 4. A repository without any ref and without a live release (no valid push ever filled it) is removed.
 *
 * After this, `git ls-remote`, the live release and the served code agree, so a push of the same commit never
 * answers "Everything up-to-date" while other code is live, and a push of an older commit rolls back.
 * Runs before the server listens: no push of this process can interleave.
 */
import { readdir } from 'node:fs/promises';
import type { Logger } from '../common/log.ts';
import { deletePendingRefUpdate, listPendingRefUpdates } from '../db/pending-refs.ts';
import type { Pool } from '../db/pool.ts';
import { allLivePointers, getPointer, latestReleaseOfCommit } from '../db/releases.ts';
import { rescueQuarantines } from '../git/quarantine.ts';
import { hasRefs, isCompleteCommit, isValidAppName, readRef, removeRepo, repoExists, repoPath, updateRef } from '../git/repos.ts';
import { restorePointer } from './release.ts';

export interface ReconcileReport {
  quarantinesRemoved: number;
  refsMoved: number;
  releasesRestored: number;
  emptyReposRemoved: number;
}

const REASON = 'picloud: start-up reconciliation with the live release';

/** Move `refs/heads/<branch>` from `current` to `sha` (null: delete) when git has the commit. */
async function moveRef(repoDir: string, branch: string, sha: string | null, current: string | null, reason = REASON): Promise<boolean> {
  if (sha !== null && !(await isCompleteCommit(repoDir, sha))) return false;
  await updateRef(repoDir, `refs/heads/${branch}`, sha, current, reason);
  return true;
}

/**
 * After a rollback by the API or the dashboard (a new release of an older commit): git's ref follows, so that a
 * later push of the newer commit deploys it instead of answering "Everything up-to-date". Call holding the app's
 * push lock. False when the app has no repository or git lacks the commit (the ref is then left as it was).
 */
export async function alignRef(reposDir: string, app: string, branch: string, commitSha: string): Promise<boolean> {
  if (!(await repoExists(reposDir, app))) return false;
  const dir = repoPath(reposDir, app);
  const ref = await readRef(dir, `refs/heads/${branch}`);
  return ref === commitSha || moveRef(dir, branch, commitSha, ref, 'picloud: rollback');
}

export async function reconcileRepos(opts: { pool: Pool; reposDir: string; log: Logger }): Promise<ReconcileReport> {
  const { pool, reposDir, log } = opts;
  const report: ReconcileReport = { quarantinesRemoved: 0, refsMoved: 0, releasesRestored: 0, emptyReposRemoved: 0 };
  const apps = (await readdir(reposDir).catch(() => [] as string[])).filter((n) => n.endsWith('.git') && isValidAppName(n.slice(0, -4))).map((n) => n.slice(0, -4));

  for (const app of apps) {
    const removed = await rescueQuarantines(repoPath(reposDir, app));
    if (removed.length) log.warn({ app, removed }, 'removed the quarantine of a push that died with the server (its objects kept)');
    report.quarantinesRemoved += removed.length;
  }

  for (const p of await listPendingRefUpdates(pool)) {
    const dir = repoPath(reposDir, p.app);
    const ref = await readRef(dir, `refs/heads/${p.branch}`);
    if (ref !== p.commitSha && (await getPointer(pool, p.appId, p.branch)) === p.releaseId) {
      if ((await repoExists(reposDir, p.app)) && (await moveRef(dir, p.branch, p.commitSha, ref))) {
        report.refsMoved++;
        log.warn({ app: p.app, branch: p.branch, from: ref, to: p.commitSha }, 'the server died before git moved the ref of a live release: moved it');
      } else if (await restorePointer(pool, { id: p.appId, name: p.app }, p.branch, p.releaseId, p.previousReleaseId)) {
        report.releasesRestored++;
        log.error({ app: p.app, branch: p.branch, ref, pushed: p.commitSha }, "the pushed commit is not in git: the previous release is live again");
      }
    }
    await deletePendingRefUpdate(pool, p.appId, p.branch);
  }

  for (const live of await allLivePointers(pool)) {
    if (!(await repoExists(reposDir, live.app))) continue;
    const dir = repoPath(reposDir, live.app);
    const ref = await readRef(dir, `refs/heads/${live.branch}`);
    if (ref === live.commitSha) continue;
    if (await moveRef(dir, live.branch, live.commitSha, ref)) {
      report.refsMoved++;
      log.warn({ app: live.app, branch: live.branch, from: ref, to: live.commitSha }, "git's ref did not name the live release's commit: moved it");
      continue;
    }
    const back = ref ? await latestReleaseOfCommit(pool, live.appId, live.branch, ref) : null;
    if (back !== null && (await restorePointer(pool, { id: live.appId, name: live.app }, live.branch, live.releaseId, back))) {
      report.releasesRestored++;
      log.error({ app: live.app, branch: live.branch, ref, missing: live.commitSha }, "the live release's commit is not in git: the release of the ref is live again");
    } else {
      log.error({ app: live.app, branch: live.branch, ref, missing: live.commitSha }, "the live release's commit is not in git and no release ran the ref's commit: left as is");
    }
  }

  const live = new Set((await allLivePointers(pool)).map((l) => l.app));
  for (const app of apps) {
    const dir = repoPath(reposDir, app);
    if (live.has(app) || !(await repoExists(reposDir, app)) || (await hasRefs(dir))) continue;
    await removeRepo(dir);
    report.emptyReposRemoved++;
    log.info({ app }, 'removed a repository no valid push ever filled');
  }
  return report;
}
