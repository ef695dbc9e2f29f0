/**
 * The invocation log: one row per invocation (trigger, route, status, duration, operations, log lines, error).
 * Rows are buffered and written in batches (one COPY per ~100 ms or 2000 rows, never a synchronous write per
 * request); migration 0003's trigger NOTIFYs 'picloud_invocations' once per batch for `logs --tail`. Retention (by
 * count per app and by age) is pruned at most once a minute, on a flush: no timer runs while nothing is written.
 *
 * Under heavy traffic a process writes at most LOG_ROWS_PER_SECOND rows per app and second, for successes and for
 * failures each; the rest are counted (`unlogged`: metric picloud_plane_pool_unlogged) and a warning says so once a
 * minute per app, as Heroku's router does when a log drain falls behind (L10). The log keeps an app's last 10,000
 * rows and a tail cannot show more than a screenful a second, so rows past that rate were written only to be pruned
 * within the minute, each costing PostgreSQL ~6 µs and the thread serving HTTP its share of the COPY writes
 * (bench:http embedded, ~25k req/s, two pairs on a busy machine: PostgreSQL 4–5 → 0 µs per request, all processes
 * 50–59 → 49–53). Failures have their own allowance, so a flood of successes never hides an error. Executor
 * threads apply the same allowance before they build a row (log-allowance.ts) and report what they skipped.
 */
import { from as copyFrom } from 'pg-copy-streams';
import { withTransaction, type Pool } from './pool.ts';
import { INVOCATION_COPY_COLUMNS, invocationRowCopy, type InvocationRow } from './invocation-row.ts';
import { LogAllowance } from './log-allowance.ts';

export type { InvocationRow };

export interface Retention {
  /** rows kept per app */
  maxPerApp: number;
  /** rows older than this are deleted */
  maxAgeMs: number;
}

export const DEFAULT_RETENTION: Retention = Object.freeze({ maxPerApp: 10_000, maxAgeMs: 7 * 24 * 3600_000 });

/** How often the warning about rows not written is repeated per app. */
const UNLOGGED_WARN_MS = 60_000;

/** rows per COPY: under load a flush every 100 ms carries ~2000 rows at 20k req/s; each flush is 4 round trips */
const MAX_BATCH = 2000;
// COPY, not INSERT: measured 8 µs of PostgreSQL CPU per row against 19 µs for INSERT … SELECT FROM json_to_recordset
// (300-row batches, same table, triggers and indexes).
const COPY_ROWS = `COPY invocations (${INVOCATION_COPY_COLUMNS}) FROM STDIN`;

const PRUNE_AGE = `DELETE FROM invocations WHERE created_at < now() - ($1::float8 * interval '1 millisecond')`;
const PRUNE_COUNT = `
  DELETE FROM invocations WHERE app_id = $1 AND id <= (
    SELECT id FROM invocations WHERE app_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`;

/**
 * Write rows (each a COPY line from invocationRowCopy) in one COPY. The transaction commits with
 * synchronous_commit off: a log batch does not wait for its WAL flush (under load that flush per batch cost more
 * CPU than the write), at the price of losing the last fraction of a second of log rows if PostgreSQL crashes.
 */
export async function copyInvocationLines(pool: Pool, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await withTransaction(pool, (c) => new Promise<void>((resolve, reject) => {
    const stream = c.query(copyFrom(COPY_ROWS));
    stream.on('finish', resolve);
    stream.on('error', reject);
    stream.end(`${lines.join('\n')}\n`);
  }), { asyncCommit: true });
}

/** Write rows in one COPY (migration 0003's trigger NOTIFYs 'picloud_invocations' once per statement). */
export async function insertInvocations(pool: Pool, rows: InvocationRow[]): Promise<void> {
  await copyInvocationLines(pool, rows.map(invocationRowCopy));
}

/** Apply retention: age for all apps, count for the given apps. */
export async function pruneInvocations(pool: Pool, appIds: Iterable<number>, retention: Retention): Promise<void> {
  await pool.query(PRUNE_AGE, [retention.maxAgeMs]);
  for (const id of appIds) await pool.query(PRUNE_COUNT, [id, retention.maxPerApp]);
}

