import { describe, expect, it } from 'vitest';
import { decodeInvocation, decodeReply, encodeInvocation, encodeReply, PendingInvocations, type Pending } from './redis-lists.ts';
import type { AppError } from '../common/errors.ts';
import type { InvocationResult } from './jobs.ts';
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

describe('PendingInvocations', () => {
  const pendingOf = (id: string, appId: number, answers: InvocationResult[]): Pending => ({
    resolve: (r) => answers.push(r), deadline: 0, executor: null, since: 0, onLane: false, epoch: 0, wireDeadline: 0, handedBack: 0,
    job: { ...job, id, target: { ...target, appId, app: `app${appId}` } },
  });
  const code = (e: AppError | null) => e?.code ?? null;

  it('should let one app hold three quarters of what it keeps, and every app the rest', () => {
    const t = new PendingInvocations(8);
    const answers: InvocationResult[] = [];
    for (let i = 0; i < 6; i++) {
      const p = pendingOf(`a${i}`, 1, answers);
      expect(code(t.refusal(p.job))).toBeNull();
      t.add(p);
    }
    const seventh = pendingOf('a6', 1, answers);
    const refused = t.refusal(seventh.job);
    expect(code(refused)).toBe('APP_BUSY');
    expect(refused!.message).toContain('app1 has 6 invocations pending');
    // another app still gets in, up to the whole capacity
    for (let i = 0; i < 2; i++) {
      const p = pendingOf(`b${i}`, 2, answers);
      expect(code(t.refusal(p.job))).toBeNull();
      t.add(p);
    }
    expect(code(t.refusal(pendingOf('b2', 2, answers).job))).toBe('NO_CAPACITY');
    expect(t.size).toBe(8);
  });

  it('should answer each invocation once and give its app its place back', () => {
    const t = new PendingInvocations(4);
    const answers: InvocationResult[] = [];
    for (let i = 0; i < 3; i++) t.add(pendingOf(`a${i}`, 1, answers));
    expect(code(t.refusal(pendingOf('a3', 1, answers).job))).toBe('APP_BUSY');
    const ok = errorResult(200, 'fine');
    expect(t.answer('a0', ok)).toBe(true);
    expect(t.answer('a0', ok)).toBe(false);
    expect(answers).toEqual([ok]);
    expect(code(t.refusal(pendingOf('a3', 1, answers).job))).toBeNull();
    expect(t.byId.has('a0')).toBe(false);
    expect(t.size).toBe(2);
  });
});
