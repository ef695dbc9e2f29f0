/**
 * Every app in examples/: `picloud check` accepts it, and a real git push of it to a real server deploys it; each is
 * then exercised over HTTP the way its README says.
 */
import { createHmac } from 'node:crypto';
import { appendFileSync, cpSync, readdirSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.ts';
import { cleanupTempDirs, commitAll, makeRepo, push, remoteUrl } from '../helpers/git.ts';
import { waitFor } from '../helpers/releases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ROOT } from '../helpers/start.ts';

const EXAMPLES = path.join(ROOT, 'examples');
let srv: TestServer;
let upstream: Upstream;

/** The outside world the examples talk to: a loopback server that records what it gets and answers from a script. */
interface Upstream {
  server: Server;
  url: string;
  hostPort: string;
  got: { path: string; headers: Record<string, unknown>; body: string }[];
  answer: (path: string, n: number) => { status: number; body: string };
}
async function startUpstream(): Promise<Upstream> {
  const u = { got: [] as Upstream['got'], answer: (() => ({ status: 200, body: '{}' })) as Upstream['answer'] } as Upstream;
  u.server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      u.got.push({ path: req.url ?? '', headers: req.headers, body });
      const a = u.answer(req.url ?? '', u.got.filter((g) => g.path === req.url).length);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
    });
  });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', r));
  const port = (u.server.address() as AddressInfo).port;
  u.hostPort = `127.0.0.1:${port}`;
  u.url = `http://${u.hostPort}`;
  return u;
}

/** The examples reach public hosts; the test's upstream is on loopback, which an app must allow in [fetch]. */
const allowUpstream = () => `\n[fetch]\nallow = ["${upstream.hostPort}"]\n`;

