/**
 * Keeping the live release and the git ref in agreement while the server runs. The pre-receive step switches
 * releases before git updates the refs, and records each switch in `pending_ref_updates` in the same transaction;
 * git can still fail the ref update afterwards (a lock file, a full disk, the client hanging up mid-push:
 * stack-notes.md §1). When the `git-receive-pack` request ends (the git bridge holds the app's push lock until
 * then), `verify` reads the refs: a branch whose ref holds the pushed commit is confirmed; one whose ref did not
 * move is put back on the release that was live before (git told the pusher the push failed). Either way the
 * record goes. An API rollback is never undone: only a branch still pointing at the pushed release is restored.
 * Records the server did not live to check are the start-up reconciliation's (reconcile.ts).
 */
import type { Logger } from '../common/log.ts';
import { deletePendingRefUpdate, listPendingRefUpdates } from '../db/pending-refs.ts';
import type { Pool } from '../db/pool.ts';
import { readRef } from '../git/repos.ts';
import { restorePointer } from './release.ts';

export class RefGuard {
  #inFlight = new Map<string, Set<Promise<unknown>>>();

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {}

  /** Note a running pre-receive step of `app`: verify waits for it (git may end before its hook's request does). */
  track<T>(app: string, p: Promise<T>): Promise<T> {
    let set = this.#inFlight.get(app);
    if (!set) this.#inFlight.set(app, (set = new Set()));
    set.add(p);
    const done = () => {
      set.delete(p);
      if (set.size === 0 && this.#inFlight.get(app) === set) this.#inFlight.delete(app);
    };
    p.then(done, done);
    return p;
  }

  /** After git-receive-pack ended: restore every switched branch whose ref does not hold the pushed commit. */
  async verify(app: string, repoDir: string): Promise<number> {
    const running = this.#inFlight.get(app);
    if (running) await Promise.allSettled(running);
    let restored = 0;
    for (const s of await listPendingRefUpdates(this.pool, app)) {
      const sha = await readRef(repoDir, `refs/heads/${s.branch}`);
      if (sha !== s.commitSha && (await restorePointer(this.pool, { id: s.appId, name: s.app }, s.branch, s.releaseId, s.previousReleaseId))) {
        restored++;
        this.log.warn(
          { app, branch: s.branch, ref: sha, pushed: s.commitSha, restoredRelease: s.previousReleaseId },
          'git did not update the ref after the release switch; the previous release is live again',
        );
      }
      await deletePendingRefUpdate(this.pool, s.appId, s.branch);
    }
    return restored;
  }
}
