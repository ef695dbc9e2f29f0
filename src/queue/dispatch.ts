/**
 * One interface for getting an invocation run, whatever the transport: the in-process worker-thread pool
 * (zero-setup default) or BullMQ to executor processes (REDIS_URL). `invoke` always resolves with a result
 * (error statuses included); it rejects only with AppError NO_CAPACITY (→ 503) when the queue is full.
 */
import type { InvocationJob, InvocationResult } from './jobs.ts';

export interface DispatchStats {
  mode: 'embedded' | 'bullmq' | 'redis' | 'node';
  inFlight: number;
  completed: number;
  rejected: number;
  /** node mode: invocations sent to Redis because the local threads were saturated */
  spilled?: number;
  /** Redis mode: executors holding a direct lane to this orchestrator, invocations sent on lanes, those waiting for a lane's credit */
  lanes?: number;
  direct?: number;
  waiting?: number;
  /** invocations that waited for a lane's credit and went to the Redis lists, for the executors without a lane here */
  spilledToLists?: number;
  /** executor processes that hold no lane to this orchestrator (they take its work from the lists only) */
  without?: number;
  /** invocations an executor held unstarted when it died (a kill -9: its lane closed, or its heartbeat lapsed for those from the lists), sent to another executor */
  sentAgain?: number;
}

export interface Dispatcher {
  readonly mode: 'embedded' | 'bullmq' | 'redis' | 'node';
  invoke(job: InvocationJob): Promise<InvocationResult>;
  /** fire-and-forget (schedule ticks); the executor records the invocation */
  submit(job: InvocationJob): void;
  stats(): DispatchStats;
  /** readiness of the transport: it can take invocations now (a direct lane open, or Redis answers a PING); absent = always ready (in-process) */
  ping?(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * How an executor process lets its orchestrator know about an invocation it holds unstarted (over a direct lane that
 * offers claims, lanes.ts; through a park key in Redis for one taken from the lists, redis-lists.ts ListClaims):
 * `park` says it waits there, in its app's queue, and `claim` asks before it starts, so that an orchestrator that
 * loses that process (kill -9: its lane closes, its heartbeat lapses) knows which of its invocations never ran and
 * sends those to another executor. `claim` resolves true (start it) or false (its orchestrator no longer waits for it
 * there, or the lane closed: it is dropped unrun); it never rejects.
 */
export interface StartGate {
  park(id: string): void;
  claim(id: string): Promise<boolean>;
}

/** Runs a job somewhere and resolves with its result (the executor pool implements this); `gate`: see StartGate. */
export type JobRunner = (job: InvocationJob, gate?: StartGate) => Promise<InvocationResult>;

/**
 * The two reactions of a counted run, made once per dispatcher: `settle(ok)` is called when the run's promise
 * settles, which then passes the result or the error on. One reaction on the promise per request (an async
 * wrapper cost a promise and two more microtask turns).
 */
function counting(settle: (ok: boolean) => void): { done: (r: InvocationResult) => InvocationResult; failed: (e: unknown) => never } {
  return {
    done: (r) => {
      settle(true);
      return r;
    },
    failed: (e) => {
      settle(false);
      throw e;
    },
  };
}

/** The in-process dispatcher: a thin counter around the executor pool (which owns queueing and 503s). */
export function createLocalDispatcher(run: JobRunner, onClose: () => Promise<void>): Dispatcher {
  let inFlight = 0;
  let completed = 0;
  let rejected = 0;
  const { done, failed } = counting((ok) => {
    inFlight--;
    if (ok) completed++;
    else rejected++;
  });
  const invoke = (job: InvocationJob): Promise<InvocationResult> => {
    inFlight++;
    let p: Promise<InvocationResult>;
    try {
      p = run(job);
    } catch (e) {
      // a runner that throws instead of rejecting: counted and answered the same way (failed(e) rethrows, so
      // `Promise.reject(failed(e))` threw out of invoke, and out of submit, instead of returning a rejection)
      p = Promise.reject(e);
    }
    return p.then(done, failed);
  };
  return {
    mode: 'embedded',
    invoke,
    submit(job) {
      invoke(job).catch(() => {});
    },
    stats: () => ({ mode: 'embedded', inFlight, completed, rejected }),
    close: onClose,
  };
}

/**
 * A node's dispatcher (orchestrator with its own executor threads and Redis): a job goes to a local thread when one
 * can take it now (`tryLocal` returns null otherwise) and spills over to `remote` (the Redis executors) when the
 * local threads are saturated.
 */
export function createNodeDispatcher(tryLocal: (job: InvocationJob) => Promise<InvocationResult> | null, remote: Dispatcher, onClose: () => Promise<void>): Dispatcher {
  let local = 0;
  let localDone = 0;
  let spilled = 0;
  // a local run counts as done whether it succeeded or not
  const { done, failed } = counting(() => {
    local--;
    localDone++;
  });
  return {
    mode: 'node',
    invoke(job) {
      const p = tryLocal(job);
      if (!p) {
        spilled++;
        return remote.invoke(job);
      }
      local++;
      return p.then(done, failed);
    },
    ping: () => remote.ping?.() ?? Promise.resolve(true),
    submit(job) {
      const p = tryLocal(job);
      if (p) p.catch(() => {});
      else remote.submit(job);
    },
    stats() {
      const r = remote.stats();
      return { ...r, mode: 'node', inFlight: local + r.inFlight, completed: localDone + r.completed, spilled };
    },
    async close() {
      await remote.close();
      await onClose();
    },
  };
}
