/** Load helpers for fairness and transport tests: a route busy for a wall-clock time, timed requests, a median. */

/** Rhai source busy for `ms` of wall-clock time (a CPU loop: the thread is held the whole time). */
export const busyScript = (ms: number) => `let end = now() + ${ms}; let n = 0; while now() < end { let a = []; a.pad(2000, 0); n += 1; } n`;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function timed(url: string): Promise<{ status: number; ms: number; body: string; headers: Headers }> {
  const t0 = performance.now();
  const r = await fetch(url);
  const body = await r.text();
  return { status: r.status, ms: performance.now() - t0, body, headers: r.headers };
}

/** Start `n` requests to `hog`, then time `quick` `k` times in sequence: the latencies of the quick ones. */
export async function quickWhileBusy(hog: string, n: number, quick: string, k = 5, settleMs = 150): Promise<{ quick: number[]; hog: Promise<{ status: number }[]> }> {
  const busy = Promise.all(Array.from({ length: n }, () => timed(hog)));
  await new Promise((r) => setTimeout(r, settleMs));
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const r = await timed(quick);
    if (r.status !== 200) throw new Error(`${quick} answered ${r.status}: ${r.body}`);
    out.push(r.ms);
  }
  return { quick: out, hog: busy };
}
