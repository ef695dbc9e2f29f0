/**
 * Messages between the executor pool (parent thread) and its worker threads. Host calls (kv, queue::send, ast) are
 * asynchronous for the thread: it sends a HostRequest as an 'H' line and goes on running other invocations; the
 * parent answers with HostReply[] messages, which resume the waiting invocation. No thread ever blocks.
 */
import type { KvOp } from '../db/kv-store.ts';

/** programs a thread keeps compiled (run.ts ProgramCache; a starting pool preloads at most as many, pool.ts) */
export const PROGRAM_CACHE_SIZE = 256;

export type HostRequest =
  | { op: 'kv'; seq: number; kv: KvOp; appId: number; branch: string; key: string; json?: string }
  | { op: 'ast'; seq: number; hash: string }
  | { op: 'queue'; seq: number; appId: number; branch: string; queue: string; json: string; delayMs: number; attempts: number; backoffMs: number };

export type HostReply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string };

/**
 * parent → thread: a batch of jobs as ONE string of '\n'-joined lines (JSON text never contains a raw newline or
 * tab), started in order; each line is `<ref>\t<target JSON>\t<the job's other fields as JSON>` (pool.ts jobLine),
 * so the thread decodes a route's target once and finds it again by its ref; a leading `~` marks a job the pool
 * already counts as suspended (its script waited last time), whose `S` line may wait for the thread's next message.
 * A plain string is copied, not structured-cloned: measured cheaper than objects. Host replies go as HostReply[] (objects). A string starting with `P` is a preload request
 * instead: `P<id>` then one `<hash>\t<program JSON>` line per program (compiled ahead of a release switch).
 */
export type ToThread = string;

/**
 * thread → parent: one string of '\n'-joined lines per turn, each one of
 * - `{"id","result"}`: an invocation finished (results come in completion order, not posting order);
 * - `L<appId>\t<COPY line>`: its invocation-log row in COPY text format (built here, not on the parent thread that
 *   also serves HTTP), when the pool records invocations; `F` instead of `L` for a failed one (5xx or an error:
 *   the log's rate allowance counts failures apart, log-allowance.ts);
 * - `U<appId>\t<n>`: n rows of the app's invocations not built since the last message, over the log's allowance
 *   (the thread applies it before building a row);
 * - `H<HostRequest JSON>`: a host call;
 * - `S<jobId>` / `R<jobId>`: the invocation is waiting on I/O (it holds no running share) / runs again; a result
 *   line implies R;
 * - `P<id>`: preload request `id` is compiled;
 * - `W<JSON {msg, err}>`: storage trouble of the thread's own kv (thread-kv.ts), for the parent's log.
 */
export type DoneBatch = string;

/** thread → parent */
export type FromThread = { type: 'ready' } | DoneBatch;

export interface ThreadData {
  /** the TS entry, for the tsx fallback boot file only */
  entry?: string;
  /** build invocation-log rows in the thread (sent as "L<appId>\t<COPY line>" lines after each result) */
  record: boolean;
  /** outbound requests' user-agent (PiCloud/<version>) */
  userAgent: string;
  /** http::fetch calls in flight at once in this thread */
  fetchConcurrency: number;
  /** the invocation log's rows per app and second (log-allowance.ts; default LOG_ROWS_PER_SECOND) */
  logRowsPerSecond?: number;
  /** PostgreSQL for kv:: in the thread itself (thread-kv.ts); absent: kv:: goes to the parent as host calls */
  databaseUrl?: string;
}
