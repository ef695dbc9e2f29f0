import { describe, expect, it } from 'vitest';
import { compileRoute, effectiveFetch, effectiveLimits, matchRoute, targetOf, toBranchEntry } from './route-table.ts';
import { DEFAULT_APP_LIMITS, FETCH_LIMITS, PLATFORM_LIMITS } from '../common/config.ts';

const entry = toBranchEntry({
  appId: 1, app: 'a', productionBranch: 'main', branch: 'main', releaseId: 7, version: 3,
  config: { env: { A: 'toml', N: 5 as unknown as string }, limits: { timeout_ms: 999_999, max_body_bytes: 10 } },
  vars: { A: 'var' },
  routes: [
    { idx: 0, methods: ['GET'], path: '/users/:id', scriptPath: 'u.rhai', scriptHash: 'h1', fn: null },
    { idx: 1, methods: ['GET'], path: '/users/me', scriptPath: 'me.rhai', scriptHash: 'h2', fn: 'me' },
    { idx: 2, methods: ['POST', 'PUT'], path: '/items', scriptPath: 'i.rhai', scriptHash: 'h3', fn: null },
    { idx: 3, methods: ['*'], path: '/files/*', scriptPath: 'f.rhai', scriptHash: 'h4', fn: null },
    { idx: 4, methods: ['GET'], path: '/', scriptPath: 'root.rhai', scriptHash: 'h5', fn: null },
  ],
  schedules: [],
});
const match = (method: string, path: string) => matchRoute(entry.routes, method, path.split('/').filter(Boolean));

describe('route-table', () => {
  describe('compileRoute', () => {
    it('should compile params and a final rest segment', () => {
      expect(compileRoute('/a/:b/*')).toEqual({ rest: true, segments: [{ kind: 'static', value: 'a' }, { kind: 'param', name: 'b' }] });
    });
  });
  describe('matchRoute', () => {
    it('should prefer a static segment over a param', () => {
      const m = match('GET', '/users/me');
      expect(m.kind === 'ok' && m.route.scriptPath).toBe('me.rhai');
    });
    it('should capture params', () => {
      expect(match('GET', '/users/42')).toMatchObject({ kind: 'ok', params: { id: '42' } });
    });
    it('should expose the rest as params["*"], any method', () => {
      expect(match('DELETE', '/files/a/b.txt')).toMatchObject({ kind: 'ok', params: { '*': 'a/b.txt' } });
      expect(match('GET', '/files')).toMatchObject({ kind: 'ok', params: { '*': '' } });
    });
    it('should answer method_not_allowed with the allowed methods', () => {
      expect(match('GET', '/items')).toEqual({ kind: 'method_not_allowed', allow: ['POST', 'PUT'] });
    });
    it('should match the root and serve HEAD for GET routes', () => {
      expect(match('HEAD', '/')).toMatchObject({ kind: 'ok' });
      expect(match('GET', '/nope/x')).toEqual({ kind: 'not_found' });
    });
  });
  describe('effective env and limits', () => {
    it('should overlay config vars on [env] and stringify non-strings', () => {
      expect(entry.env).toEqual({ A: 'var', N: '5' });
    });
    it('should cap limits by the platform maxima and default the rest', () => {
      expect(entry.limits.timeoutMs).toBe(PLATFORM_LIMITS.timeoutMs);
      expect(entry.limits.maxBodyBytes).toBe(10);
      expect(entry.limits.maxOperations).toBe(DEFAULT_APP_LIMITS.maxOperations);
      expect(effectiveLimits({ maxOperations: 5 }).maxOperations).toBe(5);
    });
    it('should default [fetch], cap it by the platform and carry it in every target', () => {
      expect(entry.fetch).toEqual({ allow: [], maxRequests: FETCH_LIMITS.maxRequests, timeoutMs: FETCH_LIMITS.timeoutMs });
      expect(effectiveFetch({ allow: ['nas.lan:80', 3], maxRequests: 5000, timeoutMs: 10 })).toEqual({ allow: ['nas.lan:80'], maxRequests: FETCH_LIMITS.maxRequestsCap, timeoutMs: 10 });
      expect(targetOf(entry, entry.routes[0]!).fetch).toBe(entry.fetch);
    });
  });
});
