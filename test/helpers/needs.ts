/**
 * A test that needs a tool from the machine (Caddy, Chromium, redis-server, …) skips with a note on a developer's
 * box that lacks it, but FAILS under CI (CI=true), where .ci/run installs every one of them: an assertion never
 * disappears silently where it counts.
 */
export function missing(what: string, present: boolean, hint: string): boolean {
  if (present) return false;
  const msg = `${what} is not available: ${hint}`;
  if (process.env.CI) throw new Error(`${msg} (CI installs it in .ci/run; the test may not be skipped there)`);
  console.warn(`${msg}; skipping`);
  return true;
}