async function setConfig(app: string, vars: Record<string, string>): Promise<void> {
  const gen = srv.plane!.routes.generation;
  const r = await fetch(`${srv.url}/api/v1/apps/${app}/config`, { method: 'PUT', headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' }, body: JSON.stringify(vars) });
  expect(r.status, await r.text()).toBe(200);
  // the route table takes new config from NOTIFY: wait until it has reloaded
  await waitFor(() => srv.plane!.routes.generation > gen, 5000, 'config reload');
}

beforeAll(async () => {
  srv = await startTestServer({ jobs: true });
  upstream = await startUpstream();
});
afterAll(async () => {
  await srv?.close();
  await new Promise((r) => upstream?.server.close(r));
  cleanupTempDirs();
});

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => any; // oxlint-disable-line no-explicit-any -- test convenience
}

function call(app: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: srv.port, method, path: `/apps/${app}${p}`, headers: { ...(data !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } },
      (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b, json: () => JSON.parse(b) }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Copy an example into a fresh repository (with text appended to its picloud.toml), commit and push it. */
async function deploy(name: string, tomlExtra = ''): Promise<string> {
  const repo = await makeRepo();
  cpSync(path.join(EXAMPLES, name), repo, { recursive: true });
  if (tomlExtra) appendFileSync(path.join(repo, 'picloud.toml'), tomlExtra);
  await commitAll(repo, `deploy ${name}`);
  const r = await push(repo, remoteUrl(srv.url, name, srv.token), ['main']);
  expect(r.code, r.stderr).toBe(0);
  return r.stderr;
}

describe('examples', () => {
  it('every example passes picloud check', async () => {
    const names = readdirSync(EXAMPLES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(names.length).toBeGreaterThanOrEqual(5);
    for (const n of names) {
      let out = '';
      const code = await run(['check', path.join(EXAMPLES, n)], { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (out += s) } });
      expect(code, `${n}:\n${out}`).toBe(0);
    }
  });

  it('url-shortener: creates a code, redirects to the URL and counts the visit', async () => {
    await deploy('url-shortener');
    const bad = await call('url-shortener', 'POST', '/links', { url: 'javascript:alert(1)' });
    expect(bad.status).toBe(422);
    const c = await call('url-shortener', 'POST', '/links', { url: 'https://rhai.rs/book/' });
    expect(c.status).toBe(201);
    const { code, short } = c.json() as { code: string; short: string };
    expect(code).toMatch(/^[0-9a-z]{6,}$/);
    expect(short).toBe(`/${code}`);
    const go = await call('url-shortener', 'GET', `/${code}`);
    expect(go.status).toBe(302);
    expect(go.headers.location).toBe('https://rhai.rs/book/');
    expect((await call('url-shortener', 'GET', `/links/${code}`)).json()).toMatchObject({ url: 'https://rhai.rs/book/', hits: 1 });
    expect((await call('url-shortener', 'GET', '/zz')).status).toBe(404);
  });

  it("url-shortener: links created at the same time each get their own code, and visits at the same time all count", async () => {
    const urls = Array.from({ length: 20 }, (_, i) => `https://example.com/page/${i}`);
    const made = await Promise.all(urls.map((url) => call('url-shortener', 'POST', '/links', { url })));
    expect(made.map((r) => r.status)).toEqual(urls.map(() => 201));
    const codes = made.map((r) => (r.json() as { code: string }).code);
    expect(new Set(codes).size).toBe(urls.length);
    for (let i = 0; i < urls.length; i++) expect((await call('url-shortener', 'GET', `/${codes[i]}`)).headers.location).toBe(urls[i]);
    // and 20 visits at once all count
    await Promise.all(Array.from({ length: 20 }, () => call('url-shortener', 'GET', `/${codes[0]}`)));
    expect((await call('url-shortener', 'GET', `/links/${codes[0]}`)).json()).toMatchObject({ url: urls[0], hits: 21 });
  });

  it('json-api: the status codes of a REST resource', async () => {
    await deploy('json-api');
    const api = (m: string, p: string, b?: unknown) => call('json-api', m, p, b);
    expect((await api('POST', '/todos', 'not json')).status).toBe(400);
    const invalid = await api('POST', '/todos', { title: ' ', colour: 'red' });
    expect(invalid.status).toBe(422);
    expect(invalid.json().fields).toEqual({ title: 'must be a non-empty string', colour: 'unknown field' });
    const created = await api('POST', '/todos', { title: 'buy milk' });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe('/todos/1');
    expect(created.json()).toMatchObject({ id: 1, title: 'buy milk', done: false });
    await api('POST', '/todos', { title: 'write docs', done: true });
    expect((await api('GET', '/todos?done=false')).json().map((t: { title: string }) => t.title)).toEqual(['buy milk']);
    const patched = await api('PATCH', '/todos/1', { done: true });
    expect(patched.json()).toMatchObject({ id: 1, done: true, title: 'buy milk' });
    expect((await api('PATCH', '/todos/1', { done: 'yes' })).status).toBe(422);
    expect((await api('GET', '/todos')).json()).toHaveLength(2);
    expect((await api('DELETE', '/todos/1')).status).toBe(204);
    expect((await api('GET', '/todos/1')).status).toBe(404);
    expect((await api('PUT', '/todos/2')).status).toBe(405);
  });

  it('webhook-relay: forwards a correctly signed event, refuses a bad signature', async () => {
    await deploy('webhook-relay', allowUpstream());
    const body = JSON.stringify({ zen: 'Keep it logically awesome.' });
    const sign = (secret: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const hook = (sig: string) => call('webhook-relay', 'POST', '/hooks/github', body, { 'x-hub-signature-256': sig, 'x-github-event': 'ping' });
    expect((await hook(sign('s3cret'))).status).toBe(503); // not configured yet
    await setConfig('webhook-relay', { WEBHOOK_SECRET: 's3cret', FORWARD_URL: `${upstream.url}/inbox` });
    const before = upstream.got.length;
    const bad = await hook(sign('wrong'));
    expect(bad.status).toBe(401);
    expect(upstream.got.length).toBe(before);
    const ok = await hook(sign('s3cret'));
    expect(ok.status, ok.body).toBe(202);
    expect(ok.json()).toEqual({ forwarded: true, status: 200 });
    const got = upstream.got.at(-1)!;
    expect(got.path).toBe('/inbox');
    expect(JSON.parse(got.body)).toMatchObject({ source: 'github', kind: 'ping', payload: { zen: 'Keep it logically awesome.' } });
    expect(got.headers['content-type']).toMatch(/^application\/json/);
  });

  it('cron-digest: the refresh fetches the feed and keeps the newest ten', async () => {
    await deploy('cron-digest', allowUpstream());
    expect((await call('cron-digest', 'GET', '/digest')).status).toBe(404);
    const items = Array.from({ length: 12 }, (_, i) => ({ title: `post ${i}`, url: `https://blog.example/${i}`, published: `2026-12-${String(i + 1).padStart(2, '0')}` }));
    upstream.answer = (p) => (p === '/feed.json' ? { status: 200, body: JSON.stringify({ items }) } : { status: 404, body: '{}' });
    await setConfig('cron-digest', { FEED_URL: `${upstream.url}/feed.json` });
    const r = await call('cron-digest', 'POST', '/digest/refresh');
    expect(r.status, r.body).toBe(200);
    expect(r.json()).toEqual({ items: 10 });
    const d = (await call('cron-digest', 'GET', '/digest')).json();
    expect(d.items.map((i: { title: string }) => i.title)).toEqual(['post 11', 'post 10', 'post 9', 'post 8', 'post 7', 'post 6', 'post 5', 'post 4', 'post 3', 'post 2']);
    expect(d.by).toBe('http');
  });

  it('contact-pipeline: a valid form is queued and delivered, retried after a 503', async () => {
    await deploy('contact-pipeline', allowUpstream());
    const page = await call('contact-pipeline', 'GET', '/');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect((await call('contact-pipeline', 'POST', '/contact', { name: 'Ann' })).json().error).toBe('please fill in: ["email", "message"]');
    await setConfig('contact-pipeline', { DELIVERY_URL: `${upstream.url}/mail` });
    upstream.answer = (p, n) => (p === '/mail' && n === 1 ? { status: 503, body: '{}' } : { status: 200, body: '{"ok":true}' });
    const r = await call('contact-pipeline', 'POST', '/contact', { name: 'Ann', email: 'ann@example.com', message: 'hello' });
    expect(r.status, r.body).toBe(202);
    expect(r.json().queued).toEqual(expect.any(String));
    const deadline = Date.now() + 30_000;
    while (upstream.got.filter((g) => g.path === '/mail').length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const mails = upstream.got.filter((g) => g.path === '/mail');
    expect(mails).toHaveLength(2); // the 503, then the retry after the 2 s backoff
    expect(JSON.parse(mails[1]!.body)).toEqual({ subject: 'Contact from Ann', reply_to: 'ann@example.com', text: 'hello' });
  });
});
