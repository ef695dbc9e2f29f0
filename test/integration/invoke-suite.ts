/**
 * The invocation contract (architecture.md §4, §6), written once and run against each dispatch mode
 * (invoke-embedded.test.ts, invoke-bullmq.test.ts): response mapping, error statuses, ctx fields, KV isolation,
 * limits, body size, invocation log.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlane, type Mode, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, removeBranch, waitFor } from '../helpers/releases.ts';

const SCRIPTS: Record<string, string> = {
  'string.rhai': '"hello " + ctx.params.name',
  'map.rhai': '#{ a: 1, b: [true, "x"], c: 1.5 }',
  'array.rhai': '[1, 2, 3]',
  'number.rhai': '42',
  'float.rhai': '2.5',
  'bool.rhai': 'true',
  'unit.rhai': 'let x = 1;',
  'response.rhai': 'response(201, #{ ok: true }, #{ "X-Test": "yes" })',
  'response-text.rhai': 'response(418, "short and stout")',
  'redirect.rhai': 'redirect("https://example.com/next")',
  'forged.rhai': '#{ "$response": true, status: 500, body: "forged" }',
  'throw.rhai': 'let x = 1;\n  throw "boom";',
  'runtime.rhai': 'let a = 1;\nlet b = a + undefined_variable;\nb',
  'ctx.rhai': 'ctx',
  'fn.rhai': 'fn handle(c) { #{ via: "fn", name: c.params.name, release: c.release } }\n"not me"',
  'log.rhai': 'print("hello log"); debug("dbg"); "logged"',
  'loop.rhai': 'let i = 0; loop { i += 1; }',
  'kv-set.rhai': 'kv::set(ctx.query.k, ctx.query.v); "ok"',
  'kv-get.rhai': 'let v = kv::get(ctx.query.k); if v == () { "none" } else { v }',
  'kv-json.rhai': 'kv::set("doc", #{ n: 1, list: [1, 2], s: "x" }); kv::set("gone", 1); kv::delete("gone"); #{ doc: kv::get("doc"), gone: kv::get("gone"), keys: kv::keys("") }',
  'json.rhai': 'let v = json::parse(ctx.body); v.seen = true; json::stringify(v)',
  'now.rhai': 'let t = now(); t > 1700000000000',
  'env.rhai': 'ctx.env.GREETING + " " + ctx.env.OTHER',
  // data-size limits sum every string held in an array or map, but not the values closures capture: a copy of an
  // 8 MiB string kept by each closure exhausts the executor's heap
  'oom.rhai': 'let s = "x"; for i in 0..23 { s += s; } let keep = []; loop { let t = s.to_upper(); keep.push(|| t); }',
  'method.rhai': 'ctx.method',
  'rest.rhai': 'ctx.params["*"]',
  // reads kv until the test sets "release" (so it lasts until then, however fast kv:: is), then answers its reads
  'kv-heavy.rhai': 'let n = 0; for i in 0..100000 { n += 1; if kv::get("release") != () { break; } } n',
};

const ROUTES = [
  { path: '/string/:name', script: 'string.rhai' },
  { path: '/map', script: 'map.rhai' },
  { path: '/array', script: 'array.rhai' },
  { path: '/number', script: 'number.rhai' },
  { path: '/float', script: 'float.rhai' },
  { path: '/bool', script: 'bool.rhai' },
  { path: '/unit', script: 'unit.rhai' },
  { path: '/response', script: 'response.rhai' },
  { path: '/response-text', script: 'response-text.rhai' },
  { path: '/redirect', script: 'redirect.rhai' },
  { path: '/forged', script: 'forged.rhai' },
  { path: '/throw', script: 'throw.rhai' },
  { path: '/runtime', script: 'runtime.rhai' },
  { path: '/ctx/:id', method: '*', script: 'ctx.rhai' },
  { path: '/fn/:name', script: 'fn.rhai', function: 'handle' },
  { path: '/log', script: 'log.rhai' },
  { path: '/loop', script: 'loop.rhai' },
  { path: '/kv/set', method: 'POST', script: 'kv-set.rhai' },
  { path: '/kv/get', script: 'kv-get.rhai' },
  { path: '/kv/json', script: 'kv-json.rhai' },
  { path: '/json', method: 'POST', script: 'json.rhai' },
  { path: '/now', script: 'now.rhai' },
  { path: '/env', script: 'env.rhai' },
  { path: '/oom', script: 'oom.rhai' },
  { path: '/only-post', method: ['POST', 'PUT'], script: 'method.rhai' },
  { path: '/files/*', script: 'rest.rhai' },
  { path: '/kv/heavy', script: 'kv-heavy.rhai' },
];

async function get(base: string, path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const r = await fetch(base + path, { redirect: 'manual', ...init });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) };
}

/** Send `bytes` of body (with Content-Length unless chunked) and return the status, tolerating an early close. */
function bigPost(base: string, path: string, bytes: number, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(base + path);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
      headers: chunked ? { 'content-type': 'application/octet-stream' } : { 'content-type': 'application/octet-stream', 'content-length': String(bytes) },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => reject(e));
    const chunk = Buffer.alloc(1024 * 1024, 97);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    req.on('socket', (s) => s.on('error', () => {}));
    pump();
  });
}

