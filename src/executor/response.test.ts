import { describe, expect, it } from 'vitest';
import { compile, Engine, RFloat, RhaiError } from '../rhai/index.ts';
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

describe('responses never speak HTTP framing (issue 8)', () => {
  const err = (f: () => unknown): string => {
    try {
      mapValue(f() as never);
    } catch (e) {
      expect(e).toBeInstanceOf(RhaiError);
      return (e as RhaiError).message;
    }
    throw new Error('expected a script error');
  };
  it('should accept statuses 200 to 599 only', () => {
    for (const s of [100, 101, 103, 199, 600, 1000, -1]) expect(err(() => makeResponse(s, 'x'))).toMatch(/invalid HTTP status/);
    expect(mapValue(makeResponse(200, 'x')).status).toBe(200);
    expect(mapValue(makeResponse(599, 'x')).status).toBe(599);
  });
  it('should drop hop-by-hop and framing headers', () => {
    const h = new Map<string, unknown>([
      ['Connection', 'upgrade'], ['Upgrade', 'websocket'], ['Transfer-Encoding', 'chunked'], ['Content-Length', '5'],
      ['TE', 'trailers'], ['Trailer', 'x'], ['Keep-Alive', 'timeout=5'], ['Proxy-Authenticate', 'Basic'], ['X-Kept', 'yes'],
    ]);
    expect(mapValue(makeResponse(200, 'hello', h as never)).headers).toEqual({ 'x-kept': 'yes', 'content-type': 'text/plain; charset=utf-8' });
  });
  it('should refuse bad header names and control characters in values', () => {
    expect(err(() => makeResponse(200, 'x', new Map([['bad name', 'v']])))).toMatch(/invalid header name/);
    expect(err(() => makeResponse(200, 'x', new Map([['x-a', 'a\r\nSet-Cookie: s=1']])))).toMatch(/control character/);
    expect(err(() => makeResponse(200, 'x', new Map([['x-a', 'a\u0000']])))).toMatch(/control character/);
  });
  it('should send non-ASCII header values as UTF-8 bytes', () => {
    const v = mapValue(makeResponse(200, 'x', new Map([['x-name', 'Zoë']]))).headers['x-name']!;
    expect(Buffer.from(v, 'latin1').toString('utf8')).toBe('Zoë');
  });
  it('should allow only http:, https: and relative redirects', () => {
    for (const u of ['javascript:alert(1)', ' JavaScript:alert(1)', 'java\tscript:alert(1)', 'data:text/html,x', 'file:///etc/passwd', 'vbscript:x']) {
      expect(() => makeRedirect(u), u).toThrow(/only http:, https: and relative URLs/);
    }
    expect(err(() => makeResponse(302, '', new Map([['Location', 'javascript:alert(1)']])))).toMatch(/only http:/);
    expect(mapValue(makeRedirect('https://example.com/a?b=c#d')).headers.location).toBe('https://example.com/a?b=c#d');
    expect(mapValue(makeRedirect('/next?x=1')).headers.location).toBe('/next?x=1');
    expect(mapValue(makeRedirect('//example.com/x')).headers.location).toBe('//example.com/x');
  });
  it('should percent-encode a Location correctly', () => {
    expect(mapValue(makeRedirect('/café/ü?q=日本 x')).headers.location).toBe('/caf%C3%A9/%C3%BC?q=%E6%97%A5%E6%9C%AC%20x');
    expect(mapValue(makeRedirect('/already%20encoded/100%')).headers.location).toBe('/already%20encoded/100%25');
    expect(mapValue(makeRedirect('https://bücher.example/straße')).headers.location).toBe('https://xn--bcher-kva.example/stra%C3%9Fe');
    expect(mapValue(makeResponse(301, '', new Map([['location', '/ü']]))).headers.location).toBe('/%C3%BC');
  });
});

describe('mapError positions', () => {
  const errorOf = (src: string, fn: string): unknown => {
    const r = compile(src);
    if (!r.ok) throw new Error('test script does not compile');
    try {
      new Engine().callFn(r.program, fn, [1]);
    } catch (e) {
      return e;
    }
    throw new Error('no error');
  };
  it('reports the line that failed, inside called functions, not the outer call site', () => {
    const e = errorOf('fn f(x) {\n  let a = 1;\n  throw "bad";\n}\nfn handle(ctx) {\n  f(1)\n}\n', 'handle');
    expect(mapError(e, false)).toMatchObject({ status: 500, body: { line: 3, position: 3 } });
    const n = errorOf('fn handle(ctx) {\n  let a = 1;\n  let b = a.nope();\n}\n', 'handle');
    expect(mapError(n, false).body).toMatchObject({ error: expect.stringMatching(/^Function not found: nope/), line: 3, position: 13 });
  });
  it('maps an operation limit hit inside a called function to 504', () => {
    const r = compile('fn spin() { loop {} }\nfn handle(ctx) { spin() }\n');
    if (!r.ok) throw new Error('no compile');
    let err: unknown;
    try {
      new Engine({ limits: { maxOperations: 1000 } }).callFn(r.program, 'handle', [1]);
    } catch (e) {
      err = e;
    }
    expect(mapError(err, false).status).toBe(504);
  });
});
