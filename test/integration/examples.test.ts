/**
 * Every app in examples/: `picloud check` accepts it, and a real git push of it to a real server deploys it; each is
 * then exercised over HTTP the way its README says.
 */
import { cpSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.ts';
import { cleanupTempDirs, commitAll, makeRepo, push, remoteUrl } from '../helpers/git.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ROOT } from '../helpers/start.ts';

const EXAMPLES = path.join(ROOT, 'examples');
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
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

/** Copy an example into a fresh repository (plus extra files), commit and push it; returns the push's stderr. */
async function deploy(name: string, extra: Record<string, string> = {}): Promise<string> {
  const repo = await makeRepo({ files: extra });
  cpSync(path.join(EXAMPLES, name), repo, { recursive: true });
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
    expect(c.json()).toEqual({ code: '1', short: '/1' });
    const go = await call('url-shortener', 'GET', '/1');
    expect(go.status).toBe(302);
    expect(go.headers.location).toBe('https://rhai.rs/book/');
    expect((await call('url-shortener', 'GET', '/links/1')).json()).toMatchObject({ url: 'https://rhai.rs/book/', hits: 1 });
    expect((await call('url-shortener', 'GET', '/zz')).status).toBe(404);
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
});
