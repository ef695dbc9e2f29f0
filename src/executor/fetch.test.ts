import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../test/helpers/upstream.ts';
import { deniedRange, Fetcher, FetchError, FetchSession, Gate, isAllowedHost, normaliseAllow, type FetchPolicy, type FetchRecord } from './fetch.ts';

const far = () => performance.now() + 30_000;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    expect(e).toBeInstanceOf(FetchError);
    return (e as FetchError).code;
  }
}

describe('deniedRange', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['127.0.0.2', 'loopback'], ['::1', 'loopback'], ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['192.168.1.20', 'private'], ['::ffff:192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'], ['fe80::1', 'linkLocal'], ['100.64.0.1', 'carrierGradeNat'], ['fd00::1', 'uniqueLocal'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'], ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'],
  ])('should deny %s (%s)', (ip, range) => {
    expect(deniedRange(ip)).toBe(range);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('should allow the public address %s', (ip) => {
    expect(deniedRange(ip)).toBeNull();
  });
});

describe('isAllowedHost', () => {
  const allow = normaliseAllow(['192.168.1.20:8123', 'NAS.lan', '::1']);
  it('should match a host entry on any port and a host:port entry on its port only', () => {
    expect(isAllowedHost(new URL('http://nas.lan/x'), allow)).toBe(true);
    expect(isAllowedHost(new URL('https://nas.lan:8443/x'), allow)).toBe(true);
    expect(isAllowedHost(new URL('http://192.168.1.20:8123/'), allow)).toBe(true);
    expect(isAllowedHost(new URL('http://192.168.1.20/'), allow)).toBe(false);
    expect(isAllowedHost(new URL('http://[::1]:9/'), allow)).toBe(true);
    expect(isAllowedHost(new URL('http://other.lan/'), allow)).toBe(false);
  });
});

