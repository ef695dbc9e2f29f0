/** kv:: size limits: an oversized key or value is refused with KV_LIMIT and nothing is stored. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KV_MAX_KEY_BYTES, KV_MAX_VALUE_BYTES, kvGet, kvSet } from '../../src/db/kv.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

describe('kv limits', () => {
  let db: TestDatabase;
  let ns: { appId: number; branch: string };
  beforeAll(async () => {
    db = await createTestDatabase();
    const id = (await db.pool.query<{ id: number }>(`INSERT INTO apps (name) VALUES ('kvl') RETURNING id`)).rows[0]!.id;
    ns = { appId: id, branch: 'main' };
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('should store a value right at the limit', async () => {
    const json = JSON.stringify('x'.repeat(KV_MAX_VALUE_BYTES - 2));
    await kvSet(db.pool, ns, 'k'.repeat(KV_MAX_KEY_BYTES), json);
    expect((await kvGet(db.pool, ns, 'k'.repeat(KV_MAX_KEY_BYTES)))?.length).toBe(KV_MAX_VALUE_BYTES);
  });

  it('should refuse a value over the limit, counting UTF-8 bytes, and store nothing', async () => {
    const json = JSON.stringify('é'.repeat(KV_MAX_VALUE_BYTES / 2)); // 2 bytes per char in UTF-8
    await expect(kvSet(db.pool, ns, 'big', json)).rejects.toMatchObject({ code: 'KV_LIMIT', message: expect.stringMatching(/over the limit/) });
    expect(await kvGet(db.pool, ns, 'big')).toBeNull();
  });

  it('should refuse a key over the limit', async () => {
    await expect(kvSet(db.pool, ns, 'k'.repeat(KV_MAX_KEY_BYTES + 1), '1')).rejects.toMatchObject({ code: 'KV_LIMIT' });
  });
});
