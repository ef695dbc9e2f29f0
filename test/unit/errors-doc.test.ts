/** Every error code in the registry has a row in docs/errors.md, and every documented code exists (Fastify-style). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/common/errors.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('docs/errors.md', () => {
  const doc = readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|/gm)].map((m) => m[1]!));

  it('should document every code in the registry', () => {
    expect(Object.keys(ERROR_CODES).filter((c) => !documented.has(c))).toEqual([]);
  });

  it('should not document codes that do not exist', () => {
    expect([...documented].filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });
});