/**
 * Buffers rows and flushes them in batches; prunes at most every `pruneEveryMs`. Rows may arrive already
 * serialised (`addLine`: executor threads build them, keeping that work off the thread that serves HTTP).
 */
export class InvocationLog {
  private buf: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private lastPrune = 0;
  private touched = new Set<number>();
  private readonly allowance: LogAllowance;
  /** per app: rows not written since its last warning, and when that was */
  private readonly unloggedBy = new Map<number, { n: number; warnedAt: number }>();
  /** rows not written because their app was over LOG_ROWS_PER_SECOND (all apps, since start) */
  unlogged = 0;

  constructor(
    private readonly pool: Pool,
    private readonly opts: {
      flushMs?: number;
      maxBatch?: number;
      retention?: Retention;
      pruneEveryMs?: number;
      /** rows per app and second (default log-allowance.ts LOG_ROWS_PER_SECOND) */
      rowsPerSecond?: number;
      onError?: (e: unknown) => void;
      /** an app's rows were not written (over the rate) in the last minute: `n` of them */
      onUnlogged?: (appId: number, n: number) => void;
    } = {},
  ) {
    this.allowance = new LogAllowance(opts.rowsPerSecond);
  }

  add(row: InvocationRow): void {
    this.addLine(row.appId, invocationRowCopy(row), row.status >= 500 || row.error !== null);
  }

  /** Add a row serialised by invocationRowCopy; `failed`: a 5xx or an error (counted apart from successes). */
  addLine(appId: number, line: string, failed = false): void {
    if (!this.admit(appId, failed)) return;
    this.buf.push(line);
    this.touched.add(appId);
    if (this.buf.length >= (this.opts.maxBatch ?? MAX_BATCH)) this.flushSoon(0);
    else this.flushSoon(this.opts.flushMs ?? 100);
  }

  /** Whether the app's allowance takes one more row (log-allowance.ts); if not, it is counted as not written. */
  private admit(appId: number, failed: boolean): boolean {
    if (this.allowance.take(appId, failed)) return true;
    this.notWritten(appId, 1);
    return false;
  }

  /**
   * Count `n` rows of the app not written for being over the rate: rows refused here, or rows an executor thread
   * did not build because its own allowance refused them (thread.ts `U` lines); a warning once a minute per app.
   */
  notWritten(appId: number, n: number): void {
    const now = Date.now();
    let u = this.unloggedBy.get(appId);
    if (!u) {
      if (this.unloggedBy.size >= 10_000) this.unloggedBy.clear();
      this.unloggedBy.set(appId, (u = { n: 0, warnedAt: 0 }));
    }
    this.unlogged += n;
    u.n += n;
    if (now - u.warnedAt >= UNLOGGED_WARN_MS) {
      this.opts.onUnlogged?.(appId, u.n);
      u.n = 0;
      u.warnedAt = now;
    }
  }

  private flushSoon(ms: number): void {
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
  }

  /**
   * Write the rows buffered when this flush starts. Rows that arrive while it writes wait for their own timer (set
   * by addLine): draining until empty wrote a COPY of the few rows that came during the last one, back to back,
   * so under load the log committed ~200 small batches a second instead of ~10 (measured at ~15k req/s: 1,375
   * COPYs of ~50 rows in 6 s; PostgreSQL's cost per row falls from ~10 to ~6 µs between batches of 100 and 2000).
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      for (let n = this.buf.length; n > 0; ) {
        const rows = this.buf.splice(0, Math.min(n, this.opts.maxBatch ?? MAX_BATCH));
        n -= rows.length;
        try {
          await copyInvocationLines(this.pool, rows);
        } catch (e) {
          this.opts.onError?.(e);
        }
      }
      const every = this.opts.pruneEveryMs ?? 60_000;
      if (Date.now() - this.lastPrune >= every && this.touched.size) {
        this.lastPrune = Date.now();
        const ids = [...this.touched];
        this.touched.clear();
        try {
          await pruneInvocations(this.pool, ids, this.opts.retention ?? DEFAULT_RETENTION);
        } catch (e) {
          this.opts.onError?.(e);
        }
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }
}
