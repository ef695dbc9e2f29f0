import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('PICLOUD_LANES', () => {
  it('should default to loopback on a free port', () => {
    expect(loadConfig({}).lanes).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('should read off, a port, host:port, [ipv6]:port and the advertised host', () => {
    expect(loadConfig({ PICLOUD_LANES: 'off' }).lanes).toBeNull();
    expect(loadConfig({ PICLOUD_LANES: '7070' }).lanes).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(loadConfig({ PICLOUD_LANES: '10.0.0.11:7070' }).lanes).toEqual({ host: '10.0.0.11', port: 7070 });
    expect(loadConfig({ PICLOUD_LANES: '[::]:7070', PICLOUD_LANES_ADVERTISE: 'fd00::11' }).lanes).toEqual({ host: '::', port: 7070, advertise: 'fd00::11' });
  });

  it('should refuse a malformed value with the variable named', () => {
    expect(() => loadConfig({ PICLOUD_LANES: '10.0.0.11:99999' })).toThrow(/PICLOUD_LANES/);
    expect(() => loadConfig({ PICLOUD_LANES: 'somewhere' })).toThrow(/PICLOUD_LANES/);
  });
});