describe('Fetcher against loopback servers', () => {
  let up: Upstream;
  let denied: Upstream;
  let denied2: Upstream;
  let fetcher: Fetcher;
  let policy: FetchPolicy;

  beforeAll(async () => {
    up = await startUpstream(async (req, res) => {
      if (req.url === '/to-denied') {
        res.writeHead(302, { location: `${denied.origin}/stolen` });
        return res.end();
      }
      if (req.url?.startsWith('/hop/')) {
        const n = Number(req.url.slice(5));
        res.writeHead(n > 0 ? 307 : 200, n > 0 ? { location: `/hop/${n - 1}` } : {});
        return res.end(n > 0 ? '' : `landed ${req.method} ${req.body}`);
      }
      if (req.url === '/see-other') {
        res.writeHead(303, { location: '/echo' });
        return res.end();
      }
      if (req.url === '/slow') {
        await new Promise((r) => setTimeout(r, 400));
        return res.end('late');
      }
      if (req.url?.startsWith('/bytes/')) {
        const n = Number(req.url.slice(7));
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 97);
        let left = n;
        while (left > 0) {
          res.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
          left -= chunk.length;
        }
        return res.end();
      }
      res.writeHead(201, { 'Content-Type': 'application/json', 'X-Mixed-Case': 'v', 'Set-Cookie': ['a=1', 'b=2'] });
      res.end(JSON.stringify({ method: req.method, url: req.url, body: req.body, ct: req.headers['content-type'] ?? null, ua: req.headers['user-agent'], auth: req.headers['x-token'] ?? null }));
    });
    denied = await startUpstream((_req, res) => void res.end('you should not see this'));
    denied2 = await startUpstream((_req, res) => void res.end('you should not see this'), '127.0.0.2');
    fetcher = new Fetcher({ userAgent: 'PiCloud/test' });
    policy = { allow: normaliseAllow([`127.0.0.1:${up.port}`]), maxRequests: 50, timeoutMs: 10_000 };
  });

  afterAll(async () => {
    await fetcher.close();
    await Promise.all([up.close(), denied.close(), denied2.close()]);
  });

  it('should GET an allowed host with lower-case headers and the PiCloud user-agent', async () => {
    const r = await fetcher.fetch({ url: `${up.origin}/x?q=1`, headers: { 'X-Token': 't1' } }, policy, far());
    expect(r.status).toBe(201);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-mixed-case']).toBe('v');
    expect(r.headers['set-cookie']).toBe('a=1, b=2');
    expect(JSON.parse(r.body)).toEqual({ method: 'GET', url: '/x?q=1', body: '', ct: null, ua: 'PiCloud/test', auth: 't1' });
  });

  it('should POST a JSON body with content-type application/json, and a string body as is', async () => {
    const j = JSON.parse((await fetcher.fetch({ url: `${up.origin}/p`, method: 'POST', body: { json: { a: [1, 2] } } }, policy, far())).body);
    expect(j).toMatchObject({ method: 'POST', body: '{"a":[1,2]}', ct: 'application/json' });
    const s = JSON.parse((await fetcher.fetch({ url: `${up.origin}/p`, method: 'PUT', body: 'raw', headers: { 'content-type': 'text/x' } }, policy, far())).body);
    expect(s).toMatchObject({ method: 'PUT', body: 'raw', ct: 'text/x' });
  });

  it('should reuse the connection for sequential fetches', async () => {
    const before = up.connections;
    for (let i = 0; i < 5; i++) await fetcher.fetch({ url: `${up.origin}/reuse` }, policy, far());
    expect(up.connections - before).toBeLessThanOrEqual(1);
  });

  it('should follow up to 5 redirects (keeping method and body on 307) and refuse a 6th', async () => {
    const r = await fetcher.fetch({ url: `${up.origin}/hop/5`, method: 'POST', body: 'b' }, policy, far());
    expect(r.body).toBe('landed POST b');
    expect(await codeOf(fetcher.fetch({ url: `${up.origin}/hop/6` }, policy, far()))).toBe('FETCH_FAILED');
    const seeOther = JSON.parse((await fetcher.fetch({ url: `${up.origin}/see-other`, method: 'POST', body: 'x' }, policy, far())).body);
    expect(seeOther).toMatchObject({ method: 'GET', url: '/echo', body: '' });
  });

  it.each([
    ['a second local server on another port', () => `${denied.origin}/`],
    ['localhost', () => `http://localhost:${denied.port}/`],
    ['localhost on the allowed port (the entry names 127.0.0.1)', () => `http://localhost:${up.port}/`],
    ['an IPv4-mapped IPv6 literal', () => `http://[::ffff:127.0.0.1]:${denied.port}/`],
    ['::1', () => `http://[::1]:${denied.port}/`],
    ['127.0.0.2', () => `${denied2.origin}/`],
    ['a redirect from the allowed host to a denied one', () => `${up.origin}/to-denied`],
    ['127.0.0.1 in hex (0x7f.1)', () => `http://0x7f.1:${denied.port}/`],
    ['127.0.0.1 as one number', () => `http://2130706433:${denied.port}/`],
  ])('should deny %s and send it nothing', async (_what, url) => {
    const n = [denied.requests.length, denied.connections, denied2.requests.length, denied2.connections];
    const upBefore = up.requests.filter((r) => r.url !== '/to-denied').length;
    expect(await codeOf(fetcher.fetch({ url: url() }, policy, far()))).toBe('FETCH_DENIED');
    expect([denied.requests.length, denied.connections, denied2.requests.length, denied2.connections]).toEqual(n);
    expect(up.requests.filter((r) => r.url !== '/to-denied').length).toBe(upBefore);
  });

  it('should deny schemes other than http and https', async () => {
    for (const url of ['ftp://127.0.0.1/', 'file:///etc/passwd', 'data:text/plain,hi', 'ws://127.0.0.1/']) {
      expect(await codeOf(fetcher.fetch({ url }, policy, far()))).toBe('FETCH_DENIED');
    }
    expect(await codeOf(fetcher.fetch({ url: 'not a url' }, policy, far()))).toBe('FETCH_FAILED');
  });

  it('should time out by the fetch timeout and by the invocation deadline', async () => {
    const t0 = performance.now();
    expect(await codeOf(fetcher.fetch({ url: `${up.origin}/slow`, timeoutMs: 100 }, policy, far()))).toBe('FETCH_TIMEOUT');
    expect(await codeOf(fetcher.fetch({ url: `${up.origin}/slow` }, { ...policy, timeoutMs: 100 }, far()))).toBe('FETCH_TIMEOUT');
    expect(await codeOf(fetcher.fetch({ url: `${up.origin}/slow` }, policy, performance.now() + 100))).toBe('FETCH_TIMEOUT');
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(await codeOf(fetcher.fetch({ url: `${up.origin}/slow` }, policy, performance.now() - 1))).toBe('FETCH_TIMEOUT');
  });

  it('should accept a 5 MiB response and refuse one byte more', async () => {
    const five = 5 * 1024 * 1024;
    expect((await fetcher.fetch({ url: `${up.origin}/bytes/${five}` }, policy, far())).body.length).toBe(five);
    expect(await codeOf(fetcher.fetch({ url: `${up.origin}/bytes/${five + 1}` }, policy, far()))).toBe('FETCH_LIMIT');
  });

  it('should fail a connection refused with FETCH_FAILED', async () => {
    const gone = await startUpstream((_q, res) => void res.end());
    await gone.close();
    const p = { ...policy, allow: normaliseAllow([`127.0.0.1:${gone.port}`]) };
    expect(await codeOf(fetcher.fetch({ url: `${gone.origin}/` }, p, far()))).toBe('FETCH_FAILED');
  });

  it('should cap fetches in flight at once', async () => {
    const slow = await startUpstream(async (_q, res) => {
      await new Promise((r) => setTimeout(r, 50));
      res.end('ok');
    });
    const f = new Fetcher({ userAgent: 'PiCloud/test', maxConcurrent: 2 });
    const p = { ...policy, allow: normaliseAllow([`127.0.0.1:${slow.port}`]) };
    const rs = await Promise.all(Array.from({ length: 6 }, () => f.fetch({ url: `${slow.origin}/` }, p, far())));
    expect(rs.map((r) => r.body)).toEqual(Array(6).fill('ok'));
    expect(slow.maxInFlight).toBe(2);
    await f.close();
    await slow.close();
  });

  it('should count fetches per session against max_requests and record each one', async () => {
    const records: FetchRecord[] = [];
    const s = new FetchSession(fetcher, { ...policy, maxRequests: 3 }, far(), (r) => records.push(r));
    for (let i = 0; i < 3; i++) await s.fetch({ url: `${up.origin}/n${i}` });
    const before = up.requests.length;
    expect(await codeOf(s.fetch({ url: `${up.origin}/n4` }))).toBe('FETCH_LIMIT');
    expect(up.requests.length).toBe(before);
    expect(records.map((r) => [r.method, r.host, r.status, r.error ?? null])).toEqual([
      ['GET', `127.0.0.1:${up.port}`, 201, null],
      ['GET', `127.0.0.1:${up.port}`, 201, null],
      ['GET', `127.0.0.1:${up.port}`, 201, null],
      ['GET', `127.0.0.1:${up.port}`, 0, 'FETCH_LIMIT'],
    ]);
  });

  it("should let another app's fetch through while one app's fetches wait on a slow upstream", async () => {
    const slow = await startUpstream(async (_q, res) => {
      await new Promise((r) => setTimeout(r, 400));
      res.end('slow');
    });
    const f = new Fetcher({ userAgent: 'PiCloud/test', maxConcurrent: 4 });
    const p = { ...policy, allow: normaliseAllow([`127.0.0.1:${slow.port}`, `127.0.0.1:${up.port}`]) };
    const hog = Promise.all(Array.from({ length: 8 }, () => f.fetch({ url: `${slow.origin}/` }, p, far(), 1)));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    expect((await f.fetch({ url: `${up.origin}/other` }, p, far(), 2)).status).toBe(201);
    // it did not wait for a slot of the slow ones (400 ms); before, it waited behind all eight (~800 ms)
    expect(performance.now() - t0).toBeLessThan(300);
    expect((await hog).map((r) => r.body)).toEqual(Array(8).fill('slow'));
    expect(slow.maxInFlight).toBe(3);
    await f.close();
    await slow.close();
  });
});

