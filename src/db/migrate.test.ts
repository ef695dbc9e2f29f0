import { describe, expect, it } from 'vitest';
import { readMigrations } from './migrate.ts';

describe('readMigrations', () => {
  it('should list migrations in version order with stable checksums', async () => {
    const files = await readMigrations();
    expect(files.length).toBeGreaterThan(0);
    expect(files[0]!.version).toBe(1);
    const versions = files.map((f) => f.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    for (const f of files) expect(f.checksum).toMatch(/^[0-9a-f]{64}$/);
  });
});
