/**
 * Keeping the live release and the git ref in agreement. The pre-receive step switches releases before git
 * updates the refs; git can still fail that update afterwards (a lock file, a full disk, the client hanging up
 * mid-push: stack-notes.md §1). The hook step records what it switched; when the `git-receive-pack` request ends
 * (the git bridge holds the app's push lock until then), `verify` reads the refs and puts any branch whose ref
 * did not move back on the release that was live before. An API rollback is never undone: only the branches
 * switched by this push are checked, and only while they still point at the pushed release.
 */
import type { Logger } from '../common/log.ts';
import type { Pool } from '../db/pool.ts';
import { readRef } from '../git/repos.ts';
import { restorePointer } from './release.ts';

export interface SwitchRecord {
  app: { id: number; name: string };
  branch: string;
  /** the pushed commit, or null for a deleted branch */
  commitSha: string | null;
  /** the release the push made live, or null for a removed preview */
  releaseId: number | null;
  previousReleaseId: number | null;
}

export class RefGuard {
  #pending = new Map<string, SwitchRecord[]>();
  #inFlight = new Map<string, Set<Promise<unknown>>>();

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {}

  record(app: string, switches: SwitchRecord[]): void {
    this.#pending.set(app, [...(this.#pending.get(app) ?? []), ...switches]);
  }

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
    const list = this.#pending.get(app);
    if (!list) return 0;
    this.#pending.delete(app);
    let restored = 0;
    for (const s of list) {
      const sha = await readRef(repoDir, `refs/heads/${s.branch}`);
      if (sha === s.commitSha) continue;
      if (await restorePointer(this.pool, s.app, s.branch, s.releaseId, s.previousReleaseId)) {
        restored++;
        this.log.warn(
          { app, branch: s.branch, ref: sha, pushed: s.commitSha, restoredRelease: s.previousReleaseId },
          'git did not update the ref after the release switch; the previous release is live again',
        );
      }
    }
    return restored;
  }
}
