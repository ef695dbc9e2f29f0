/**
 * Messages between the executor pool (parent thread) and its worker threads; typed unions keyed on `type`.
 * Host calls (kv, ast) are synchronous for the thread: it posts a HostRequest, blocks on Atomics.wait on a
 * SharedArrayBuffer flag, and the parent answers on a dedicated MessagePort (read with receiveMessageOnPort)
 * then flips the flag. Only the waiting thread blocks; the parent and the other threads keep running.
 */
import type { MessagePort } from 'node:worker_threads';
import type { KvOp } from './run.ts';

export type HostRequest =
  | { op: 'kv'; seq: number; kv: KvOp; appId: number; branch: string; key: string; json?: string }
  | { op: 'ast'; seq: number; hash: string };

export type HostReply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string };

/**
 * parent → thread. Jobs and results cross as JSON strings: a string is copied, not structured-cloned, which
 * measured ~30 % cheaper per round trip for these small nested objects.
 */
export type ToThread = { type: 'run'; jobs: string[] /* JSON InvocationJob each, run in order */ };

/** thread → parent */
export type FromThread =
  | { type: 'ready' }
  | { type: 'host'; req: HostRequest }
  | { type: 'done'; results: { id: string; result: string /* JSON InvocationResult */ }[] };

export interface ThreadData {
  /** the TS entry, for the tsx fallback boot file only */
  entry?: string;
  flag: SharedArrayBuffer;
  replyPort: MessagePort;
}
