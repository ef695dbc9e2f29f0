/** PostgreSQL pool creation. BIGINT (int8) columns are parsed to JS numbers: ids and counters stay < 2^53. */
import pg from 'pg';

pg.types.setTypeParser(20, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return pool;
}

/**
 * Run `fn` in one transaction. `asyncCommit`: the commit does not wait for its WAL flush (synchronous_commit off,
 * set in the same round trip as BEGIN), for data whose last fraction of a second may be lost if PostgreSQL crashes.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, opts: { asyncCommit?: boolean } = {}): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query(opts.asyncCommit ? 'BEGIN; SET LOCAL synchronous_commit TO OFF' : 'BEGIN');
    const r = await fn(c);
    await c.query('COMMIT');
    return r;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}
