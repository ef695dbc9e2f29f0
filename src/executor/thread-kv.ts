/**
 * kv:: answered inside the executor thread, on the thread's own small PostgreSQL pool, instead of a host call to
 * the parent thread. Why: through the parent a kv call cost two messages between threads (the request line and
 * its reply, each waking the other thread), their encoding and the SQL client's work on the parent, the thread
 * that also serves HTTP and so bounds the embedded mode's throughput. Measured (bench:http's kv route, fixed 800
 * req/s, 6 rounds each way on a busy shared machine): the parent thread's CPU per request fell from ~300 to ~180 µs
 * (median), the process's total CPU did not change measurably, a sequential request's latency fell from 7–9 to
 * ~4 ms. The store is the same KvStore (group commit, batched reads, its consistency rules): a write is
 * acknowledged only after its commit, so a read sent after that answer sees it from any thread or process, as
 * between executor processes.
 *
 * `pg` is imported on the first kv call and the pool holds at most 2 connections (KvStore keeps one read and one
 * write statement in flight), closed after 30 s idle: threads that never touch kv open nothing. A release whose
 * scripts call kv:: warms it when the release is preloaded (`warm`, thread.ts): importing pg in a thread took
 * 48–57 ms and its first connection 15–17 ms on the 2-core VM, which the first kv request after a push paid
 * (the url-shortener example's first POST: 87 ms against 3–6 ms warm).
 */
import type pg from 'pg';
import { AppError } from '../common/errors.ts';
import { KvStore, type KvOp } from '../db/kv-store.ts';

/** connections per thread: one read batch and one write batch in flight */
const THREAD_KV_CONNECTIONS = 2;
/**
 * A pool of more threads than this leaves kv:: to its parent thread (host calls): 2 connections per thread would
 * otherwise take a large share of PostgreSQL's default max_connections (100) on a many-core machine
 * (PICLOUD_EXECUTORS goes up to 64).
 */
export const THREAD_KV_MAX_THREADS = 16;
/** the threads' connections in pg_stat_activity */
export const THREAD_KV_APPLICATION = 'picloud-thread-kv';

export class ThreadKv {
  private store: KvStore | null = null;
  private opening: Promise<KvStore> | null = null;
  private pool: pg.Pool | null = null;

  /** `warn(msg, err)`: storage trouble (not the script's) the parent thread logs */
  constructor(private readonly url: string, private readonly warn: (msg: string, err: string) => void) {}

  private open(): Promise<KvStore> {
    // db/pool.ts createPool's settings, not a call to it: the thread bundle (bundle.ts) inlines that module and hoists
    // its `import pg` to the top, so every thread would load pg at start
    this.opening ??= import('pg').then(({ default: pgm }) => {
      pgm.types.setTypeParser(20, (v) => Number(v));
      const pool = new pgm.Pool({ connectionString: this.url, max: THREAD_KV_CONNECTIONS, idleTimeoutMillis: 30_000, application_name: THREAD_KV_APPLICATION });
      // an idle client losing its connection must not end the thread; the pool replaces it
      pool.on('error', () => {});
      this.pool = pool;
      this.store = new KvStore({ pool, gather: 'turn', log: { warn: (obj, msg) => this.warn(msg, errText((obj as { err?: unknown }).err)) } });
      return this.store;
    });
    return this.opening;
  }

  /** The same answers and errors as the parent's host call (pool.ts host): get → JSON text or null, … */
  async kv(ns: { appId: number; branch: string }, op: KvOp, key: string, json?: string): Promise<unknown> {
    try {
      const s = this.store ?? (await this.open());
      return await s.call(ns, op, key, json);
    } catch (err) {
      if (err instanceof AppError) throw err;
      this.warn(`kv::${op} failed`, errText(err));
      throw new Error(`kv::${op} failed: storage unavailable`);
    }
  }

  /**
   * Load pg and open one connection ahead of the first kv call (a release that uses kv:: is going live). Never
   * rejects: a database that cannot be reached now is the first call's to report.
   */
  async warm(): Promise<void> {
    try {
      const store = await this.open();
      // a read of a key no app has (app ids start at 1): its connection, statement and code paths
      await store.call({ appId: 0, branch: '' }, 'get', '');
    } catch {
      // the first kv call opens (or fails) as before
    }
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
