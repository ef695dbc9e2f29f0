import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { untraversableAncestors } from './embedded.ts';

const base = mkdtempSync(path.join(tmpdir(), 'picloud-trav-'));
afterAll(() => {
  chmodSync(path.join(base, 'locked'), 0o755);
  rmSync(base, { recursive: true, force: true });
});

describe('untraversableAncestors', () => {
  it('should name every directory above the target that others cannot enter', () => {
    chmodSync(base, 0o755);
    mkdirSync(path.join(base, 'locked', 'inner', 'node_modules'), { recursive: true });
    chmodSync(path.join(base, 'locked'), 0o700);
    expect(untraversableAncestors(path.join(base, 'locked', 'inner', 'node_modules'))).toEqual([`${path.join(base, 'locked')} (mode 700)`]);
    expect(untraversableAncestors(base)).toEqual([]);
  });
});
