/**
 * Executor worker-thread entry: runs one invocation at a time with the synchronous interpreter; host calls
 * block this thread only (Atomics.wait), see ipc.ts.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { RhaiError } from '../rhai/index.ts';
import type { InvocationJob, InvocationTarget } from '../queue/jobs.ts';
import type { FromThread, HostReply, HostRequest, ThreadData, ToThread } from './ipc.ts';
import { Runner, type HostBridge } from './run.ts';
import { invocationRow } from './record.ts';
import { invocationRowCopy } from '../db/invocation-row.ts';

const data = workerData as ThreadData;
const flag = new Int32Array(data.flag);
const replyPort: MessagePort = data.replyPort;
const port = parentPort!;
let seq = 0;

type Dist<T> = T extends unknown ? Omit<T, 'seq'> : never;

function hostCall(req: Dist<HostRequest>, deadline: number): unknown {
  const s = ++seq;
  Atomics.store(flag, 0, 0);
  port.postMessage({ type: 'host', req: { ...req, seq: s } } as FromThread);
  for (;;) {
    let m: { message: HostReply } | undefined;
    while ((m = receiveMessageOnPort(replyPort) as { message: HostReply } | undefined)) {
      if (m.message.seq !== s) continue; // a late answer to a call that timed out
      if (!m.message.ok) throw new RhaiError('ErrorRuntime', m.message.error);
      return m.message.value;
    }
    const rem = deadline - performance.now();
    if (rem <= 0) throw new RhaiError('ErrorTerminated', 'Script terminated');
    Atomics.wait(flag, 0, 0, rem);
    Atomics.store(flag, 0, 0);
  }
}

const bridge: HostBridge = {
  kv: (ns, op, key, json, deadline) => hostCall({ op: 'kv', kv: op, appId: ns.appId, branch: ns.branch, key, json }, deadline ?? performance.now() + 30_000),
  loadAst: (hash) => hostCall({ op: 'ast', hash }, performance.now() + 30_000) as string,
  queueSend: (ns, q, deadline) => hostCall({ op: 'queue', appId: ns.appId, branch: ns.branch, ...q }, deadline) as string,
};

const runner = new Runner(bridge);

/** Decoded targets by their JSON text: a route's target arrives as the same text in every job. */
const targets = new Map<string, InvocationTarget>();
const MAX_TARGETS = 256;

function decodeJob(line: string): InvocationJob {
  const tab = line.indexOf('\t');
  const tj = line.slice(0, tab);
  let target = targets.get(tj);
  if (target === undefined) {
    target = JSON.parse(tj) as InvocationTarget;
    if (targets.size >= MAX_TARGETS) targets.delete(targets.keys().next().value!);
    targets.set(tj, target);
  }
  const job = JSON.parse(line.slice(tab + 1)) as InvocationJob;
  job.target = target;
  return job;
}

/** How long the last run of each (decoded, cached) target took: a result is not held back behind a slow job. */
const lastMs = new WeakMap<InvocationTarget, number>();

port.on('message', (msg: ToThread) => {
  // Results go back in batches too (a message wakes the parent), but never held more than 1 ms, nor while a job
  // runs that took more than 1 ms last time (or never ran here).
  let out: string[] = [];
  let since = 0;
  for (const raw of msg.split('\n')) {
    const job = decodeJob(raw);
    if (out.length && (lastMs.get(job.target) ?? Infinity) > 1) {
      port.postMessage(out.join('\n') as FromThread);
      out = [];
    }
    const result = runner.run(job);
    lastMs.set(job.target, result.durationMs);
    if (out.length === 0) since = performance.now();
    out.push(JSON.stringify({ id: job.id, result }));
    if (data.record) out.push(`L${job.target.appId}\t${invocationRowCopy(invocationRow(job, result))}`);
    if (performance.now() - since > 1) {
      port.postMessage(out.join('\n') as FromThread);
      out = [];
    }
  }
  if (out.length) port.postMessage(out.join('\n') as FromThread);
});
port.postMessage({ type: 'ready' } as FromThread);
