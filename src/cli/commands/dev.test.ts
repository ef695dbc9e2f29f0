import { describe, expect, it } from 'vitest';
import { appNameFromDir, formatDevInvocation } from './dev.ts';

describe('picloud dev', () => {
  it('makes a valid app name of a directory name', () => {
    expect(appNameFromDir('/x/My_Sample App')).toBe('my-sample-app');
    expect(appNameFromDir('/x/2048')).toBe('app-2048');
    expect(appNameFromDir('/x/a--b')).toBe('a-b');
    expect(appNameFromDir('/x/' + 'long'.repeat(20))).toHaveLength(31);
    expect(appNameFromDir('/x/___')).toBe('app');
  });
  it('prints an invocation with its log lines and a multi-line error indented', () => {
    const line = formatDevInvocation({
      id: 1, app: 'a', branch: 'main', releaseId: 1, version: 1, trigger: 'http', route: '/x', method: 'GET', path: '/x/1',
      status: 500, durationMs: 1.25, operations: 3, cold: false, logs: [{ level: 'print', msg: 'hi' }], error: 'boom\nat line 2', createdAt: '2026-12-03T10:00:00.123Z',
    });
    expect(line).toBe('10:00:00.123 GET /x/1 500 1.3ms\n    print: hi\n    error: boom\n      at line 2');
  });
});
