/**
 * One app's part of a bound every app shares (an orchestrator's pending invocations, an executor thread's fetch
 * slots): at most three quarters of it, at least 1, so one app's flood always leaves the rest to the others.
 */
export function appPartOf(total: number): number {
  return Math.max(1, total - Math.floor(total / 4));
}
