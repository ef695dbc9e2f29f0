import { describe, expect, it } from 'vitest';
import { lineReader } from './lanes.ts';

describe('lineReader', () => {
  it('should split messages on newlines across chunk boundaries', () => {
    const got: string[] = [];
    const read = lineReader((l) => got.push(l));
    expect(read('a\tb\n{"x"')).toBe(true);
    expect(read(':1}')).toBe(true);
    expect(read('\nlast\n\n')).toBe(true);
    expect(got).toEqual(['a\tb', '{"x":1}', 'last', '']);
  });

  it('should hand a message over only once its newline arrives', () => {
    const got: string[] = [];
    const read = lineReader((l) => got.push(l));
    for (const c of 'héllo wörld') read(c);
    expect(got).toEqual([]);
    read('\n');
    expect(got).toEqual(['héllo wörld']);
  });
});
