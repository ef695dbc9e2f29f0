/**
 * http::fetch through the whole plane (architecture.md §6), written once and run against each dispatch mode
 * (fetch-embedded.test.ts, fetch-bullmq.test.ts), against local upstream servers on loopback addresses only:
 * GET and POST, redirects, every denied class with the denied server receiving nothing, FETCH_TIMEOUT, the
 * invocation's own timeout while it waits, FETCH_LIMIT (51st fetch, > 5 MiB), other schemes, the invocation log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlane, type Mode, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { startUpstream, type Upstream } from '../helpers/upstream.ts';

const SCRIPTS: Record<string, string> = {
  'get.rhai': `let r = http::fetch(ctx.env.UP + "/json?x=1");
#{ status: r.status, ct: r.headers["content-type"], mixed: r.headers["x-mixed-case"], json: r.json, body: r.body }`,
  'post.rhai': `let r = http::fetch(ctx.env.UP + "/echo", #{ method: "POST", headers: #{ "X-Token": "secret" }, body: #{ a: 1, list: [1, 2] } });
r.json`,
  'try.rhai': `let opts = #{};
if ctx.query.timeout != () { opts.timeout_ms = parse_int(ctx.query.timeout); }
let out = ();
try {
  let r = http::fetch(ctx.query.url, opts);
  out = #{ status: r.status, body: r.body.len() };
} catch (e) {
  out = #{ error: e };
}
out`,
  'limit.rhai': `let n = 0;
let err = ();
for i in 0..60 {
  try { http::fetch(ctx.env.UP + "/json"); n += 1; } catch (e) { err = e; break; }
}
#{ n: n, err: err }`,
  'uncaught.rhai': 'http::fetch(ctx.env.DENIED + "/x");\n"unreachable"',
  'wait.rhai': 'let r = http::fetch(ctx.env.UP + "/slow"); r.body',
  'kv-fetch.rhai': 'kv::set("k", 41); let r = http::fetch(ctx.env.UP + "/json"); kv::get("k") + 1',
};

const ROUTES = [
  { path: '/get', script: 'get.rhai' },
  { path: '/post', script: 'post.rhai' },
  { path: '/try', script: 'try.rhai' },
  { path: '/limit', script: 'limit.rhai' },
  { path: '/uncaught', script: 'uncaught.rhai' },
  { path: '/wait', script: 'wait.rhai' },
  { path: '/kv-fetch', script: 'kv-fetch.rhai' },
];

async function get(url: string): Promise<{ status: number; json: any }> {
  const r = await fetch(url);
  const text = await r.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, json };
}

export function defineFetchSuite(mode: Mode): void {
  describe(`http::fetch (${mode})`, () => {
    let t: TestPlane;
    let up: Upstream;
    let denied: Upstream;
    let denied2: Upstream;
    let appId = 0;
    const tryUrl = (url: string, timeout?: number) => `${t.base}/apps/fx/try?url=${encodeURIComponent(url)}${timeout ? `&timeout=${timeout}` : ''}`;

    beforeAll(async () => {
      up = await startUpstream(async (req, res) => {
        const u = req.url ?? '';
        if (u === '/to-denied') {
          res.writeHead(302, { location: `${denied.origin}/stolen` });
          return res.end();
        }
        if (u === '/redirect') {
          res.writeHead(301, { location: '/json?via=redirect' });
          return res.end();
        }
        if (u === '/slow') {
          await new Promise((r) => setTimeout(r, 600));
          return res.end('slow');
        }
        if (u.startsWith('/bytes/')) {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          return res.end(Buffer.alloc(Number(u.slice(7)), 97));
        }
        if (u === '/echo') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ method: req.method, body: req.body, ct: req.headers['content-type'], token: req.headers['x-token'], ua: req.headers['user-agent'] }));
        }
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Mixed-Case': 'Yes' });
        res.end(JSON.stringify({ ok: true, url: u }));
      });
      denied = await startUpstream((_q, res) => void res.end('leaked'));
      denied2 = await startUpstream((_q, res) => void res.end('leaked'), '127.0.0.2');
      t = await startTestPlane(mode);
      const env = { UP: up.origin, DENIED: denied.origin };
      ({ appId } = await pushRelease(t.db.pool, { app: 'fx', scripts: SCRIPTS, routes: ROUTES, env, limits: { timeout_ms: 5000 }, toml: `[fetch]\nallow = ["127.0.0.1:${up.port}"]\n` }));
      await pushRelease(t.db.pool, { app: 'fxtight', scripts: SCRIPTS, routes: ROUTES, env, limits: { timeout_ms: 300 }, toml: `[fetch]\nallow = ["127.0.0.1:${up.port}"]\n` });
      await waitFor(() => t.plane.routes.size() === 2, 5000, 'route table');
      // executor processes (Redis mode) take a while to start on a busy machine: wait for the first answer
      await waitFor(async () => (await fetch(`${t.base}/apps/fx/get`)).status === 200, 60_000, 'a first answer');
    });
    afterAll(async () => {
      await t?.close();
      await Promise.all([up?.close(), denied?.close(), denied2?.close()]);
    });

    const deniedSeen = () => [denied.requests.length, denied.connections, denied2.requests.length, denied2.connections];

    it('should GET with lower-case response headers and the JSON body parsed', async () => {
      const r = await get(`${t.base}/apps/fx/get`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ status: 200, ct: 'application/json', mixed: 'Yes', json: { ok: true, url: '/json?x=1' }, body: '{"ok":true,"url":"/json?x=1"}' });
    });

    it('should POST a map body as JSON with the script headers and the PiCloud user-agent', async () => {
      const r = await get(`${t.base}/apps/fx/post`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ method: 'POST', body: '{"a":1,"list":[1,2]}', ct: 'application/json', token: 'secret', ua: expect.stringMatching(/^PiCloud\/\d+\.\d+\.\d+/) });
    });

    it('should follow a redirect on the allowed host', async () => {
      const r = await get(tryUrl(`${up.origin}/redirect`));
      expect(r.json).toEqual({ status: 200, body: '{"ok":true,"url":"/json?via=redirect"}'.length });
    });

    it.each([
      ['a second local server on another port', () => `${denied.origin}/`],
      ['localhost', () => `http://localhost:${denied.port}/`],
      ['[::ffff:127.0.0.1]', () => `http://[::ffff:127.0.0.1]:${denied.port}/`],
      ['[::1]', () => `http://[::1]:${denied.port}/`],
      ['127.0.0.2', () => `${denied2.origin}/`],
      ['a redirect from the allowed host to a denied one', () => `${up.origin}/to-denied`],
    ])('should deny %s with FETCH_DENIED and send it nothing', async (_what, url) => {
      const before = deniedSeen();
      const r = await get(tryUrl(url()));
      expect(r.status).toBe(200);
      expect(r.json.error).toMatch(/^FETCH_DENIED: /);
      expect(deniedSeen()).toEqual(before);
    });

    it('should deny a non-http scheme', async () => {
      for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/x']) {
        expect((await get(tryUrl(url))).json.error).toMatch(/^FETCH_DENIED: only http: and https:/);
      }
    });

    it('should answer an uncaught fetch error with 500 and the code', async () => {
      const before = deniedSeen();
      const r = await get(`${t.base}/apps/fx/uncaught`);
      expect(r.status).toBe(500);
      expect(r.json.error).toMatch(/FETCH_DENIED/);
      expect(r.json.line).toBe(1);
      expect(deniedSeen()).toEqual(before);
    });

    // the upstream's /slow answers after 600 ms: an answer other than the timeout would be its "slow"
    it('should time out a slow fetch with FETCH_TIMEOUT', async () => {
      const r = await get(tryUrl(`${up.origin}/slow`, 100));
      expect(r.json.error).toMatch(/^FETCH_TIMEOUT: /);
    });

    it('should end an invocation that waits past its own timeout_ms (300) with 504', async () => {
      const r = await get(`${t.base}/apps/fxtight/wait`);
      expect(r.json).toMatchObject({ error: expect.stringMatching(/time limit/) });
      expect(r.status).toBe(504);
    });

    it('should refuse the 51st fetch of an invocation with FETCH_LIMIT', async () => {
      const before = up.requests.length;
      const r = await get(`${t.base}/apps/fx/limit`);
      expect(r.json.n).toBe(50);
      expect(r.json.err).toMatch(/^FETCH_LIMIT: /);
      expect(up.requests.length - before).toBe(50);
    });

    it('should accept 5 MiB and refuse a larger response with FETCH_LIMIT', async () => {
      expect((await get(tryUrl(`${up.origin}/bytes/${5 * 1024 * 1024}`))).json).toEqual({ status: 200, body: 5 * 1024 * 1024 });
      expect((await get(tryUrl(`${up.origin}/bytes/${5 * 1024 * 1024 + 1}`))).json.error).toMatch(/^FETCH_LIMIT: /);
    });

    it('should mix kv:: and http::fetch in one invocation', async () => {
      const r = await get(`${t.base}/apps/fx/kv-fetch`);
      expect(r).toEqual({ status: 200, json: 42 });
    });

    it('should record each fetch in the invocation log (method, host, status, ms)', async () => {
      await get(`${t.base}/apps/fx/post`);
      await get(tryUrl(`${denied.origin}/`));
      type Row = { route: string; logs: { level: string; msg: string }[] };
      let rows: Row[] = [];
      await waitFor(async () => {
        rows = (await t.db.pool.query<Row>(`SELECT route, logs FROM invocations WHERE app_id = $1 AND route IN ('/post', '/try') ORDER BY id`, [appId])).rows;
        // earlier tests also denied fetches through /try (to localhost, …): look for this test's own line
        return rows.some((r) => r.route === '/post') && rows.some((r) => r.logs.some((l) => l.msg.startsWith(`GET 127.0.0.1:${denied.port} FETCH_DENIED`)));
      }, 10_000, 'invocation rows');
      const post = rows.find((r) => r.route === '/post')!;
      expect(post.logs).toEqual([{ level: 'fetch', msg: expect.stringMatching(new RegExp(`^POST 127\\.0\\.0\\.1:${up.port} 200 \\d+ ms$`)), t: expect.any(Number) }]);
      const deniedLine = rows.flatMap((r) => r.logs).find((l) => l.msg.startsWith(`GET 127.0.0.1:${denied.port} `))!;
      expect(deniedLine.msg).toMatch(new RegExp(`^GET 127\\.0\\.0\\.1:${denied.port} FETCH_DENIED \\d+ ms$`));
    });
  });
}
