/**
 * Per-key async mutex. The git bridge holds an app's lock for the whole `git-receive-pack` request, so two
 * pushes to one app run their pre-receive hook *and* their ref update one after the other (stack-notes.md §1:
 * the ref update can still fail after a hook succeeds when two pushes race for the ref lock), while pushes to
 * different apps never wait for each other.
 */
export class KeyedMutex {
  #tails = new Map<string, Promise<void>>();

  /** Wait for the key, then hold it until the returned release function is called. */
  async acquire(key: string): Promise<() => void> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}
