/**
 * caddy/Caddyfile is valid and wires what the platform relies on: bare domain → manager, wildcard → ingress
 * with on-demand TLS guarded by /api/v1/tls-ask, explicit bind, HTTP→HTTPS for known hosts, catch-all 404.
 * (The ask endpoint's answers are tested in api.test.ts.) Skips when `caddy` is not installed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missing } from '../helpers/needs.ts';

const CADDYFILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../caddy/Caddyfile');
const haveCaddy = spawnSync('caddy', ['version'], { encoding: 'utf8' }).status === 0;
const skip = missing('caddy', haveCaddy, 'apt-get install -y caddy');

interface Route {
  match?: { host?: string[]; path?: string[] }[];
  handle: Record<string, unknown>[];
}

function adapt(env: Record<string, string>) {
  const r = spawnSync('caddy', ['adapt', '--config', CADDYFILE, '--adapter', 'caddyfile'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).not.toMatch(/not formatted/);
  return JSON.parse(r.stdout);
}

describe.skipIf(skip)('caddy/Caddyfile', () => {
  it('should adapt with the documented variables and route hosts as the platform expects', () => {
    const j = adapt({
      PICLOUD_DOMAIN: 'pi.example.org',
      PICLOUD_ACME_EMAIL: 'ops@example.org',
      PICLOUD_MANAGER: '10.0.0.1:8080',
      PICLOUD_ORCHESTRATORS: '10.0.0.2:8081 10.0.0.3:8081',
      PICLOUD_BIND: '192.0.2.10',
    });
    expect(j.admin).toEqual({ disabled: true });
    expect(j.apps.tls.automation.on_demand.ask).toBe('http://10.0.0.1:8080/api/v1/tls-ask');
    const wildcardPolicy = j.apps.tls.automation.policies.find((p: { subjects: string[] }) => p.subjects.includes('*.pi.example.org'));
    expect(wildcardPolicy.on_demand).toBe(true);

    const servers = Object.values(j.apps.http.servers) as { listen: string[]; routes: Route[] }[];
    const https = servers.find((s) => s.listen.includes('192.0.2.10:443'))!;
    const http = servers.find((s) => s.listen.includes('192.0.2.10:80'))!;
    expect(https && http).toBeTruthy();
    const flat = JSON.stringify(https.routes);
    const bare = https.routes.find((r) => r.match?.[0]?.host?.includes('pi.example.org'))!;
    expect(JSON.stringify(bare)).toContain('"dial":"10.0.0.1:8080"');
    expect(JSON.stringify(bare)).toContain('"flush_interval":-1');
    const wild = https.routes.find((r) => r.match?.[0]?.host?.includes('*.pi.example.org'))!;
    expect(JSON.stringify(wild)).toContain('{"dial":"10.0.0.2:8081"},{"dial":"10.0.0.3:8081"}');
    expect(flat).toContain('"max_idle_conns_per_host":256');
    // HTTP: redirect for known hosts, then a catch-all 404 (not Caddy's empty 200)
    const last = http.routes.at(-1)!;
    expect(last.match).toBeUndefined();
    expect(JSON.stringify(last)).toContain('"status_code":404');
    expect(JSON.stringify(http.routes[0])).toContain('"status_code":301');
  });

  it('should refuse to start without an ACME email', () => {
    const r = spawnSync('caddy', ['adapt', '--config', CADDYFILE, '--adapter', 'caddyfile'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/email/);
  });
});
