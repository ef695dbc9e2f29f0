import { describe, expect, it } from 'vitest';
import { RFloat, RhaiError } from '../rhai/index.ts';
import { makeRedirect, makeResponse, mapError, mapValue } from './response.ts';

describe('response mapping', () => {
  it('should map strings to 200 text/plain', () => {
    expect(mapValue('hi')).toEqual({ status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'hi' });
  });
  it('should map maps, arrays, numbers and bools to 200 JSON', () => {
    expect(mapValue(new Map([['a', 1]]))).toMatchObject({ status: 200, body: '{"a":1}' });
    expect(mapValue([1, true])).toMatchObject({ status: 200, body: '[1,true]' });
    expect(mapValue(new RFloat(1.5))).toMatchObject({ status: 200, body: '1.5' });
    expect(mapValue(false).headers['content-type']).toMatch(/json/);
  });
  it('should map () to 204', () => {
    expect(mapValue(undefined)).toEqual({ status: 204, headers: {}, body: '' });
  });
  it('should map response() and redirect() and reject bad statuses', () => {
    expect(mapValue(makeResponse(201, new Map([['x', 1]]), new Map([['X-A', 'b']])))).toEqual({
      status: 201, headers: { 'x-a': 'b', 'content-type': 'application/json; charset=utf-8' }, body: '{"x":1}',
    });
    expect(mapValue(makeRedirect('/next'))).toEqual({ status: 302, headers: { location: '/next' }, body: '' });
    expect(() => makeResponse(99, 'x')).toThrow(RhaiError);
  });
  it('should not treat a script map with a "$response" key as a response', () => {
    expect(mapValue(new Map<string, unknown>([['$response', true], ['status', 500]]) as never).status).toBe(200);
  });
  it('should classify limits as 504 and other errors as 500 without internals', () => {
    expect(mapError(new RhaiError('ErrorTooManyOperations', 'Too many operations'), false).status).toBe(504);
    expect(mapError(new RhaiError('ErrorTerminated', 'Script terminated'), true).status).toBe(504);
    const e = mapError(new RhaiError('ErrorRuntime', 'boom'), false);
    expect(e).toMatchObject({ status: 500, body: { error: 'boom' } });
    expect(JSON.stringify(mapError(new Error('SELECT * FROM secret'), false).body)).not.toContain('SELECT');
  });
});
