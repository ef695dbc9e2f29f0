/**
 * One interface for getting an invocation run, whatever the transport: the in-process worker-thread pool
 * (zero-setup default) or BullMQ to executor processes (REDIS_URL). `invoke` always resolves with a result
 * (error statuses included); it rejects only with AppError NO_CAPACITY (→ 503) when the queue is full.
 */
import type { InvocationJob, InvocationResult } from './jobs.ts';

export interface DispatchStats {
  mode: 'embedded' | 'bullmq';
  inFlight: number;
  completed: number;
  rejected: number;
}

export interface Dispatcher {
  readonly mode: 'embedded' | 'bullmq';
  invoke(job: InvocationJob): Promise<InvocationResult>;
  /** fire-and-forget (schedule ticks); the executor records the invocation */
  submit(job: InvocationJob): void;
  stats(): DispatchStats;
  close(): Promise<void>;
}

/** Runs a job somewhere and resolves with its result (the executor pool implements this). */
export type JobRunner = (job: InvocationJob) => Promise<InvocationResult>;

/** The in-process dispatcher: a thin counter around the executor pool (which owns queueing and 503s). */
export function createLocalDispatcher(run: JobRunner, onClose: () => Promise<void>): Dispatcher {
  let inFlight = 0;
  let completed = 0;
  let rejected = 0;
  const invoke = async (job: InvocationJob): Promise<InvocationResult> => {
    inFlight++;
    try {
      const r = await run(job);
      completed++;
      return r;
    } catch (e) {
      rejected++;
      throw e;
    } finally {
      inFlight--;
    }
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