describe('the concurrent-fetch cap, shared between apps (Gate)', () => {
  // an abort signal that never fires
  const never = () => new EventEmitter() as never;

  it('should keep a quarter of the slots free of any one app', async () => {
    const g = new Gate(8);
    const a = Array.from({ length: 8 }, () => g.acquire(never(), 1));
    // app 1 holds 6 of 8; its other two wait
    expect(a.filter((x) => x === true)).toHaveLength(6);
    expect(g.acquire(never(), 2)).toBe(true);
    expect(g.acquire(never(), 3)).toBe(true);
    // full: app 2 waits too
    expect(g.acquire(never(), 2)).not.toBe(true);
  });

  it('should give a freed slot to the apps waiting in turn, each in its own order', async () => {
    const g = new Gate(4);
    const order: string[] = [];
    const wait = (app: number, name: string) => {
      const r = g.acquire(never(), app);
      if (r === true) return order.push(name);
      return void r.then(() => order.push(name));
    };
    wait(1, 'a1');
    wait(1, 'a2');
    wait(1, 'a3');
    wait(2, 'b1');
    // full (a1–a3, b1); then a4 and a5 wait, then c1
    wait(1, 'a4');
    wait(1, 'a5');
    wait(3, 'c1');
    expect(order).toEqual(['a1', 'a2', 'a3', 'b1']);
    g.release(1);
    await Promise.resolve();
    // app 1 waited first: a4; the next freed slot goes to c1, not to a5
    expect(order.slice(4)).toEqual(['a4']);
    g.release(2);
    await Promise.resolve();
    expect(order.slice(5)).toEqual(['c1']);
    g.release(1);
    await Promise.resolve();
    expect(order.slice(6)).toEqual(['a5']);
  });

});
