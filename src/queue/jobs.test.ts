import { describe, expect, it } from 'vitest';
import { jobRestJson, type HttpInvocation, type InvocationTarget } from './jobs.ts';

const target = Object.freeze({ appId: 1, app: 'a', branch: 'main' }) as unknown as InvocationTarget;

describe('jobRestJson', () => {
  it('should write an HTTP job as JSON.stringify writes its fields other than target', () => {
    const headers = Object.create(null) as Record<string, string>;
    headers.host = 'h:1';
    headers['x-"q"'] = 'a\\b\n\u2028é\u0000';
    headers.__proto__ = 'p';
    const job: HttpInvocation = { kind: 'http', id: 'r1', target, route: '/x/:id', method: 'POST', path: '/x/1', params: { id: '1' }, query: Object.create(null) as Record<string, string>, headers, body: '{"a":[1]}\ttab' };
    const { target: _t, ...rest } = job;
    expect(jobRestJson(job)).toBe(JSON.stringify(rest));
    expect(JSON.parse(jobRestJson(job)).headers).toEqual({ host: 'h:1', 'x-"q"': 'a\\b\n\u2028é\u0000', ['__proto__']: 'p' });
  });
});
