import { describe, expect, it } from 'vitest';
import { Engine, toJSON } from '../rhai/index.ts';
import { ctxValue, JSON_MAX_DEPTH, jsonDepthWithin, parseJsonBody, type CtxData } from './ctx.ts';

const data = (body: string): CtxData => ({
  trigger: 'http', method: 'POST', path: '/', params: {}, query: {}, headers: {}, body, env: {}, app: 'a', branch: 'main', release: 1,
});

describe('ctx.json', () => {
  it('should measure nesting linearly, ignoring brackets inside strings', () => {
    expect(jsonDepthWithin('[[1]]', 2)).toBe(true);
    expect(jsonDepthWithin('[[[1]]]', 2)).toBe(false);
    expect(jsonDepthWithin('{"a":"[[[[[\\"[[[["}', 1)).toBe(true);
    expect(jsonDepthWithin('[{"a":[]},{"b":[]}]', 3)).toBe(true);
    const deep = '['.repeat(500_000) + ']'.repeat(500_000);
    const t0 = performance.now();
    expect(jsonDepthWithin(deep, JSON_MAX_DEPTH)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
  it('should be () for a body nested deeper than JSON_MAX_DEPTH, parsed up to it', () => {
    expect(parseJsonBody('['.repeat(500_000) + ']'.repeat(500_000))).toBeUndefined();
    expect(parseJsonBody('['.repeat(JSON_MAX_DEPTH + 1) + ']'.repeat(JSON_MAX_DEPTH + 1))).toBeUndefined();
    expect(parseJsonBody('['.repeat(JSON_MAX_DEPTH) + ']'.repeat(JSON_MAX_DEPTH))).toBeDefined();
  });
  it('should parse only when read (get, iteration or copy)', () => {
    const m = ctxValue(data('{"n":1}')) as Map<string, unknown>;
    expect(m.has('json')).toBe(true);
    expect(Map.prototype.get.call(m, 'json')).toBeUndefined();
    expect(toJSON(m.get('json') as never)).toEqual({ n: 1 });
    // a script's copy (`let c = ctx`, a function argument) iterates the map, which parses first
    expect(toJSON(new Engine().eval('let c = ctx; c', { ctx: ctxValue(data('[1,2]')) }) as never)).toMatchObject({ json: [1, 2] });
    expect(toJSON(new Engine().eval('fn f(c) { c.json } f(ctx)', { ctx: ctxValue(data('{"a":[1]}')) }) as never)).toEqual({ a: [1] });
    const set = ctxValue(data('{"n":1}')) as Map<string, unknown>;
    set.set('json', 5);
    expect(set.get('json')).toBe(5);
    expect(toJSON(ctxValue(data('not json')) as never)).toMatchObject({ json: null, body: 'not json' });
  });
});
