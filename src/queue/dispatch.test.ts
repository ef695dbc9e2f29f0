import { describe, expect, it } from 'vitest';
import { createLocalDispatcher, createNodeDispatcher, type Dispatcher } from './dispatch.ts';
import type { InvocationJob, InvocationResult } from './jobs.ts';

const job = { id: 'j' } as InvocationJob;
const ok = { status: 200 } as InvocationResult;
const noClose = async () => {};

describe('createLocalDispatcher', () => {
  it('should count completed and rejected runs, a runner that throws included, and always answer with a promise', async () => {
    let mode: 'ok' | 'reject' | 'throw' = 'ok';
    const d = createLocalDispatcher(() => {
      if (mode === 'throw') throw new Error('thrown');
      return mode === 'ok' ? Promise.resolve(ok) : Promise.reject(new Error('rejected'));
    }, noClose);
    await expect(d.invoke(job)).resolves.toBe(ok);
    mode = 'reject';
    await expect(d.invoke(job)).rejects.toThrow('rejected');
    mode = 'throw';
    const p = d.invoke(job);
    expect(p).toBeInstanceOf(Promise);
    await expect(p).rejects.toThrow('thrown');
    expect(() => d.submit(job)).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(d.stats()).toEqual({ mode: 'embedded', inFlight: 0, completed: 1, rejected: 3 });
  });
});

describe('createNodeDispatcher', () => {
  it('should count local runs, settled either way, and send the rest to the remote dispatcher', async () => {
    let remoteRuns = 0;
    const remote: Dispatcher = {
      mode: 'bullmq',
      invoke: async () => (remoteRuns++, ok),
      submit: () => {},
      stats: () => ({ mode: 'bullmq', inFlight: 0, completed: remoteRuns, rejected: 0 }),
      close: noClose,
    };
    let local: 'ok' | 'reject' | 'full' = 'ok';
    const d = createNodeDispatcher(() => (local === 'full' ? null : local === 'ok' ? Promise.resolve(ok) : Promise.reject(new Error('rejected'))), remote, noClose);
    await expect(d.invoke(job)).resolves.toBe(ok);
    local = 'reject';
    await expect(d.invoke(job)).rejects.toThrow('rejected');
    local = 'full';
    await expect(d.invoke(job)).resolves.toBe(ok);
    expect(d.stats()).toMatchObject({ mode: 'node', inFlight: 0, completed: 3, spilled: 1 });
  });
});
