import { describe, expect, it } from 'vitest';
import { invocationRowCopy, isoTime, storableText, type InvocationRow } from './invocation-row.ts';

const base: InvocationRow = {
  appId: 7, app: 'a', branch: 'main', releaseId: 3, trigger: 'http', route: '/r/:id', method: 'GET', path: '/r/1',
  status: 200, durationMs: 0.25, operations: 12, cold: true, logs: [], error: null, at: Date.UTC(2026, 11, 3, 10, 0, 0, 250),
};

/** Undo COPY text-format escaping of one field, the way PostgreSQL reads it. */
function unescape(f: string): string | null {
  if (f === '\\N') return null;
  return f.replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t', '\\': '\\' })[c] ?? c);
}

describe('invocationRowCopy', () => {
  it('should write the 14 columns tab-separated, with \\N for NULL and the start time last', () => {
    const f = invocationRowCopy(base).split('\t');
    expect(f).toEqual(['7', 'main', '3', 'http', '/r/:id', 'GET', '/r/1', '200', '0.25', '12', 't', '[]', '\\N', '2026-12-03T10:00:00.250Z']);
    expect(invocationRowCopy({ ...base, releaseId: null, cold: false }).split('\t')[2]).toBe('\\N');
  });

  it('should escape tabs, newlines, carriage returns and backslashes so one row stays one line', () => {
    const nasty = 'a\tb\nc\rd\\e\\N';
    const line = invocationRowCopy({ ...base, path: nasty, error: nasty, logs: [{ level: 'print', msg: nasty, t: 1 }] });
    expect(line).not.toMatch(/[\n\r]/);
    const f = line.split('\t');
    expect(f).toHaveLength(14);
    expect(unescape(f[6]!)).toBe(nasty);
    expect(unescape(f[12]!)).toBe(nasty);
    expect(JSON.parse(unescape(f[11]!)!)).toEqual([{ level: 'print', msg: nasty, t: 1 }]);
  });

  it('should replace NUL and lone surrogates, which PostgreSQL cannot store, with U+FFFD', () => {
    const bad = 'x\u0000y\ud800z\udc00';
    expect(storableText(bad)).toBe('x\uFFFDy\uFFFDz\uFFFD');
    expect(storableText('ok 😀')).toBe('ok 😀');
    const f = invocationRowCopy({ ...base, error: bad, logs: [{ level: 'debug', msg: bad, t: 0 }] }).split('\t');
    expect(f[12]).toBe('x\uFFFDy\uFFFDz\uFFFD');
    expect(f[11]).not.toContain('\\u0000');
    expect(JSON.parse(unescape(f[11]!)!)[0].msg).toBe('x\uFFFDy\uFFFDz\uFFFD');
  });
});

describe('isoTime', () => {
  it('should equal toISOString for times in one second, across seconds and with fractional milliseconds', () => {
    const t0 = Date.UTC(2026, 11, 3, 23, 59, 58, 0);
    for (const ms of [t0, t0 + 5, t0 + 45.7, t0 + 999.99, t0 + 1000, t0 + 1003, t0 + 7, 0, 86_399_999.5, 253_402_300_799_999]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
  });
});
