/**
 * caddy/Caddyfile.local run by the real Caddy in front of stand-in upstreams (a "manager" and two "orchestrators",
 * tiny HTTP servers that say who they are): the bare domain sends /apps/... to the orchestrators and the rest to
 * the manager, /metrics answers 404, app hosts go to the orchestrators, unknown hosts 404, and a killed
 * orchestrator costs no request (lb_try_duration retries on the other). Skips when `caddy` is not installed.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutCaddy, startCaddy, type RunningCaddy } from '../helpers/caddy.ts';
import { freePort } from '../helpers/cluster.ts';

const LOCAL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../caddy/Caddyfile.local');
const skip = skipWithoutCaddy();

/** A stand-in upstream answering `<name> <path> <host>` (and 200 on /readyz). */
async function upstream(name: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${name} ${req.url} ${req.headers.host}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

function get(port: number, host: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(skip)('caddy/Caddyfile.local', () => {
  let caddy: RunningCaddy | undefined;
  let port: number;
  const ups: { server: http.Server; port: number }[] = [];

  beforeAll(async () => {
    ups.push(await upstream('manager'), await upstream('orch-a'), await upstream('orch-b'));
    port = await freePort();
    caddy = await startCaddy({
      config: LOCAL,
      env: {
        PICLOUD_DOMAIN: 'pi.test', PICLOUD_BIND: '127.0.0.1', PICLOUD_HTTP_PORT: String(port),
        PICLOUD_MANAGER: `127.0.0.1:${ups[0]!.port}`, PICLOUD_ORCHESTRATORS: `127.0.0.1:${ups[1]!.port} 127.0.0.1:${ups[2]!.port}`,
      },
      ready: async () => (await get(port, 'pi.test', '/')).status === 200,
    });
  });
  afterAll(async () => {
    await caddy?.stop();
    for (const u of ups) u.server.close();
  });

  it('should route the bare domain, app hosts and unknown hosts as the contract says', async () => {
    expect((await get(port, 'pi.test', '/dashboard')).body).toMatch(/^manager \/dashboard/);
    expect((await get(port, 'pi.test', '/apps/hello/x')).body).toMatch(/^orch-[ab] \/apps\/hello\/x pi\.test/);
    expect((await get(port, 'pi.test', '/metrics')).status).toBe(404);
    expect((await get(port, 'hello.pi.test', '/x')).body).toMatch(/^orch-[ab] \/x hello\.pi\.test/);
    expect((await get(port, 'feature--hello.pi.test', '/metrics')).body).toMatch(/^orch-[ab] \/metrics/);
    expect((await get(port, 'other.example', '/')).status).toBe(404);
    // both orchestrators take requests
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add((await get(port, 'hello.pi.test', '/')).body.slice(0, 6));
    expect(seen).toEqual(new Set(['orch-a', 'orch-b']));
  });

  it('should lose no request when an orchestrator dies', async () => {
    const dead = ups[1]!;
    dead.server.closeAllConnections();
    await new Promise<void>((r) => dead.server.close(() => r()));
    const rs = await Promise.all(Array.from({ length: 30 }, () => get(port, 'hello.pi.test', '/after')));
    expect(rs.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    expect(rs.every((r) => r.body.startsWith('orch-b'))).toBe(true);
  });
});
