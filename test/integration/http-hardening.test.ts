/**
 * Issue 8's smaller HTTP findings, against the real server (ingress, executors, PostgreSQL): `__proto__` and
 * `constructor` are plain keys everywhere a script sees or sends data; a very deep JSON body is `ctx.json == ()`
 * and never breaks a route; one invocation stores a capped log.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushRelease, waitFor } from '../helpers/releases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;

const SCRIPTS: Record<string, string> = {
  'ok.rhai': '"ok"',
  'proto-map.rhai': 'let m = #{}; m["__proto__"] = #{ a: 1 }; m["constructor"] = "c"; m["toString"] = 3; m',
  'proto-kv.rhai':
    'kv::set("k", #{ "__proto__": #{ a: 1 }, "constructor": #{ prototype: #{ x: 2 } }, n: 3 }); let v = kv::get("k"); #{ got: v, keys: v.keys() }',
  'proto-json.rhai': 'let v = json::parse(ctx.body); #{ keys: v.keys(), text: json::stringify(v) }',
  'json-unit.rhai': 'if ctx.json == () { "unit " + ctx.body.len() } else { "parsed " + type_of(ctx.json) }',
  'no-json.rhai': '"fine " + ctx.body.len()',
  'json-parse.rhai': 'json::parse(ctx.body)',
  'log-flood.rhai': 'let s = "x"; for i in 0..14 { s += s; } for i in 0..2000 { print(s); } "flooded"',
  'proto-env.rhai': 'ctx.env',
  'proto-ctx.rhai': '#{ params: ctx.params, query: ctx.query, header: ctx.headers["__proto__"], json: ctx.json }',
};

function request(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path, headers }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  srv = await startTestServer();
  await pushRelease(srv.pool, {
    app: 'hard',
    scripts: SCRIPTS,
    env: { ['__proto__']: 'e1', constructor: 'e2' },
    routes: [
      { path: '/ok', script: 'ok.rhai' },
      { path: '/proto/map', script: 'proto-map.rhai' },
      { path: '/proto/kv', script: 'proto-kv.rhai' },
      { path: '/proto/json', method: 'POST', script: 'proto-json.rhai' },
      { path: '/proto/ctx/:__proto__/:constructor', method: 'POST', script: 'proto-ctx.rhai' },
      { path: '/proto/env', script: 'proto-env.rhai' },
      { path: '/json/unit', method: 'POST', script: 'json-unit.rhai' },
      { path: '/json/none', method: 'POST', script: 'no-json.rhai' },
      { path: '/json/parse', method: 'POST', script: 'json-parse.rhai' },
      { path: '/log/flood', script: 'log-flood.rhai' },
    ],
  });
  await waitFor(async () => (await fetch(`${srv.url}/apps/hard/ok`)).status === 200, 10_000, 'release live');
}, 60_000);

afterAll(async () => {
  await srv?.close();
});

describe('__proto__ and constructor are plain keys', () => {
  it('in a map sent as a JSON response', async () => {
    const r = await request('GET', '/apps/hard/proto/map');
    expect(r.status, r.body).toBe(200);
    expect(r.body).toBe('{"__proto__":{"a":1},"constructor":"c","toString":3}');
  });

  it('through a KV round trip', async () => {
    const r = await request('GET', '/apps/hard/proto/kv');
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toEqual(JSON.parse('{"got":{"__proto__":{"a":1},"constructor":{"prototype":{"x":2}},"n":3},"keys":["__proto__","constructor","n"]}'));
    expect(r.body).toContain('"__proto__":{"a":1}');
  });

  it('through json::parse and json::stringify', async () => {
    const r = await request('POST', '/apps/hard/proto/json', { 'content-type': 'application/json' }, '{"constructor":{"prototype":1},"__proto__":{"b":2}}');
    expect(r.status, r.body).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ keys: ['__proto__', 'constructor'], text: '{"__proto__":{"b":2},"constructor":{"prototype":1}}' });
  });

  it('in ctx.env', async () => {
    const r = await request('GET', '/apps/hard/proto/env');
    expect(r.body).toBe('{"__proto__":"e1","constructor":"e2"}');
  });

  it('in ctx.params, ctx.query, ctx.headers and ctx.json', async () => {
    const r = await request('POST', '/apps/hard/proto/ctx/p1/p2?__proto__=q1&constructor=q2', { ['__proto__']: 'h1' }, '{"__proto__":{"j":1}}');
    expect(r.status, r.body).toBe(200);
    expect(r.body).toBe('{"header":"h1","json":{"__proto__":{"j":1}},"params":{"__proto__":"p1","constructor":"p2"},"query":{"__proto__":"q1","constructor":"q2"}}');
  });
});

describe('a deep JSON body', () => {
  const deep = '['.repeat(500_000) + ']'.repeat(500_000);
  it('is ctx.json == () and the route runs (it was 500 Stack overflow on every route)', async () => {
    const r = await request('POST', '/apps/hard/json/unit', { 'content-type': 'application/json' }, deep);
    expect(r.status, r.body).toBe(200);
    expect(r.body).toBe('unit 1000000');
    const none = await request('POST', '/apps/hard/json/none', { 'content-type': 'application/json' }, deep);
    expect(none.status, none.body).toBe(200);
    expect(none.body).toBe('fine 1000000');
    const shallow = await request('POST', '/apps/hard/json/unit', { 'content-type': 'application/json' }, '{"a":[[1]]}');
    expect(shallow.body).toBe('parsed map');
  });
  it('in json::parse is a script error naming the depth', async () => {
    const r = await request('POST', '/apps/hard/json/parse', {}, deep);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body).error).toMatch(/json::parse: nested deeper than 256 levels/);
  });
});

describe('the invocation log', () => {
  it('stores at most 1000 lines and 64 KiB per invocation, then a truncated marker', async () => {
    const r = await request('GET', '/apps/hard/log/flood');
    expect(r.status, r.body).toBe(200);
    let logs: { msg: string }[] = [];
    await waitFor(async () => {
      const q = await srv.pool.query<{ logs: { msg: string }[] }>("SELECT logs FROM invocations WHERE path = '/log/flood' ORDER BY id DESC LIMIT 1");
      logs = q.rows[0]?.logs ?? [];
      return logs.length > 0;
    }, 10_000, 'the invocation row');
    const stored = logs.reduce((n, l) => n + Buffer.byteLength(l.msg), 0);
    expect(stored).toBeLessThan(70 * 1024);
    expect(logs.at(-1)!.msg).toMatch(/^\[log truncated: .* more lines \(\d+ bytes\) not stored\]$/);
    expect(logs.filter((l) => l.msg.startsWith('[log truncated')).length).toBe(1);
  });
});
