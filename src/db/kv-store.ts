/**
 * The kv:: store the executors use (the embedded pool and every executor process: ExecutorPool.host), over the
 * SQL of kv.ts, with group commit.
 *
 * Writes (set, delete) wait for the one write statement in flight; everything that arrives meanwhile goes into the
 * next one (kvWriteMany: one statement, so one transaction and one commit for the lot). A key written several times
 * in a batch is written once, with its last value in arrival order; each caller still gets its own answer (a delete
 * after a set of the same batch existed). A promise resolves only after the commit that holds its write (durable:
 * nothing acknowledged is lost); if the batch statement fails (one bad value, an app deleted meanwhile), its writes
 * are retried one by one so only the bad one fails.
 * Reads (get) are batched the same way (kvGetMany: one join over unnest for the keys asked meanwhile). A read is
 * sent after every write acknowledged before it was asked, so a request sent after a write's answer reads it, in
 * any process; an invocation awaits each call, so it reads its own writes.
 *
 * No read cache: one kept by LISTEN/NOTIFY (tried, with a trigger per kv statement) let a request sent right after
 * an acknowledged write read the old value while the NOTIFY was still on its way, in both modes
 * (test/integration/kv-consistency.test.ts caught it within a dozen writes), and it did not lower the kv bench's
 * CPU per request.
 *
 * Increments (kv::incr) are batched the same way in a queue of their own (kvIncrMany: one update per key for the
 * sum of its increments).
 *
 * Hand-written (one small Batches class, three queues): the batching libraries (dataloader and the like) batch per
 * tick, not "while a statement is in flight", and know nothing of the per-caller delete answers.
 */
import type { Pool } from './pool.ts';
import { checkKvIncr, checkKvWrite, kvDelete, kvGetMany, kvIncr, kvIncrMany, kvKeys, kvSet, kvWriteMany, type KvNamespace, type KvWrite } from './kv.ts';

/** The kv:: functions a script calls. */
export type KvOp = 'get' | 'set' | 'delete' | 'keys' | 'incr';

export interface KvStoreOptions {
  pool: Pool;
  /** a pino Logger, or an executor thread's forwarder to its parent's (thread-kv.ts) */
  log: { warn(obj: object, msg: string): void };
  /**
   * When a batch is sent: at the end of this microtask burst (default: the parent thread gets a thread's calls as
   * the lines of one message), or at the end of the event-loop turn (an executor thread, thread-kv.ts: the
   * invocations resumed by one read reply reach their next call several awaits apart, after a microtask flush)
   */
  gather?: 'microtask' | 'turn';
}

/** A batch's key of (namespace, key). */
const kvId = (ns: KvNamespace, key: string): string => `${ns.appId}\u0000${ns.branch}\u0000${key}`;

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

/** The calls of one key waiting for the next statement of their kind. */
interface Pending<Op> {
  ns: KvNamespace;
  key: string;
  /** in arrival order */
  ops: Op[];
}

type PendingRead = Pending<Waiter<string | null>>;
/** json null deletes */
type PendingWrite = Pending<{ json: string | null; w: Waiter<boolean> }>;
type PendingIncr = Pending<{ by: number; w: Waiter<number> }>;

/**
 * The store's batching rule, for each kind of statement (reads, writes, increments): calls go into the next
 * statement of their kind, which is sent as soon as none of that kind is in flight (after the current gathering
 * point, KvStoreOptions.gather); what arrives while one is in flight waits for the next, one entry per key.
 */
class Batches<Op> {
  private readonly pending = new Map<string, Pending<Op>>();
  private busy = false;
  private scheduled = false;

  constructor(
    private readonly schedule: (f: () => void) => void,
    /** send one batch and answer its calls */
    private readonly send: (batch: Pending<Op>[]) => Promise<void>,
    /** a pending entry's JSON characters, to bound a statement (take) */
    private readonly chars: (p: Pending<Op>) => number = () => 0,
  ) {}

  /** Add a call on `key` to the next statement of this kind. */
  add(ns: KvNamespace, key: string, op: Op): void {
    const id = kvId(ns, key);
    let p = this.pending.get(id);
    if (!p) this.pending.set(id, (p = { ns, key, ops: [] }));
    p.ops.push(op);
    if (!this.busy && !this.scheduled) {
      this.scheduled = true;
      this.schedule(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.busy || this.pending.size === 0) return;
    const batch = take(this.pending, this.chars);
    this.busy = true;
    try {
      await this.send(batch);
    } finally {
      this.busy = false;
      if (this.pending.size) void this.flush();
    }
  }
}

export class KvStore {
  private readonly reads: Batches<Waiter<string | null>>;
  private readonly writes: Batches<{ json: string | null; w: Waiter<boolean> }>;
  private readonly incrs: Batches<{ by: number; w: Waiter<number> }>;

  constructor(private readonly o: KvStoreOptions) {
    const schedule = o.gather === 'turn' ? (f: () => void) => void setImmediate(f) : queueMicrotask;
    this.reads = new Batches(schedule, (b) => this.sendReads(b));
    this.writes = new Batches(schedule, (b) => this.sendWrites(b), (p) => p.ops[p.ops.length - 1]!.json?.length ?? 0);
    this.incrs = new Batches(schedule, (b) => this.sendIncrs(b));
  }

  /** The value of `key` (JSON text), or null when absent. */
  get(ns: KvNamespace, key: string): Promise<string | null> {
    return new Promise((resolve, reject) => this.reads.add(ns, key, { resolve, reject }));
  }

  /** Store JSON text `json` at `key` (KV_LIMIT when too large). */
  async set(ns: KvNamespace, key: string, json: string): Promise<void> {
    checkKvWrite(key, json);
    await this.write(ns, key, json);
  }

