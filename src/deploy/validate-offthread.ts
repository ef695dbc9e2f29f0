/**
 * Validation off the request thread (issue 8): a push's tree checks, manifest checks and script compilation run
 * in a worker thread, never on the event loop that serves requests, with their own budget — a deadline after
 * which the worker is terminated, and a V8 heap cap (worker `resourceLimits`). Over budget, the push is rejected
 * with a clear message; the server itself is never at risk.
 *
 * One worker runs one validation at a time; at most MAX_CONCURRENT run at once (more pushes wait their turn),
 * and one finished worker is kept warm for the next push. The AST cache stays on the main thread (it reads the
 * database): the worker asks for it by message. Protocol (worker ⇄ here): `run` → `progress`* / `lookup`* /
 * `remember`* → `done` | `error`.
 */
import { Worker } from 'node:worker_threads';
import { VALIDATION_BUDGET } from '../common/config.ts';
import { COMPILED } from '../common/runtime.ts';
import type { ScriptFunctions } from './buildpacks/types.ts';
import type { DeployDiagnostic } from './diagnostics.ts';
import type { TreeFile } from './tree-checks.ts';
import type { TreeOrigin, ValidateOptions, ValidationResult } from './validate.ts';

/** A tree as the caller listed it, and how the worker reads its contents. */
export interface TreeToValidate {
  files: TreeFile[];
  over: DeployDiagnostic | null;
  origin: TreeOrigin;
}

export interface ValidationBudget {
  timeoutMs: number;
  maxHeapMb: number;
}

/** Messages to the worker. */
export type ToWorker =
  | { t: 'run'; tree: TreeToValidate; engine: boolean; cache: boolean }
  | { t: 'lookup'; id: number; found: [string, ScriptFunctions][] | null; error?: string };

/** Messages from the worker. */
export type FromWorker =
  | { t: 'progress'; line: string }
  | { t: 'lookup'; id: number; hashes: string[] }
  | { t: 'remember'; hash: string; functions: ScriptFunctions }
  /** the ValidationResult as JSON: one string crosses the thread boundary, not a graph of objects per route */
  | { t: 'done'; json: string }
  | { t: 'error'; message: string };

/** Validations running at once (each holds a worker and up to its heap budget). */
const MAX_CONCURRENT = 2;

const ENTRY = COMPILED ? new URL('./validate-worker.js', import.meta.url) : new URL('./validate-boot.mjs', import.meta.url);
const ENTRY_DATA = COMPILED ? {} : { entry: new URL('./validate-worker.ts', import.meta.url).href };

interface Warm {
  worker: Worker;
  heapMb: number;
}

let warm: Warm | null = null;
let running = 0;
const waiting: (() => void)[] = [];

const failure = (message: string): ValidationResult => ({ ok: false, problems: [`.:1:1: ${message}`], problemCount: 1, build: null, releaseManifest: {} });

function spawn(heapMb: number): Worker {
  const worker = new Worker(ENTRY, {
    workerData: ENTRY_DATA,
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
  });
  // a worker between validations has no job listener: its errors and exit only retire it
  worker.on('error', () => {});
  worker.on('exit', () => {
    if (warm?.worker === worker) warm = null;
  });
  return worker;
}

/** Validate a listed tree in a validation worker, within the budget. */
export async function validateOffThread(tree: TreeToValidate, opts: ValidateOptions): Promise<ValidationResult> {
  const budget: ValidationBudget = { ...VALIDATION_BUDGET, ...opts.budget };
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await runInWorker(tree, opts, budget);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function runInWorker(tree: TreeToValidate, opts: ValidateOptions, budget: ValidationBudget): Promise<ValidationResult> {
  let worker: Worker;
  if (warm && warm.heapMb === budget.maxHeapMb) {
    worker = warm.worker;
    warm = null;
  } else worker = spawn(budget.maxHeapMb);
  worker.ref();
  const progress = opts.progress ?? (() => {});
  const cache = opts.cache ?? null;

  return new Promise<ValidationResult>((resolve, reject) => {
    let settled = false;
    const settle = (keep: boolean): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (keep && !warm) {
        warm = { worker, heapMb: budget.maxHeapMb };
        worker.unref();
      } else void worker.terminate();
      return true;
    };
    const timer = setTimeout(() => {
      if (settle(false)) resolve(failure(`validation stopped: it took longer than ${budget.timeoutMs / 1000} s, the time limit of one push's validation and compilation; nothing was deployed`));
    }, budget.timeoutMs);
    const onError = (err: Error & { code?: string }) => {
      if (!settle(false)) return;
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        resolve(failure(`validation stopped: it needed more than ${budget.maxHeapMb} MB, the memory limit of one push's validation and compilation; nothing was deployed`));
      } else reject(err);
    };
    const onExit = (code: number) => {
      if (settle(false)) reject(new Error(`the validation worker exited (code ${code}) before it answered`));
    };
    const onMessage = (m: FromWorker) => {
      if (settled) return;
      switch (m.t) {
        case 'progress':
          progress(m.line);
          return;
        case 'remember':
          cache?.remember?.(m.hash, m.functions);
          return;
        case 'lookup':
          if (!cache) return post({ t: 'lookup', id: m.id, found: [] });
          cache.lookup(m.hashes).then(
            (found) => post({ t: 'lookup', id: m.id, found: [...found] }),
            (e: unknown) => post({ t: 'lookup', id: m.id, found: null, error: e instanceof Error ? e.message : String(e) }),
          );
          return;
        case 'done':
          if (settle(true)) resolve(JSON.parse(m.json) as ValidationResult);
          return;
        case 'error':
          if (settle(false)) reject(new Error(`validation failed: ${m.message}`));
      }
    };
    const post = (m: ToWorker) => {
      if (!settled) worker.postMessage(m);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    post({ t: 'run', tree, engine: opts.engine !== null, cache: cache !== null });
  });
}
