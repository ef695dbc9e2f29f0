import { describe, expect, it } from 'vitest';
import { rewriteHostUrl } from './host-routing.ts';

describe('rewriteHostUrl', () => {
  it('should map app and preview hosts to the path form, and leave the bare host alone', () => {
    expect(rewriteHostUrl('hello.localhost:8080', '/a/b?x=1', 'localhost')).toBe('/apps/hello/a/b?x=1');
    expect(rewriteHostUrl('feature-x--hello.localhost', '/', 'localhost')).toBe('/apps/feature-x--hello/');
    expect(rewriteHostUrl('HELLO.Example.COM', '/z', 'example.com')).toBe('/apps/hello/z');
    expect(rewriteHostUrl('localhost:8080', '/git/a.git/info/refs', 'localhost')).toBe('/git/a.git/info/refs');
    expect(rewriteHostUrl('127.0.0.1:8080', '/', 'localhost')).toBe('/');
    expect(rewriteHostUrl('a.b.localhost', '/', 'localhost')).toBe('/');
    expect(rewriteHostUrl(undefined, '/x', 'localhost')).toBe('/x');
  });
  it("should keep a path that names another app inside the host's own app (no cross-app path on an app host)", () => {
    expect(rewriteHostUrl('api.example.com', '/apps/shortener/stats', 'example.com')).toBe('/apps/api/apps/shortener/stats');
    expect(rewriteHostUrl('shortener.localhost:8080', '/apps/other/', 'localhost')).toBe('/apps/shortener/apps/other/');
    expect(rewriteHostUrl('localhost:8080', '/apps/shortener/stats', 'localhost')).toBe('/apps/shortener/stats');
  });
});
