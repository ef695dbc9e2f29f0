import { describe, expect, it } from 'vitest';
import { decodeInvocation, decodeReply, encodeInvocation, encodeReply } from './redis-lists.ts';
import { errorResult, jobRestJson, type HttpInvocation, type InvocationTarget } from './jobs.ts';

const target: InvocationTarget = Object.freeze({
  appId: 7, app: 'a', branch: 'main', releaseId: 3, version: 2, scriptPath: 'h.rhai', scriptHash: 'ab'.repeat(32), fn: null, env: { K: 'v\tw' },
  limits: { maxOperations: 1000, timeoutMs: 500, maxBodyBytes: 10, maxStringSize: 10, maxArraySize: 10, maxMapSize: 10, maxCallLevels: 8, concurrency: 0 },
});
const job: HttpInvocation = { kind: 'http', id: 'r1', target, route: '/x', method: 'POST', path: '/x', params: {}, query: { q: '1' }, headers: { host: 'h' }, body: 'line1\nline2\ttab' };

describe('redis-lists wire format', () => {
  it('should carry an invocation through one list element, its job text forwarded as it came', () => {
    const d = decodeInvocation(encodeInvocation('pc:reply:1', 12345, job));
    expect(d).toMatchObject({ replyTo: 'pc:reply:1', deadline: 12345 });
    expect(d.job).toEqual(job);
    const { target: _t, ...rest } = job;
    expect(jobRestJson(d.job)).toBe(JSON.stringify(rest));
    // the kept text is not a field of the job
    expect(Object.keys(d.job).sort()).toEqual(Object.keys(job).sort());
  });

  it('should carry a result as [id, status, headers, body, error] and a taken notice as is', () => {
    const r = { ...errorResult(503, 'busy', { code: 'NO_CAPACITY' }), body: 'a\nb' };
    const line = encodeReply({ id: 'r1', result: r });
    expect(line).not.toContain('\n');
    expect(decodeReply(line)).toEqual({ id: 'r1', result: { status: 503, headers: r.headers, body: 'a\nb', error: 'busy', durationMs: 0, operations: 0, cold: false, logs: [] } });
    expect(decodeReply(encodeReply({ taken: 'ex1', ids: ['r1', 'r2'] }))).toEqual({ taken: 'ex1', ids: ['r1', 'r2'] });
  });
});
