/**
 * caddy/Caddyfile is valid and wires what the platform relies on: bare domain → manager (its /apps/... → the
 * orchestrators), wildcard → orchestrators with on-demand TLS guarded by /api/v1/tls-ask, retries on another
 * orchestrator (lb_try_duration, fail_duration, /readyz checks), explicit bind, HTTP→HTTPS for known hosts,
 * catch-all 404; both Caddyfiles pass `caddy validate` with an empty environment. (The ask endpoint's answers are
 * tested in api.test.ts; Caddyfile.local runs for real in cluster-caddy.test.ts.) Skips when `caddy` is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { skipWithoutCaddy } from '../helpers/caddy.ts';

const CADDYFILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../caddy/Caddyfile');
const LOCAL = `${CADDYFILE}.local`;
const skip = skipWithoutCaddy();

interface Route {
  match?: { host?: string[]; path?: string[] }[];
  handle: Record<string, unknown>[];
}

function adapt(env: Record<string, string>, file = CADDYFILE) {
  const r = spawnSync('caddy', ['adapt', '--config', file, '--adapter', 'caddyfile'], {
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
    // path form on the bare domain goes to the orchestrators, /metrics is not exposed
    expect(JSON.stringify(byPath(bare, '/apps/*'))).toContain('"upstreams":[{"dial":"10.0.0.2:8081"},{"dial":"10.0.0.3:8081"}]');
    expect(JSON.stringify(byPath(bare, '/metrics'))).toContain('"status_code":404');
    const wild = https.routes.find((r) => r.match?.[0]?.host?.includes('*.pi.example.org'))!;
    expect(JSON.stringify(wild)).toContain('{"dial":"10.0.0.2:8081"},{"dial":"10.0.0.3:8081"}');
    expect(JSON.stringify(wild)).not.toContain('10.0.0.1:8080');
    for (const r of [byPath(bare, '/apps/*'), wild]) expectFailover(r);
    expect(JSON.stringify(j.apps.tls.automation.policies)).toContain('"email":"ops@example.org"');
    expect(flat).toContain('"max_idle_conns_per_host":256');
    // HTTP: redirect for known hosts, then a catch-all 404 (not Caddy's empty 200)
    const last = http.routes.at(-1)!;
    expect(last.match).toBeUndefined();
    expect(JSON.stringify(last)).toContain('"status_code":404');
    expect(JSON.stringify(http.routes[0])).toContain('"status_code":301');
  });

  it('should pass `caddy validate` with an empty environment, both files, with the documented defaults', () => {
    // no variable at all, only where Caddy may write (without HOME/XDG it writes ./caddy/pki in its cwd)
    const data = mkdtempSync(path.join(tmpdir(), 'picloud-caddy-validate-'));
    for (const file of [CADDYFILE, LOCAL]) {
      const r = spawnSync('caddy', ['validate', '--config', file, '--adapter', 'caddyfile'], { encoding: 'utf8', cwd: data, env: { XDG_DATA_HOME: data, XDG_CONFIG_HOME: data } });
      expect(r.status, `${file}: ${r.stderr}`).toBe(0);
      expect(r.stdout + r.stderr).toContain('Valid configuration');
      expect(r.stderr).not.toMatch(/not formatted/);
    }
    // set but empty (what compose passes for an unset `${PICLOUD_ACME_EMAIL:-}`) is no email either
    const empty = spawnSync('caddy', ['validate', '--config', CADDYFILE, '--adapter', 'caddyfile'], { encoding: 'utf8', cwd: data, env: { XDG_DATA_HOME: data, XDG_CONFIG_HOME: data, PICLOUD_ACME_EMAIL: '', PICLOUD_DOMAIN: 'pi.example.org' } });
    expect(empty.status, empty.stderr).toBe(0);
    expect(JSON.stringify(adapt({ PICLOUD_ACME_EMAIL: '', PICLOUD_DOMAIN: 'pi.example.org' }))).not.toContain('"email"');
    rmSync(data, { recursive: true, force: true });
    const j = adapt({});
    expect(JSON.stringify(j)).not.toContain('"email"');
    const servers = Object.values(j.apps.http.servers) as { listen: string[] }[];
    expect(servers.flatMap((s) => s.listen).sort()).toEqual(['0.0.0.0:443', '0.0.0.0:80']);
    expect(JSON.stringify(j)).toContain('"dial":"127.0.0.1:8080"');
  });

  it('should route the same way over plain HTTP in Caddyfile.local', () => {
    const j = adapt({ PICLOUD_DOMAIN: 'pi.lan', PICLOUD_MANAGER: '10.0.0.1:8080', PICLOUD_ORCHESTRATORS: '10.0.0.2:8081 10.0.0.3:8081', PICLOUD_BIND: '127.0.0.1', PICLOUD_HTTP_PORT: '8000' }, LOCAL);
    expect(j.apps.tls).toBeUndefined();
    const servers = Object.values(j.apps.http.servers) as { listen: string[]; routes: Route[]; automatic_https?: { disable?: boolean } }[];
    expect(servers.map((s) => s.listen)).toEqual([['127.0.0.1:8000']]);
    const routes = servers[0]!.routes;
    const bare = routes.find((r) => r.match?.[0]?.host?.includes('pi.lan'))!;
    const wild = routes.find((r) => r.match?.[0]?.host?.includes('*.pi.lan'))!;
    expect(JSON.stringify(bare)).toContain('"dial":"10.0.0.1:8080"');
    expect(JSON.stringify(byPath(bare, '/apps/*'))).toContain('"upstreams":[{"dial":"10.0.0.2:8081"},{"dial":"10.0.0.3:8081"}]');
    expect(JSON.stringify(byPath(bare, '/metrics'))).toContain('"status_code":404');
    expect(JSON.stringify(wild)).toContain('{"dial":"10.0.0.2:8081"},{"dial":"10.0.0.3:8081"}');
    for (const r of [byPath(bare, '/apps/*'), wild]) expectFailover(r);
    expect(routes.at(-1)!.match).toBeUndefined();
    expect(JSON.stringify(routes.at(-1))).toContain('"status_code":404');
  });
});

/** The route of a site's `handle <path>` block (a subroute of the site's route). */
function byPath(site: Route, p: string): Route {
  const sub = (site.handle[0] as { routes: Route[] }).routes;
  const r = sub.find((x) => x.match?.some((m) => m.path?.includes(p)));
  expect(r, `handle ${p}`).toBeDefined();
  return r!;
}

/** The orchestrators' reverse_proxy retries elsewhere, skips a failed one and polls /readyz. */
function expectFailover(route: Route): void {
  const s = JSON.stringify(route);
  expect(s).toContain('"try_duration":2000000000');
  expect(s).toContain('"try_interval":100000000');
  expect(s).toContain('"fail_duration":10000000000');
  expect(s).toContain('"uri":"/readyz"');
  expect(s).toContain('"selection_policy":{"policy":"least_conn"}');
}
