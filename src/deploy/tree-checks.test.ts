import { describe, expect, it } from 'vitest';
import { checkSymlink, checkTreeShape, decodeUtf8, firstInvalidUtf8 } from './tree-checks.ts';

describe('tree checks', () => {
  it('should find the first invalid UTF-8 byte, including overlongs and surrogates', () => {
    expect(firstInvalidUtf8(Buffer.from('héllo ✓ 😀', 'utf8'))).toBe(-1);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xff]))).toBe(1);
    expect(firstInvalidUtf8(Buffer.from([0xc0, 0x80]))).toBe(0);
    expect(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82]))).toBe(1);
  });

  it('should report the line and column of a bad byte', () => {
    expect(decodeUtf8('f.txt', Buffer.from([0x61, 0x0a, 0xc3, 0xa9, 0x62, 0xfe]))).toEqual({
      diagnostic: { path: 'f.txt', line: 2, col: 3, message: 'file is not valid UTF-8 (byte 0xfe at offset 5)' },
    });
  });

  it('should flag symlinks leaving the repository only', () => {
    expect(checkSymlink({ path: 'a/l', mode: '120000', size: 1 }, '../b.rhai')).toBeNull();
    expect(checkSymlink({ path: 'a/l', mode: '120000', size: 1 }, '../../x')).not.toBeNull();
    expect(checkSymlink({ path: 'l', mode: '120000', size: 1 }, '/etc/passwd')).not.toBeNull();
  });

  it('should enforce per-file, total and count limits', () => {
    const limits = { maxFileBytes: 10, maxTotalBytes: 15, maxFiles: 2 };
    const r = checkTreeShape([{ path: 'a', mode: '100644', size: 11 }, { path: 'b', mode: '100644', size: 8 }, { path: 'c', mode: '100644', size: 8 }], limits);
    expect(r.diagnostics.map((d) => `${d.path}: ${d.message}`)).toEqual([
      '.: the tree has 3 files, over the limit of 2',
      'a: file is 11 bytes, over the per-file limit of 10 bytes',
      '.: the tree is 27 bytes, over the total limit of 15 bytes',
    ]);
    expect(r.readable).toEqual([]);
  });
});
