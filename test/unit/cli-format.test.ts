import { describe, expect, it } from 'vitest';
import { formatInvocation } from '../../src/cli/commands/client.ts';

describe('picloud logs line format', () => {
  it('indents the later lines of multi-line log lines and errors under their first', () => {
    const s = formatInvocation({
      id: 1, branch: 'main', version: 2, trigger: 'http', method: 'POST', path: '/a', route: '/a', status: 500, durationMs: 2,
      cold: false, logs: [{ level: 'print', msg: 'one\ntwo' }], error: 'Runtime error: boom\n  in fn f (line 3, position 5)', createdAt: '2026-12-03T10:00:00.000Z',
    });
    expect(s.split('\n')).toEqual([
      '2026-12-03T10:00:00.000Z main v2 POST /a 500 2.0ms',
      '  print: one',
      '    two',
      '  error: Runtime error: boom',
      '      in fn f (line 3, position 5)',
    ]);
  });
});
