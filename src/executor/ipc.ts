/**
 * Messages between the executor pool (parent thread) and its worker threads; typed unions keyed on `type`.
 * Host calls (kv, ast) are synchronous for the thread: it posts a HostRequest, blocks on Atomics.wait on a
 * SharedArrayBuffer flag, and the parent answers on a dedicated MessagePort (read with receiveMessageOnPort)
 * then flips the flag. Only the waiting thread blocks; the parent and the other threads keep running.
 */
import type { MessagePort } from 'node:worker_threads';
import type { InvocationJob, InvocationResult } from '../queue/jobs.ts';
import type { KvOp } from './run.ts';

export type HostRequest =
  | { op: 'kv'; seq: number; kv: KvOp; appId: number; branch: string; key: string; json?: string }
  | { op: 'ast'; seq: number; hash: string };

export type HostReply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string };

/** parent → thread */
export type ToThread = { type: 'run'; job: InvocationJob };

/** thread → parent */
export type FromThread =
  | { type: 'ready' }
  | { type: 'host'; req: HostRequest }
  | { type: 'done'; id: string; result: InvocationResult };

export interface ThreadData {
  entry: string;
  flag: SharedArrayBuffer;
  replyPort: MessagePort;
}
