/**
 * Slow clients cannot hold a connection forever (issue 8): a client that drips a request's body or headers gets
 * `408 REQUEST_TIMEOUT` and a closed connection once PICLOUD_REQUEST_TIMEOUT_MS passes (1.5 s here), on the
 * ingress and on the API alike; a request that arrives in time is served. The drip is bounded (at most 8 s).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;

/** Send `head`, then one byte every `everyMs` until the server answers and closes (or `maxMs`). */
function drip(head: string, everyMs: number, maxMs: number): Promise<{ out: string; ms: number; closed: boolean }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect(srv.port, '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(stop);
      sock.destroy();
      resolve({ out, ms: Date.now() - t0, closed });
    };
    const stop = setTimeout(() => done(false), maxMs);
    sock.on('data', (d) => (out += d.toString('utf8')));
    sock.on('close', () => done(true));
    sock.on('error', () => {});
    sock.on('connect', () => {
      sock.write(head);
      timer = setInterval(() => {
        if (!sock.destroyed) sock.write('x');
      }, everyMs);
    });
  });
}

beforeAll(async () => {
  srv = await startTestServer({ env: { PICLOUD_REQUEST_TIMEOUT_MS: '1500' } });
  await pushRelease(srv.pool, { app: 'slow', scripts: { 'len.rhai': '"got " + ctx.body.len()' }, routes: [{ path: '/post', method: 'POST', script: 'len.rhai' }] });
  await waitFor(async () => (await fetch(`${srv.url}/apps/slow/post`, { method: 'POST', body: 'a' })).status === 200, 10_000, 'release live');
}, 60_000);

afterAll(async () => {
  await srv?.close();
});

describe('slow clients', () => {
  it('should answer 408 and close when an app request body drips', async () => {
    const r = await drip(`POST /apps/slow/post HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n`, 250, 8000);
    expect(r.closed, r.out).toBe(true);
    expect(r.out).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.out).toContain('"code":"REQUEST_TIMEOUT"');
    expect(r.ms).toBeLessThan(6000);
  });

  it('should answer 408 and close when an API request body drips', async () => {
    const r = await drip(
      `POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${srv.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`,
      250,
      8000,
    );
    expect(r.closed, r.out).toBe(true);
    expect(r.out).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('should answer 408 and close when the headers drip', async () => {
    const r = await drip(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `, 250, 8000);
    expect(r.closed, r.out).toBe(true);
    expect(r.out).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.ms).toBeLessThan(6000);
  });

  it('should serve a body that arrives in time, in pieces', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      let out = '';
      sock.on('data', (d) => {
        out += d.toString('utf8');
        if (out.includes('got 6')) {
          sock.destroy();
          resolve(out);
        }
      });
      sock.on('error', reject);
      sock.on('connect', async () => {
        sock.write('POST /apps/slow/post HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 6\r\n\r\n');
        for (const part of ['ab', 'cd', 'ef']) {
          await new Promise((res) => setTimeout(res, 200));
          sock.write(part);
        }
      });
      setTimeout(() => resolve(out), 5000);
    });
    expect(r).toMatch(/^HTTP\/1\.1 200 /);
    expect(r).toContain('got 6');
  });
});
