// Validation worker bootstrap under tsx (tests, bin.js): on Node 20 the parent's tsx loader does not apply to
// worker threads, so register it here, then load the TypeScript entry named in workerData.entry.
// Compiled (dist/), the worker loads dist/deploy/validate-worker.js directly.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