  /** Delete `key`; true when it existed. */
  delete(ns: KvNamespace, key: string): Promise<boolean> {
    return this.write(ns, key, null);
  }

  /** Keys starting with `prefix`, sorted. */
  keys(ns: KvNamespace, prefix: string): Promise<string[]> {
    return kvKeys(this.o.pool, ns, prefix);
  }

  /**
   * Add `by` to the integer at `key` (absent: 0); the new value. Increments of a key pending together go in one
   * update for their sum (kvIncrMany), each caller answered with the value after its own increment. Their own
   * statements, apart from set and delete: calls pending together come from different invocations (an
   * invocation awaits each call), so any order of them is one they could have had.
   */
  async incr(ns: KvNamespace, key: string, by: number): Promise<number> {
    checkKvIncr(key, by);
    return new Promise((resolve, reject) => this.incrs.add(ns, key, { by, w: { resolve, reject } }));
  }

  /**
   * One kv:: call as a script makes it (`key` is the prefix for keys): get → JSON text or null, set → null,
   * delete → whether it existed, keys → the keys, incr (`json`: the amount) → the new value. The one dispatch of
   * an executor's kv:: calls, whether a thread serves them itself (thread-kv.ts) or its parent does (pool.ts host
   * calls).
   */
  async call(ns: KvNamespace, op: KvOp, key: string, json?: string): Promise<string | boolean | string[] | number | null> {
    switch (op) {
      case 'get':
        return this.get(ns, key);
      case 'set':
        await this.set(ns, key, json ?? 'null');
        return null;
      case 'delete':
        return this.delete(ns, key);
      case 'keys':
        return this.keys(ns, key);
      case 'incr':
        return this.incr(ns, key, Number(json ?? '1'));
    }
  }

  private write(ns: KvNamespace, key: string, json: string | null): Promise<boolean> {
    // gathered until the next gathering point (a thread's message carries several host calls) before sending
    return new Promise((resolve, reject) => this.writes.add(ns, key, { json, w: { resolve, reject } }));
  }

  private async sendReads(batch: PendingRead[]): Promise<void> {
    let values: (string | null)[];
    try {
      values = await kvGetMany(this.o.pool, batch);
    } catch (err) {
      for (const p of batch) for (const w of p.ops) w.reject(err);
      return;
    }
    for (let i = 0; i < batch.length; i++) for (const w of batch[i]!.ops) w.resolve(values[i]!);
  }

  private async sendWrites(batch: PendingWrite[]): Promise<void> {
    const finals: KvWrite[] = batch.map((p) => ({ ns: p.ns, key: p.key, json: p.ops[p.ops.length - 1]!.json }));
    try {
      const existed = await kvWriteMany(this.o.pool, finals);
      for (let i = 0; i < batch.length; i++) answer(batch[i]!, existed[i]!);
    } catch (err) {
      if (batch.length === 1 && batch[0]!.ops.length === 1) batch[0]!.ops[0]!.w.reject(err);
      else {
        this.o.log.warn({ err, keys: batch.length }, 'a kv write batch failed; writing its keys one by one');
        await this.oneByOne(batch);
      }
    }
  }

  private async sendIncrs(batch: PendingIncr[]): Promise<void> {
    const sums = batch.map((p) => p.ops.reduce((s, o) => s + o.by, 0));
    let values: (number | null)[] = batch.map(() => null);
    if (sums.every((s) => Number.isSafeInteger(s))) {
      try {
        values = await kvIncrMany(this.o.pool, batch.map((p, i) => ({ ns: p.ns, key: p.key, by: sums[i]! })));
      } catch (err) {
        this.o.log.warn({ err, keys: batch.length }, 'a kv increment batch failed; applying its increments one by one');
      }
    }
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      const v = values[i];
      if (v === null || v === undefined) {
        // not applied (a value that is not an integer, a sum past the safe range, a failed statement): each
        // increment on its own, with its own answer or error
        for (const op of p.ops) await kvIncr(this.o.pool, p.ns, p.key, op.by).then(op.w.resolve, op.w.reject);
        continue;
      }
      let run = v - sums[i]!;
      for (const op of p.ops) op.w.resolve((run += op.by));
    }
  }

  /** A failed batch: each write on its own, in arrival order per key, so only the bad ones fail. */
  private async oneByOne(batch: PendingWrite[]): Promise<void> {
    await Promise.all(
      batch.map(async (p) => {
        for (const op of p.ops) {
          try {
            if (op.json === null) op.w.resolve(await kvDelete(this.o.pool, p.ns, p.key));
            else op.w.resolve((await kvSet(this.o.pool, p.ns, p.key, op.json), true));
          } catch (err) {
            op.w.reject(err);
          }
        }
      }),
    );
  }
}

/** Keys and JSON characters of one statement at most (more waits for the next: bounded statements). */
const MAX_BATCH_KEYS = 1000;
const MAX_BATCH_CHARS = 8 * 1024 * 1024;

/** Take the next batch out of `pending` (in arrival order; at least one entry, so a 1 MiB value still goes). */
function take<T>(pending: Map<string, T>, chars: (p: T) => number): T[] {
  const batch: T[] = [];
  let n = 0;
  for (const [id, p] of pending) {
    n += chars(p);
    if (batch.length > 0 && (batch.length >= MAX_BATCH_KEYS || n > MAX_BATCH_CHARS)) break;
    batch.push(p);
    pending.delete(id);
  }
  return batch;
}

/** Answer each write of a key in arrival order: a delete existed if the key did just before it. */
function answer(p: PendingWrite, existedBefore: boolean): void {
  let exists = existedBefore;
  for (const op of p.ops) {
    op.w.resolve(op.json === null ? exists : true);
    exists = op.json !== null;
  }
}
