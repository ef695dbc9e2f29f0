/**
 * The invocation log's rate allowance: per app, a token bucket of `rate` rows a second (bursts of twice that) for
 * successes and another for failures, so a flood of successes never hides an error. One rule used in two places:
 * - the process's InvocationLog (invocations.ts), whose allowance decides what is written and counts the rest;
 * - each executor thread, before it builds a row (thread.ts): rows past the rate were built, sent to the parent
 *   thread and dropped there. With the same rate the threads' buckets never drop a row the process's would have
 *   written: one thread over the rate alone sends the process its whole allowance. Measured in bench:http
 *   embedded (~30k req/s, three interleaved pairs): building and sending the ~97 % of rows that were dropped
 *   cost 3–4 µs of the ~40 µs a request costs across the process's threads.
 * Pure (no imports): the threads load it without the PostgreSQL client.
 */

/** Rows written per app and second and process, for successes and for failures each (bursts of twice that). */
export const LOG_ROWS_PER_SECOND = 1000;

interface Bucket {
  ok: number;
  failed: number;
  /** when it was last topped up (unix ms) */
  at: number;
}

export class LogAllowance {
  private readonly buckets = new Map<number, Bucket>();

  constructor(private readonly rate: number = LOG_ROWS_PER_SECOND) {}

  /** Whether app `appId`'s allowance takes one more row (buckets refilled by the time since its last row). */
  take(appId: number, failed: boolean, now: number = Date.now()): boolean {
    const rate = this.rate;
    let b = this.buckets.get(appId);
    if (!b) {
      if (this.buckets.size >= 10_000) this.buckets.clear();
      this.buckets.set(appId, (b = { ok: 2 * rate, failed: 2 * rate, at: now }));
    } else if (now > b.at) {
      const add = ((now - b.at) * rate) / 1000;
      b.ok = Math.min(2 * rate, b.ok + add);
      b.failed = Math.min(2 * rate, b.failed + add);
      b.at = now;
    }
    if (failed ? b.failed < 1 : b.ok < 1) return false;
    if (failed) b.failed--;
    else b.ok--;
    return true;
  }
}