export function defineInvokeSuite(mode: Mode): void {
  describe(`invocations (${mode})`, () => {
    let t: TestPlane;
    let mainIds: { appId: number; releaseId: number; version: number };

    beforeAll(async () => {
      t = await startTestPlane(mode);
      mainIds = await pushRelease(t.db.pool, {
        app: 'suite', scripts: SCRIPTS, routes: ROUTES, env: { GREETING: 'hello', OTHER: 'toml' },
        limits: { timeout_ms: 1000 },
      });
      await pushRelease(t.db.pool, { app: 'suite', branch: 'Feature/X', scripts: SCRIPTS, routes: ROUTES, limits: { timeout_ms: 1000 } });
      await pushRelease(t.db.pool, { app: 'other', scripts: SCRIPTS, routes: ROUTES });
      await pushRelease(t.db.pool, { app: 'tight', scripts: { 'loop.rhai': SCRIPTS['loop.rhai']!, 'string.rhai': '"ok"' }, routes: [{ path: '/loop', script: 'loop.rhai' }, { path: '/ok', script: 'string.rhai' }, { path: '/post', method: 'POST', script: 'string.rhai' }], limits: { max_operations: 5000, max_body_bytes: 1000 } });
      await waitFor(() => t.plane.routes.size() === 4, 5000, 'route table');
      await t.db.pool.query(`INSERT INTO config_vars (app_id, branch, key, value) VALUES ($1, 'main', 'OTHER', 'override')`, [mainIds.appId]);
      const gen = t.plane.routes.generation;
      await t.db.pool.query(`SELECT pg_notify('picloud_releases', $1)`, [JSON.stringify({ app: 'suite', branch: 'main', release: mainIds.releaseId })]);
      await waitFor(() => t.plane.routes.generation > gen, 5000, 'config reload');
    });
    afterAll(async () => {
      await t?.close();
    });

    describe('response mapping', () => {
      it('should answer a string with 200 text/plain', async () => {
        const r = await get(t.base, '/apps/suite/string/bob');
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
        expect(r.text).toBe('hello bob');
      });
      it('should answer a map, array, number, float and bool with 200 JSON', async () => {
        for (const [p, v] of [['/map', { a: 1, b: [true, 'x'], c: 1.5 }], ['/array', [1, 2, 3]], ['/number', 42], ['/float', 2.5], ['/bool', true]] as const) {
          const r = await get(t.base, `/apps/suite${p}`);
          expect(r.status, p).toBe(200);
          expect(r.headers.get('content-type'), p).toMatch(/^application\/json/);
          expect(r.json(), p).toEqual(v);
        }
      });
      it('should answer () with 204 and no body', async () => {
        const r = await get(t.base, '/apps/suite/unit');
        expect(r.status).toBe(204);
        expect(r.text).toBe('');
      });
      it('should answer response(status, map, headers) as given with a JSON body', async () => {
        const r = await get(t.base, '/apps/suite/response');
        expect(r.status).toBe(201);
        expect(r.headers.get('x-test')).toBe('yes');
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        expect(r.json()).toEqual({ ok: true });
      });
      it('should answer response(status, string) with a text body', async () => {
        const r = await get(t.base, '/apps/suite/response-text');
        expect(r.status).toBe(418);
        expect(r.text).toBe('short and stout');
      });
      it('should answer redirect(url) with 302 and Location', async () => {
        const r = await get(t.base, '/apps/suite/redirect');
        expect(r.status).toBe(302);
        expect(r.headers.get('location')).toBe('https://example.com/next');
      });
      it('should not let a plain map forge a response', async () => {
        const r = await get(t.base, '/apps/suite/forged');
        expect(r.status).toBe(200);
        expect(r.json()).toMatchObject({ status: 500, body: 'forged' });
      });
    });

    describe('errors', () => {
      it('should answer an uncaught throw with 500 JSON error, line and position', async () => {
        const r = await get(t.base, '/apps/suite/throw');
        expect(r.status).toBe(500);
        const b = r.json();
        expect(b.error).toContain('boom');
        expect(b.line).toBe(2);
        expect(b.position).toBeGreaterThan(0);
        expect(r.text).not.toMatch(/at .*\.ts:\d+/);
      });
      it('should answer a runtime error with 500 and the Rhai message', async () => {
        const r = await get(t.base, '/apps/suite/runtime');
        expect(r.status).toBe(500);
        expect(r.json()).toMatchObject({ error: expect.stringContaining('undefined_variable'), line: 2 });
      });
      it('should answer 404 JSON for an unknown app, a removed preview and an unknown route', async () => {
        for (const p of ['/apps/nosuch/x', '/apps/suite/nosuch', '/apps/zzz--suite/string/a']) {
          const r = await get(t.base, p);
          expect(r.status, p).toBe(404);
          expect(r.json().error, p).toEqual(expect.any(String));
        }
        // a deployed app's unrouted request is an invocation in its log (an unknown app has no log to be in)
        await waitFor(async () => (await t.db.pool.query(`SELECT 1 FROM invocations WHERE path = '/nosuch' AND status = 404`)).rows.length === 1, 5000, '404 row');
        const { rows } = await t.db.pool.query(`SELECT trigger, method, route, release_id, error FROM invocations WHERE path = '/nosuch'`);
        expect(rows[0]).toMatchObject({ trigger: 'http', method: 'GET', route: '', release_id: mainIds.releaseId, error: 'No route matches GET /nosuch' });
      });
      it('should answer 405 with Allow when the route exists for other methods', async () => {
        const r = await get(t.base, '/apps/suite/only-post');
        expect(r.status).toBe(405);
        expect(r.headers.get('allow')).toBe('POST, PUT');
        expect(r.json().error).toMatch(/not allowed/);
        const ok = await get(t.base, '/apps/suite/only-post', { method: 'PUT' });
        expect(ok.text).toBe('PUT');
        await waitFor(async () => (await t.db.pool.query(`SELECT 1 FROM invocations WHERE path = '/only-post' AND status = 405`)).rows.length === 1, 5000, '405 row');
      });
      it('should stop an infinite loop with 504 while the executor keeps serving others', async () => {
        const started = Date.now();
        const loop = get(t.base, '/apps/suite/loop');
        await new Promise((r) => setTimeout(r, 50));
        for (let i = 0; i < 5; i++) expect((await get(t.base, `/apps/suite/string/n${i}`)).text).toBe(`hello n${i}`);
        const r = await loop;
        expect(r.status).toBe(504);
        expect(r.json().error).toMatch(/limit/);
        expect(Date.now() - started).toBeLessThan(4000);
        expect((await get(t.base, '/apps/suite/string/after')).status).toBe(200);
      });
      it('should answer 504 when max_operations is exceeded', async () => {
        const r = await get(t.base, '/apps/tight/loop');
        expect(r.status).toBe(504);
        expect(r.json().error).toMatch(/operation limit/);
      });
      it('should answer 413 to a 100 MB body without reading it all', async () => {
        const r = await bigPost(t.base, '/apps/suite/kv/set', 100 * 1024 * 1024, false);
        expect(r.status).toBe(413);
        expect(JSON.parse(r.body).error).toMatch(/exceeds/);
      });
      it('should answer 413 to a chunked body over the app limit', async () => {
        const r = await bigPost(t.base, '/apps/tight/post', 4 * 1024 * 1024, true);
        expect(r.status).toBe(413);
        const ok = await get(t.base, '/apps/tight/post', { method: 'POST', body: 'x'.repeat(999) });
        expect(ok.status).toBe(200);
      });
      it('should answer 502 when the executor dies mid-invocation, and keep serving', async () => {
        const r = await get(t.base, '/apps/other/oom');
        expect(r.status).toBe(502);
        expect(r.json().error).toMatch(/executor/);
        expect((await get(t.base, '/apps/suite/string/alive')).text).toBe('hello alive');
      });
    });

    describe('ctx', () => {
      it('should carry trigger, method, path, params, query, lower-case headers, body and parsed json', async () => {
        const r = await get(t.base, '/apps/suite/ctx/42?a=1&b=two', {
          method: 'POST', headers: { 'X-Custom': 'Yes', 'content-type': 'application/json' }, body: JSON.stringify({ n: 1, list: [1, 2] }),
        });
        expect(r.status).toBe(200);
        const c = r.json();
        expect(c).toMatchObject({
          trigger: 'http', method: 'POST', path: '/ctx/42', params: { id: '42' }, query: { a: '1', b: 'two' },
          body: '{"n":1,"list":[1,2]}', json: { n: 1, list: [1, 2] }, app: 'suite', branch: 'main', release: mainIds.version,
        });
        expect(c.headers['x-custom']).toBe('Yes');
        expect(Object.keys(c.headers).every((k: string) => k === k.toLowerCase())).toBe(true);
      });
      it('should give () for json when the body is not JSON', async () => {
        const c = (await get(t.base, '/apps/suite/ctx/1', { method: 'PUT', body: 'plain text' })).json();
        expect(c.body).toBe('plain text');
        expect(c.json ?? null).toBeNull();
      });
      it('should call the named function with ctx', async () => {
        expect((await get(t.base, '/apps/suite/fn/ann')).json()).toEqual({ via: 'fn', name: 'ann', release: mainIds.version });
      });
      it('should match a final * and expose the rest as params["*"]', async () => {
        expect((await get(t.base, '/apps/suite/files/a/b/c.txt')).text).toBe('a/b/c.txt');
      });
      it('should overlay config vars on [env]', async () => {
        expect((await get(t.base, '/apps/suite/env')).text).toBe('hello override');
      });
      it('should serve a preview branch on its own URL with its own release', async () => {
        const c = (await get(t.base, '/apps/feature-x--suite/ctx/1')).json();
        expect(c).toMatchObject({ app: 'suite', branch: 'Feature/X', release: 1 });
      });
    });

    describe('host functions', () => {
      it('should keep KV per app and per branch', async () => {
        const set = (seg: string, v: string) => get(t.base, `/apps/${seg}/kv/set?k=color&v=${v}`, { method: 'POST' });
        const read = async (seg: string) => (await get(t.base, `/apps/${seg}/kv/get?k=color`)).text;
        expect((await set('suite', 'red')).text).toBe('ok');
        expect(await read('suite')).toBe('red');
        expect(await read('feature-x--suite')).toBe('none');
        expect(await read('other')).toBe('none');
        await set('feature-x--suite', 'blue');
        await set('other', 'green');
        expect([await read('suite'), await read('feature-x--suite'), await read('other')]).toEqual(['red', 'blue', 'green']);
      });
      it('should not stall other invocations while one waits on KV', async () => {
        // the heavy invocation keeps reading kv until released below: the quick ones must be served meanwhile (app
        // `other`: the default timeout_ms of 5 s, not the suite's 1 s, leaves room for a loaded machine)
        const otherId = (await t.db.pool.query<{ id: number }>(`SELECT id FROM apps WHERE name = 'other'`)).rows[0]!.id;
        let heavyDone = 0;
        const heavy = get(t.base, '/apps/other/kv/heavy').then((r) => {
          heavyDone = Date.now();
          return r;
        });
        await new Promise((r) => setTimeout(r, 20));
        const quick: number[] = [];
        for (let i = 0; i < 5; i++) {
          expect((await get(t.base, `/apps/suite/string/q${i}`)).status).toBe(200);
          quick.push(Date.now());
        }
        expect(heavyDone).toBe(0);
        await t.db.pool.query(`INSERT INTO kv (app_id, branch, key, value) VALUES ($1, 'main', 'release', 'true')`, [otherId]);
        try {
          const r = await heavy;
          expect(r.status).toBe(200);
          expect(r.json()).toBeGreaterThan(1);
          expect(quick.every((q) => q <= heavyDone)).toBe(true);
        } finally {
          await t.db.pool.query(`DELETE FROM kv WHERE app_id = $1 AND branch = 'main' AND key = 'release'`, [otherId]);
        }
      });
      it('should answer HEAD like GET without a body', async () => {
        const r = await fetch(`${t.base}/apps/suite/string/h`, { method: 'HEAD' });
        expect(r.status).toBe(200);
        expect(await r.text()).toBe('');
      });
      it('should store JSON values, delete, and list keys', async () => {
        const r = (await get(t.base, '/apps/other/kv/json')).json();
        expect(r.doc).toEqual({ n: 1, list: [1, 2], s: 'x' });
        expect(r.gone ?? null).toBeNull();
        expect(r.keys).toEqual(['color', 'doc']);
      });
      it('should parse and stringify JSON and tell the time', async () => {
        const r = await get(t.base, '/apps/suite/json', { method: 'POST', body: '{"a":[1,2]}' });
        expect(JSON.parse(r.text)).toEqual({ a: [1, 2], seen: true });
        expect((await get(t.base, '/apps/suite/now')).json()).toBe(true);
      });
      it('should record invocations with status, route, logs and errors', async () => {
        await get(t.base, '/apps/suite/log');
        await waitFor(async () => {
          const { rows } = await t.db.pool.query(`SELECT 1 FROM invocations WHERE route = '/log'`);
          return rows.length > 0;
        }, 5000, 'invocation row');
        const { rows } = await t.db.pool.query(`SELECT trigger, method, path, status, logs, release_id, operations FROM invocations WHERE route = '/log'`);
        expect(rows[0]).toMatchObject({ trigger: 'http', method: 'GET', path: '/log', status: 200, release_id: mainIds.releaseId });
        // counted exactly: a short script has a few operations, not 0 (it never reaches the 1024-operation progress hook)
        expect(rows[0].operations).toBeGreaterThan(0);
        expect(rows[0].operations).toBeLessThan(1024);
        expect(rows[0].logs.map((l: { level: string; msg: string }) => [l.level, l.msg])).toEqual([['print', 'hello log'], ['debug', expect.stringContaining('dbg')]]);
        const { rows: errs } = await t.db.pool.query(`SELECT status, error FROM invocations WHERE route = '/throw'`);
        expect(errs[0].status).toBe(500);
        expect(errs[0].error).toContain('boom');
      });
    });

    describe('release switch', () => {
      it('should answer with the new release at once and 404 after a preview is removed', async () => {
        const gen = t.plane.routes.generation;
        await pushRelease(t.db.pool, { app: 'other', scripts: { 'v2.rhai': '"v2"' }, routes: [{ path: '/string/:name', script: 'v2.rhai' }] });
        await waitFor(() => t.plane.routes.generation > gen, 2000, 'reload');
        expect((await get(t.base, '/apps/other/string/x')).text).toBe('v2');
        const g2 = t.plane.routes.generation;
        await removeBranch(t.db.pool, 'suite', 'Feature/X');
        await waitFor(() => t.plane.routes.generation > g2, 2000, 'reload');
        expect((await get(t.base, '/apps/feature-x--suite/string/a')).status).toBe(404);
      });
    });

    describe('backpressure', () => {
      it('should answer 503 when the queue is full', async () => {
        const small = await startTestPlane(mode, { executors: 1, maxQueue: 1, db: t.db });
        try {
          const rs = await Promise.all(Array.from({ length: 6 }, () => get(small.base, '/apps/suite/loop')));
          const codes = rs.map((r) => r.status);
          expect(codes).toContain(503);
          for (const r of rs.filter((x) => x.status === 503)) expect(r.json().error).toMatch(/capacity/);
        } finally {
          await small.close();
        }
      });
    });
  });
}
