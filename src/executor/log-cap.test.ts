import { describe, expect, it } from 'vitest';
import { InvocationLog, MAX_LOG_BYTES, MAX_LOG_LINE, MAX_LOG_LINES } from './log-cap.ts';

const bytes = (l: InvocationLog): number => l.lines.reduce((n, x) => n + Buffer.byteLength(x.msg), 0);

describe('the per-invocation log cap', () => {
  it('should keep short logs whole', () => {
    const l = new InvocationLog();
    for (let i = 0; i < 10; i++) l.add('print', `line ${i}`, i);
    expect(l.lines).toHaveLength(10);
    expect(l.lines[9]).toEqual({ level: 'print', msg: 'line 9', t: 9 });
  });
  it('should stop at MAX_LOG_LINES lines, then one marker counting the rest', () => {
    const l = new InvocationLog();
    for (let i = 0; i < 5000; i++) l.add('print', 'x', i);
    expect(l.lines).toHaveLength(MAX_LOG_LINES + 1);
    expect(l.lines.at(-1)!.msg).toMatch(/^\[log truncated: .*; 4000 more lines \(4000 bytes\) not stored\]$/);
  });
  it('should stop at MAX_LOG_BYTES bytes, long lines cut (0.1 stored 8 MB)', () => {
    const l = new InvocationLog();
    for (let i = 0; i < 1000; i++) l.add('debug', 'é'.repeat(20_000), i);
    const marker = l.lines.at(-1)!;
    expect(marker.msg).toMatch(/log truncated/);
    expect(bytes(l) - Buffer.byteLength(marker.msg)).toBeLessThanOrEqual(MAX_LOG_BYTES);
    expect(l.lines[0]!.msg.length).toBe(MAX_LOG_LINE + 1);
    expect(l.lines.filter((x) => x.msg.includes('log truncated'))).toHaveLength(1);
  });
});
