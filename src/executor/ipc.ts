/**
 * Messages between the executor pool (parent thread) and its worker threads; typed unions keyed on `type`.
 * Host calls (kv, queue::send, ast) are synchronous for the thread: it posts a HostRequest, blocks on Atomics.wait on a
 * SharedArrayBuffer flag, and the parent answers on a dedicated MessagePort (read with receiveMessageOnPort)
 * then flips the flag. Only the waiting thread blocks; the parent and the other threads keep running.
 */
import type { MessagePort } from 'node:worker_threads';
import type { KvOp } from './run.ts';

export type HostRequest =
  | { op: 'kv'; seq: number; kv: KvOp; appId: number; branch: string; key: string; json?: string }
  | { op: 'ast'; seq: number; hash: string }
  | { op: 'queue'; seq: number; appId: number; branch: string; queue: string; json: string; delayMs: number; attempts: number; backoffMs: number };

export type HostReply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string };

/**
 * parent → thread: a batch of jobs as ONE string of '\n'-joined lines (JSON text never contains a raw newline or
 * tab), run in order; each line is `<target JSON>\t<the job's other fields as JSON>` (pool.ts jobLine), so the
 * thread decodes a route's target once and reuses it. A plain string is copied, not structured-cloned: measured
 * cheaper than objects.
 */
export type ToThread = string;

/**
 * thread → parent, a batch of results: one string of '\n'-joined lines, each JSON {"id", "result"}, or, when the
 * pool records invocations, "L<appId>\t<COPY line>" (the invocation-log row in COPY text format, which holds no
 * raw newline; serialised here rather than on the parent thread that also serves HTTP).
 */
export type DoneBatch = string;

/**
 * thread → parent. 'suspended' / 'resumed': the invocation `id` waits on I/O (holds no running share of its app,
 * pool.ts fair share) / runs again.
 */
export type FromThread = { type: 'ready' } | { type: 'host'; req: HostRequest } | { type: 'suspended' | 'resumed'; id: string } | DoneBatch;

export interface ThreadData {
  /** the TS entry, for the tsx fallback boot file only */
  entry?: string;
  flag: SharedArrayBuffer;
  /** build invocation-log rows in the thread (sent as "L<appId>\t<COPY line>" lines after each result) */
  record: boolean;
  replyPort: MessagePort;
}
