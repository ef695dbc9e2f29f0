/**
 * Scripts cannot speak HTTP framing through a real Caddy (issue 8, acceptance 3): the server runs on loopback
 * behind `caddy run` with the production Caddyfile's shape for the bare host (`respond /metrics 404`, then
 * reverse_proxy). A script's `response(101, …, #{connection: "upgrade", upgrade: "websocket"})` used to make
 * Caddy switch protocols and tunnel the client's next bytes to the server, which then answered /metrics past
 * Caddy's 404; statuses 100/103 hung Caddy; a script's transfer-encoding produced both framing headers.
 * Skips when `caddy` is not installed (apt-get install -y caddy), like caddy.test.ts.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutCaddy, startCaddy, type RunningCaddy } from '../helpers/caddy.ts';
import { freePort } from '../helpers/cluster.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const skip = skipWithoutCaddy();

let srv: TestServer;
let caddy: RunningCaddy | undefined;
let port = 0;

/** Write raw bytes, collect what comes back for `ms` (or until the peer closes). */
function raw(chunks: string[], ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, ms);
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      if (out) resolve(out);
      else reject(e);
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        sock.write(c);
        await new Promise((r) => setTimeout(r, 300));
      }
    });
  });
}

beforeAll(async () => {
  if (skip) return;
  srv = await startTestServer();
  await pushRelease(srv.pool, {
    app: 'framing',
    scripts: {
      'ok.rhai': '"ok"',
      'up.rhai': 'response(101, "", #{ connection: "upgrade", upgrade: "websocket" })',
      'cont.rhai': 'response(100, "")',
      'early.rhai': 'response(103, "", #{ link: "</x>; rel=preload" })',
      'te.rhai': 'response(200, "hello", #{ "transfer-encoding": "chunked", "content-length": "99", te: "trailers", "keep-alive": "timeout=1", "x-ok": "1" })',
    },
    routes: [
      { path: '/ok', script: 'ok.rhai' },
      { path: '/upgrade', script: 'up.rhai' },
      { path: '/continue', script: 'cont.rhai' },
      { path: '/early', script: 'early.rhai' },
      { path: '/te', script: 'te.rhai' },
    ],
  });
  await waitFor(async () => (await fetch(`${srv.url}/apps/framing/ok`)).status === 200, 10_000, 'release live');
  port = await freePort();
  caddy = await startCaddy({
    config: (dir) =>
      `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${dir}\n}\n\nhttp://127.0.0.1:${port} {\n\tbind 127.0.0.1\n\trespond /metrics 404\n\treverse_proxy 127.0.0.1:${srv.port}\n}\n`,
    ready: async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200,
    timeoutMs: 15_000,
  });
}, 60_000);

afterAll(async () => {
  await caddy?.stop('SIGTERM');
  await srv?.close();
});

describe.skipIf(skip)('script responses through real Caddy', () => {
  it('should answer /metrics 404 through Caddy (the guard the 101 attempt used to bypass)', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.status).toBe(404);
  });

  it('should not switch protocols when a script answers 101 with upgrade headers', async () => {
    const host = `127.0.0.1:${port}`;
    const out = await raw(
      [
        `GET /apps/framing/upgrade HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
        `GET /metrics HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      ],
      3000,
    );
    expect(out.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 500 /);
    expect(out).not.toMatch(/^HTTP\/1\.1 101/m);
    expect(out).toContain('invalid HTTP status 101');
    // the next request on the connection is still HTTP through Caddy: /metrics is Caddy's 404, never the server's
    expect(out).not.toContain('process_cpu_seconds_total');
    expect(out).not.toContain('picloud_');
  });

  it('should answer statuses 100 and 103 from a script at once with a script error', async () => {
    for (const p of ['/apps/framing/continue', '/apps/framing/early']) {
      const t0 = Date.now();
      const r = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(5000) });
      expect(r.status, p).toBe(500);
      expect(((await r.json()) as { error: string }).error).toMatch(/invalid HTTP status 10[03]/);
      expect(Date.now() - t0).toBeLessThan(5000);
    }
  });

  it('should frame the body itself whatever framing headers the script set', async () => {
    const out = await raw([`GET /apps/framing/te HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`], 3000);
    const head = out.slice(0, out.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toMatch(/^http\/1\.1 200/);
    expect(head).toContain('x-ok: 1');
    expect(head).toContain('content-length: 5');
    expect(head).not.toContain('transfer-encoding');
    expect(head).not.toMatch(/^te:/m);
    expect(head).not.toContain('keep-alive: timeout=1');
    expect(out.endsWith('\r\n\r\nhello')).toBe(true);
  });
});
