/**
 * Per-test-file PostgreSQL isolation: a fresh database named picloud_t_<random>, migrated, dropped afterwards.
 * Uses DATABASE_URL when set, else postgres://postgres@127.0.0.1:5432/postgres (architecture.md §2).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';

export const ADMIN_DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** Create and migrate a throwaway database. Call `drop()` in afterAll. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `picloud_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDatabase(ADMIN_DATABASE_URL, name);
  const pool = createPool(url, 10);
  await migrate(pool);
  return {
    url,
    pool,
    async drop() {
      await pool.end().catch(() => {});
      const a = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/**
 * A pool of the database at `url` built from connection fields, without a connection string: an executor pool
 * given it hands its threads no database URL, so their kv:: goes to the parent thread as host calls.
 */
export function poolFromFields(url: string): pg.Pool {
  const u = new URL(url);
  const pool = new pg.Pool({ host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) || undefined, database: u.pathname.slice(1), max: 4 });
  // as db/pool.ts does: an idle client whose connection ends (the test's database dropped while the pool closes)
  // must not throw from the pool's 'error' event
  pool.on('error', () => {});
  return pool;
}
