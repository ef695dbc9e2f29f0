/** kv:: size limits: an oversized key or value is refused with KV_LIMIT and nothing is stored (also in `picloud run`). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KV_MAX_KEY_BYTES, KV_MAX_VALUE_BYTES, kvGet, kvSet } from '../../src/db/kv.ts';
import { run } from '../../src/cli/main.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { cleanupTempDirs, tempDir, writeFiles } from '../helpers/git.ts';

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

describe('kv limits in picloud run', () => {
  afterAll(() => cleanupTempDirs());

  it('should refuse an oversized value with the same KV_LIMIT error as the platform', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'big.rhai': 'let s = "x"; for i in 0..21 { s += s; } kv::set("big", s); "stored"\n' });
    let stdout = '';
    let stderr = '';
    const code = await run(['run', `${dir}/big.rhai`], { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
    expect(code).not.toBe(0);
    expect(`${stdout}${stderr}`).toMatch(/kv value is \d+ bytes as JSON, over the limit of 1048576/);
    expect(stdout).not.toMatch(/stored/);
  });
});
