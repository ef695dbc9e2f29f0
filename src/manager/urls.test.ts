import { describe, expect, it } from 'vitest';
import { loadConfig } from '../common/config.ts';
import { branchSlug, branchUrls, gitUrl, isValidAppName, publicOrigin } from './urls.ts';

const config = loadConfig({ PICLOUD_DOMAIN: 'pi.example.org', PORT: '8080', PICLOUD_HOME: '/tmp/x' });

describe('urls', () => {
  it('should slug branches as the contract says', () => {
    expect(branchSlug('Feature/Login_2')).toBe('feature-login-2');
    expect(branchSlug('a--b')).toBe('a-b');
  });
  it('should validate app names', () => {
    expect(['a', 'my-app', 'a1'].every(isValidAppName)).toBe(true);
    expect(['A', '1a', 'a--b', 'a_b', '', 'a'.repeat(32)].some(isValidAppName)).toBe(false);
  });
  it('should use the server address when the request did not come in on the domain', () => {
    expect(branchUrls(config, 'shop', 'feat/x', false)).toEqual({
      host: 'http://feat-x--shop.pi.example.org:8080/',
      path: 'http://127.0.0.1:8080/apps/feat-x--shop/',
    });
    expect(publicOrigin(config, '127.0.0.1:8080', undefined)).toBeUndefined();
  });
  it('should follow the public origin behind a TLS proxy', () => {
    const o = publicOrigin(config, 'pi.example.org', 'https');
    expect(o).toEqual({ scheme: 'https', port: null });
    expect(branchUrls(config, 'shop', 'main', true, o)).toEqual({ host: 'https://shop.pi.example.org/', path: 'https://pi.example.org/apps/shop/' });
    expect(gitUrl(config, 'shop', o)).toBe('https://pi.example.org/git/shop.git');
    expect(gitUrl(config, 'shop', publicOrigin(config, 'PI.example.org:8443', 'https,http'))).toBe('https://pi.example.org:8443/git/shop.git');
    expect(gitUrl(config, 'shop', publicOrigin(config, 'pi.example.org:80', undefined))).toBe('http://pi.example.org/git/shop.git');
  });
});
