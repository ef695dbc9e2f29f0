/** Load helpers for fairness and transport tests: a route busy for a wall-clock time, timed requests, a median, wrk. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Rhai source busy for `ms` of wall-clock time (a CPU loop: the thread is held the whole time). */
export const busyScript = (ms: number) => `let end = now() + ${ms}; let n = 0; while now() < end { let a = []; a.pad(2000, 0); n += 1; } n`;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function timed(url: string): Promise<{ status: number; ms: number; body: string; headers: Headers }> {
  const t0 = performance.now();
  const r = await fetch(url);
  const body = await r.text();
  return { status: r.status, ms: performance.now() - t0, body, headers: r.headers };
}

/** After `settleMs`, `url` timed `k` times in sequence: the latencies (each must answer 200). */
export async function timedInSequence(url: string, k = 5, settleMs = 0): Promise<number[]> {
  await new Promise((r) => setTimeout(r, settleMs));
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const r = await timed(url);
    if (r.status !== 200) throw new Error(`${url} answered ${r.status}: ${r.body}`);
    out.push(r.ms);
  }
  return out;
}

/** Start `n` requests to `hog`, then time `quick` `k` times in sequence: the latencies of the quick ones. */
export async function quickWhileBusy(hog: string, n: number, quick: string, k = 5, settleMs = 150): Promise<{ quick: number[]; hog: Promise<{ status: number }[]> }> {
  const busy = Promise.all(Array.from({ length: n }, () => timed(hog)));
  return { quick: await timedInSequence(quick, k, settleMs), hog: busy };
}

/**
 * wrk keeping `connections` requests to `url` outstanding for `seconds` (a closed loop: each answer sends the next
 * request). Resolves with its report; rejects when it reported no rate or any request failed or timed out (10 s).
 */
export async function wrkFlood(url: string, connections: number, seconds: number): Promise<string> {
  const { stdout } = await execFileP('wrk', ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', url]);
  if (!/Requests\/sec/.test(stdout) || /Non-2xx|Socket errors/.test(stdout)) throw new Error(`wrk against ${url}:\n${stdout}`);
  return stdout;
}

/**
 * wrk floods of `floods` (each keeping `connections` requests outstanding for 3 s) and, 500 ms in, `quick` timed
 * five times in sequence: its latencies, once the floods ended without a failed request.
 */
export async function timedDuringWrk(floods: string[], connections: number, quick: string): Promise<number[]> {
  const running = Promise.all(floods.map((url) => wrkFlood(url, connections, 3)));
  const times = await timedInSequence(quick, 5, 500);
  await running;
  return times;
}
