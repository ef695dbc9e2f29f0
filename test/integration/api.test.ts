/** The control-plane API against a real PostgreSQL (one fresh database for this file). */
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/common/config.ts';
import { silentLogger } from '../../src/common/log.ts';
import { apiPlugin } from '../../src/manager/api.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { fixtureInvocation, fixtureRelease, fixtureToken, rollbackForTests } from '../helpers/fixtures.ts';

let db: TestDatabase;
let app: FastifyInstance;
let config: Config;
let home: string;
let admin: string;
let listener: pg.Client;
const notes: { channel: string; payload: unknown }[] = [];

const auth = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  db = await createTestDatabase();
  home = await mkdtemp(path.join(os.tmpdir(), 'picloud-api-'));
  config = loadConfig({ PICLOUD_HOME: home, PICLOUD_DOMAIN: 'pi.test', PORT: '8080' });
  admin = await fixtureToken(db.pool, 'admin');
  const { fn } = await rollbackForTests();
  app = Fastify();
  await app.register(apiPlugin, { config, pool: db.pool, log: silentLogger, rollback: fn });
  await app.ready();
  listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  listener.on('notification', (m) => notes.push({ channel: m.channel, payload: JSON.parse(m.payload ?? 'null') }));
  await listener.query('LISTEN picloud_releases');
});

afterAll(async () => {
  await app?.close();
  await listener?.end();
  await db?.drop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('api', () => {
  describe('when the request has no valid token', () => {
    it('should answer 401 AUTH_REQUIRED', async () => {
      const r1 = await app.inject({ url: '/api/v1/apps' });
      expect(r1.statusCode).toBe(401);
      expect(r1.json()).toMatchObject({ code: 'AUTH_REQUIRED' });
      expect(r1.headers['www-authenticate']).toBe('Bearer realm="picloud"');
      const r2 = await app.inject({ url: '/api/v1/apps', headers: auth('pc_nope') });
      expect(r2.statusCode).toBe(401);
    });
    it('should answer unknown API paths with JSON', async () => {
      const r = await app.inject({ url: '/api/v1/nothing', headers: auth(admin) });
      expect(r.statusCode).toBe(404);
      expect(r.headers['content-type']).toMatch(/json/);
      expect(r.json().code).toBe('ROUTE_NOT_FOUND');
    });
  });

  describe('apps', () => {
    it('should create, reject bad names and duplicates, and list', async () => {
      const c = await app.inject({ method: 'POST', url: '/api/v1/apps', headers: auth(admin), payload: { name: 'blog' } });
      expect(c.statusCode).toBe(201);
      expect(c.json().app).toMatchObject({ name: 'blog', productionBranch: 'main', branches: [], gitUrl: 'http://127.0.0.1:8080/git/blog.git' });
      for (const name of ['Blog', 'a--b', '1abc', 'x'.repeat(40), 42]) {
        const r = await app.inject({ method: 'POST', url: '/api/v1/apps', headers: auth(admin), payload: { name } });
        expect(r.statusCode, String(name)).toBe(400);
        expect(r.json().code).toBe('APP_NAME_INVALID');
      }
      const d = await app.inject({ method: 'POST', url: '/api/v1/apps', headers: auth(admin), payload: { name: 'blog' } });
      expect(d.statusCode).toBe(409);
      expect(d.json().code).toBe('APP_EXISTS');
      const l = await app.inject({ url: '/api/v1/apps', headers: auth(admin) });
      expect(l.json().apps.map((a: { name: string }) => a.name)).toEqual(['blog']);
    });

    it('should answer 404 APP_NOT_FOUND for unknown apps', async () => {
      const r = await app.inject({ url: '/api/v1/apps/ghost', headers: auth(admin) });
      expect(r.statusCode).toBe(404);
      expect(r.json().code).toBe('APP_NOT_FOUND');
    });
  });

  describe('releases and rollback', () => {
    it('should show branches with their live release and URLs', async () => {
      await fixtureRelease(db.pool, { app: 'shop', routes: [{ path: '/a' }], schedules: [{ cron: '*/5 * * * *' }], env: { GREETING: 'hi' } });
      await fixtureRelease(db.pool, { app: 'shop', routes: [{ path: '/a' }, { path: '/b', methods: ['POST'] }] });
      await fixtureRelease(db.pool, { app: 'shop', branch: 'Feature/Login', routes: [{ path: '/p' }] });
      const r = await app.inject({ url: '/api/v1/apps/shop', headers: auth(admin) });
      expect(r.statusCode).toBe(200);
      const branches = r.json().app.branches;
      expect(branches.map((b: { branch: string }) => b.branch)).toEqual(['main', 'Feature/Login']);
      expect(branches[0]).toMatchObject({ production: true, release: { version: 2 }, urls: { host: 'http://shop.pi.test:8080/', path: 'http://127.0.0.1:8080/apps/shop/' } });
      expect(branches[1]).toMatchObject({ production: false, slug: 'feature-login', urls: { host: 'http://feature-login--shop.pi.test:8080/' } });
      const p = await app.inject({ url: '/api/v1/apps/shop/previews', headers: auth(admin) });
      expect(p.json().previews.map((b: { branch: string }) => b.branch)).toEqual(['Feature/Login']);
    });

    it('should show public URLs when reached through the platform domain behind TLS', async () => {
      const r = await app.inject({ url: '/api/v1/apps/shop', headers: { ...auth(admin), host: 'pi.test', 'x-forwarded-proto': 'https' } });
      expect(r.json().app).toMatchObject({
        gitUrl: 'https://pi.test/git/shop.git',
        branches: [{ urls: { host: 'https://shop.pi.test/', path: 'https://pi.test/apps/shop/' } }, { urls: { host: 'https://feature-login--shop.pi.test/' } }],
      });
    });

    it('should list releases newest first with the live one marked, per branch', async () => {
      const r = await app.inject({ url: '/api/v1/apps/shop/releases', headers: auth(admin) });
      const rels = r.json().releases;
      expect(rels.map((x: { version: number; live: boolean }) => [x.version, x.live])).toEqual([[2, true], [1, false]]);
      const pr = await app.inject({ url: '/api/v1/apps/shop/releases?branch=Feature%2FLogin', headers: auth(admin) });
      expect(pr.json()).toMatchObject({ branch: 'Feature/Login', releases: [{ version: 1, live: true }] });
    });

    it('should roll back to v1 as a new live release and say what it restored', async () => {
      notes.length = 0;
      const r = await app.inject({ method: 'POST', url: '/api/v1/apps/shop/rollback', headers: auth(admin), payload: { version: 'v1' } });
      expect(r.statusCode, r.body).toBe(201);
      const body = r.json();
      expect(body.release).toMatchObject({ version: 3, live: true, branch: 'main' });
      expect(body.restored).toMatchObject({ from: 1, routes: 1, schedules: 1, envKeys: ['GREETING'] });
      const routes = await app.inject({ url: '/api/v1/apps/shop/routes', headers: auth(admin) });
      expect(routes.json()).toMatchObject({ release: { version: 3 }, routes: [{ path: '/a', methods: ['GET'] }], schedules: [{ cron: '*/5 * * * *' }] });
      await expect.poll(() => notes.some((n) => (n.payload as { app: string }).app === 'shop')).toBe(true);
    });

    it('should answer 404 RELEASE_NOT_FOUND and 400 for a bad version', async () => {
      const r = await app.inject({ method: 'POST', url: '/api/v1/apps/shop/rollback', headers: auth(admin), payload: { version: 99 } });
      expect(r.statusCode).toBe(404);
      expect(r.json().code).toBe('RELEASE_NOT_FOUND');
      const b = await app.inject({ method: 'POST', url: '/api/v1/apps/shop/rollback', headers: auth(admin), payload: { version: 'latest' } });
      expect(b.statusCode).toBe(400);
      expect(b.json().code).toBe('BAD_REQUEST');
    });
  });

  describe('config', () => {
    it('should set, show (overlaying the release env), and unset overrides, notifying route tables', async () => {
      notes.length = 0;
      const s = await app.inject({ method: 'PUT', url: '/api/v1/apps/shop/config', headers: auth(admin), payload: { API_KEY: 's3cret', GREETING: 'hello' } });
      expect(s.statusCode, s.body).toBe(200);
      expect(s.json()).toMatchObject({ branch: 'main', vars: { API_KEY: 's3cret', GREETING: 'hello' }, releaseEnv: { GREETING: 'hi' }, effective: { GREETING: 'hello' } });
      await expect.poll(() => notes.find((n) => (n.payload as { branch: string }).branch === 'main')?.payload).toMatchObject({ app: 'shop', branch: 'main' });
      const bad = await app.inject({ method: 'PUT', url: '/api/v1/apps/shop/config', headers: auth(admin), payload: { 'bad key': 'x' } });
      expect(bad.statusCode).toBe(400);
      const pv = await app.inject({ method: 'PUT', url: '/api/v1/apps/shop/config?branch=Feature%2FLogin', headers: auth(admin), payload: { ONLY_PREVIEW: '1' } });
      expect(pv.json().vars).toEqual({ ONLY_PREVIEW: '1' });
      const d = await app.inject({ method: 'DELETE', url: '/api/v1/apps/shop/config?keys=GREETING,NOPE', headers: auth(admin) });
      expect(d.json()).toMatchObject({ removed: ['GREETING'], vars: { API_KEY: 's3cret' }, effective: { GREETING: 'hi' } });
      const g = await app.inject({ url: '/api/v1/apps/shop/config', headers: auth(admin) });
      expect(g.json().vars).toEqual({ API_KEY: 's3cret' });
    });

    it('should show a read token config names, never values (issue 8)', async () => {
      const reader = await fixtureToken(db.pool, 'config-reader', 'read');
      const s = await app.inject({ method: 'PUT', url: '/api/v1/apps/shop/config', headers: auth(admin), payload: { DB_PASSWORD: 'hunter2-secret' } });
      expect(s.statusCode).toBe(200);
      const g = await app.inject({ url: '/api/v1/apps/shop/config', headers: auth(reader) });
      expect(g.statusCode).toBe(200);
      expect(g.body).not.toContain('hunter2-secret');
      expect(g.body).not.toContain('s3cret');
      expect(g.json()).toMatchObject({ values: false, vars: { API_KEY: null, DB_PASSWORD: null }, releaseEnv: { GREETING: null }, effective: { GREETING: null, DB_PASSWORD: null } });
      const rv = await app.inject({ url: '/api/v1/apps/shop/config?reveal=1', headers: auth(reader) });
      expect(rv.statusCode).toBe(403);
      expect(rv.json().code).toBe('AUTH_FORBIDDEN');
      expect(rv.body).not.toContain('hunter2-secret');
      const ad = await app.inject({ url: '/api/v1/apps/shop/config?reveal=1', headers: auth(admin) });
      expect(ad.json()).toMatchObject({ values: true, vars: { DB_PASSWORD: 'hunter2-secret' } });
      expect((await app.inject({ url: '/api/v1/apps/shop/config?reveal=maybe', headers: auth(admin) })).statusCode).toBe(400);
      // the release's [env] values are config values too
      const rel = await app.inject({ url: '/api/v1/apps/shop/releases', headers: auth(reader) });
      expect(rel.statusCode).toBe(200);
      expect(rel.json().releases.find((r: { config: { env?: object } }) => r.config.env && Object.keys(r.config.env).length)?.config.env).toEqual({ GREETING: null });
      expect(rel.body).not.toMatch(/"GREETING":"hi"/);
      const relAdmin = await app.inject({ url: '/api/v1/apps/shop/releases', headers: auth(admin) });
      expect(relAdmin.body).toMatch(/"GREETING":"hi"/);
      await db.pool.query("DELETE FROM api_tokens WHERE name = 'config-reader'");
    });
  });

  describe('invocations and logs', () => {
    it('should list recent invocations with filters', async () => {
      const { appId, releaseId } = await fixtureRelease(db.pool, { app: 'logsy' });
      await fixtureInvocation(db.pool, { appId, releaseId, status: 200, logs: [{ level: 'print', msg: 'hi' }] });
      await fixtureInvocation(db.pool, { appId, releaseId, status: 500, error: 'boom' });
      await fixtureInvocation(db.pool, { appId, branch: 'dev', status: 404 });
      const all = await app.inject({ url: '/api/v1/apps/logsy/invocations', headers: auth(admin) });
      expect(all.json().invocations.map((i: { status: number }) => i.status)).toEqual([404, 500, 200]);
      expect(all.json().invocations[2]).toMatchObject({ version: 1, logs: [{ msg: 'hi' }], branch: 'main' });
      const errs = await app.inject({ url: '/api/v1/apps/logsy/invocations?status=5xx', headers: auth(admin) });
      expect(errs.json().invocations).toMatchObject([{ status: 500, error: 'boom' }]);
      const dev = await app.inject({ url: '/api/v1/apps/logsy/logs?branch=dev', headers: auth(admin) });
      expect(dev.json().invocations).toMatchObject([{ status: 404 }]);
      const one = all.json().invocations[1];
      const got = await app.inject({ url: `/api/v1/apps/logsy/invocations/${one.id}`, headers: auth(admin) });
      expect(got.json().invocation).toMatchObject({ id: one.id, status: 500, error: 'boom' });
      const other = await app.inject({ url: `/api/v1/apps/shop/invocations/${one.id}`, headers: auth(admin) });
      expect(other.statusCode).toBe(404);
      expect(other.json().code).toBe('INVOCATION_NOT_FOUND');
      const stats = await app.inject({ url: '/api/v1/apps/logsy/stats', headers: auth(admin) });
      expect(stats.json()).toMatchObject({ lastMinute: 3, last5Minutes: 3, errors5Minutes: 1 });
    });

    it('should answer bad query parameters with 400, never 500 (issue 8)', async () => {
      const bad = [
        '/api/v1/apps/logsy/invocations?before=1e308',
        '/api/v1/apps/logsy/invocations?before=-1',
        '/api/v1/apps/logsy/invocations?before=99999999999999999999',
        '/api/v1/apps/logsy/invocations?before=0x10',
        '/api/v1/apps/logsy/invocations?limit=1e308',
        '/api/v1/apps/logsy/invocations?limit=0',
        '/api/v1/apps/logsy/invocations?limit=501',
        '/api/v1/apps/logsy/invocations?status=teapot',
        '/api/v1/apps/logsy/invocations?before=1&before=2',
        '/api/v1/apps/logsy/invocations?branch=a&branch=b',
        '/api/v1/apps/logsy/logs?before=1e308',
        '/api/v1/apps/logsy/logs?tail=maybe',
        '/api/v1/apps/logsy/releases?limit=abc',
        '/api/v1/apps/logsy/releases?limit=1e308',
        '/api/v1/apps/logsy/config?branch=a&branch=b',
        '/api/v1/apps/logsy/routes?branch=x&branch=y',
      ];
      for (const url of bad) {
        const r = await app.inject({ url, headers: auth(admin) });
        expect(r.statusCode, url).toBe(400);
        expect(r.json(), url).toMatchObject({ code: 'BAD_REQUEST' });
      }
      for (const id of ['1e308', '99999999999999999999', '-1', 'abc']) {
        const r = await app.inject({ url: `/api/v1/apps/logsy/invocations/${id}`, headers: auth(admin) });
        expect(r.statusCode, id).toBe(404);
      }
      const ok = await app.inject({ url: '/api/v1/apps/logsy/invocations?before=9007199254740991&limit=500&status=404', headers: auth(admin) });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().invocations).toMatchObject([{ status: 404 }]);
    });

    it('should read JSON bodies with a depth limit and __proto__ as a plain key (issue 8)', async () => {
      const deep = '['.repeat(500_000) + ']'.repeat(500_000);
      const json = { ...auth(admin), 'content-type': 'application/json' };
      for (const [method, url, payload] of [
        ['POST', '/api/v1/apps', `{"name":${deep}}`],
        ['PUT', '/api/v1/apps/shop/config', `{"A":${deep}}`],
        ['PUT', '/api/v1/apps/shop/kv/deep', deep],
        ['POST', '/api/v1/apps/shop/rollback', `{"version":${deep}}`],
      ] as const) {
        const r = await app.inject({ method, url, headers: json, payload });
        expect(r.statusCode, url).toBe(400);
        expect(r.json(), url).toMatchObject({ code: 'BAD_REQUEST', error: expect.stringMatching(/deeper than 256 levels/) });
      }
      const value = '{"__proto__":{"a":1},"constructor":{"prototype":{"b":2}}}';
      const put = await app.inject({ method: 'PUT', url: '/api/v1/apps/shop/kv/proto', headers: json, payload: value });
      expect(put.statusCode, put.body).toBe(200);
      const got = await app.inject({ url: '/api/v1/apps/shop/kv/proto', headers: auth(admin) });
      expect(got.body).toBe(`{"key":"proto","value":${value}}`);
      const cfg = await app.inject({ method: 'PUT', url: '/api/v1/apps/shop/config?branch=proto', headers: json, payload: '{"constructor":"c","__proto__":"p"}' });
      expect(cfg.statusCode, cfg.body).toBe(200);
      expect(cfg.json().vars).toEqual(JSON.parse('{"__proto__":"p","constructor":"c"}'));
      expect(Object.keys(cfg.json().vars).sort()).toEqual(['__proto__', 'constructor']);
      const bad = await app.inject({ method: 'PUT', url: '/api/v1/apps/shop/config?branch=proto', headers: json, payload: '{"__proto__":{"x":1}}' });
      expect(bad.statusCode).toBe(400);
      expect(({} as Record<string, unknown>).x).toBeUndefined();
    });

    it('should stream new invocations as server-sent events with tail=1', async () => {
      const srv = Fastify({ forceCloseConnections: true });
      await srv.register(apiPlugin, { config, pool: db.pool, log: silentLogger });
      const address = await srv.listen({ port: 0, host: '127.0.0.1' });
      try {
        const ac = new AbortController();
        const res = await fetch(`${address}/api/v1/apps/logsy/logs?tail=1`, { headers: auth(admin), signal: ac.signal });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
        const reader = res.body!.getReader();
        const dec = new TextDecoder();
        let buf = '';
        const until = async (pred: (s: string) => boolean) => {
          while (!pred(buf)) {
            const { value, done } = await reader.read();
            if (done) throw new Error('stream ended');
            buf += dec.decode(value, { stream: true });
          }
        };
        await until((s) => s.includes(': tailing'));
        const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM apps WHERE name = 'logsy'`);
        const id = await fixtureInvocation(db.pool, { appId: rows[0]!.id, status: 201, path: '/streamed', logs: [{ level: 'print', msg: 'live!' }] });
        await until((s) => s.includes(`id: ${id}\n`) && s.includes('live!'));
        const data = buf.split('\n').find((l) => l.startsWith('data: ') && l.includes('/streamed'))!;
        expect(JSON.parse(data.slice(6))).toMatchObject({ id, status: 201, path: '/streamed', app: 'logsy' });
        ac.abort();
      } finally {
        await srv.close();
      }
    });
  });

  describe('tokens', () => {
    it('should let admins create tokens and keep read tokens read-only', async () => {
      const c = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: auth(admin), payload: { name: 'ci', role: 'read' } });
      expect(c.statusCode).toBe(201);
      const { token } = c.json();
      expect(token).toMatch(/^pc_[0-9a-f]{40}$/);
      const who = await app.inject({ url: '/api/v1/whoami', headers: auth(token) });
      expect(who.json()).toEqual({ name: 'ci', role: 'read' });
      expect((await app.inject({ url: '/api/v1/apps', headers: auth(token) })).statusCode).toBe(200);
      const w = await app.inject({ method: 'POST', url: '/api/v1/apps', headers: auth(token), payload: { name: 'nope' } });
      expect(w.statusCode).toBe(403);
      expect(w.json().code).toBe('AUTH_FORBIDDEN');
      const t = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: auth(token), payload: { name: 'x' } });
      expect(t.statusCode).toBe(403);
      const list = await app.inject({ url: '/api/v1/tokens', headers: auth(admin) });
      expect(list.json().tokens.map((x: { name: string }) => x.name)).toEqual(['admin', 'ci']);
      expect(list.body).not.toContain(token);
    });
  });

  describe('tls-ask', () => {
    it('should approve only the bare domain, apps and live previews, without a token', async () => {
      const ask = async (d: string) => (await app.inject({ url: `/api/v1/tls-ask?domain=${encodeURIComponent(d)}` })).statusCode;
      expect(await ask('pi.test')).toBe(200);
      expect(await ask('shop.pi.test')).toBe(200);
      expect(await ask('SHOP.pi.test.')).toBe(200);
      expect(await ask('blog.pi.test')).toBe(200); // created, not deployed yet
      expect(await ask('feature-login--shop.pi.test')).toBe(200);
      expect(await ask('other--shop.pi.test')).toBe(404);
      expect(await ask('main--shop.pi.test')).toBe(404);
      expect(await ask('ghost.pi.test')).toBe(404);
      expect(await ask('a.shop.pi.test')).toBe(404);
      expect(await ask('shop.evil.test')).toBe(404);
      expect(await ask('')).toBe(404);
    });
  });

  describe('destroy', () => {
    it('should remove the rows and the bare repo and drop live branches from route tables', async () => {
      const repo = path.join(config.paths.repos, 'shop.git');
      await mkdir(path.join(repo, 'objects'), { recursive: true });
      notes.length = 0;
      const r = await app.inject({ method: 'DELETE', url: '/api/v1/apps/shop', headers: auth(admin) });
      expect(r.statusCode, r.body).toBe(200);
      expect(r.json()).toEqual({ destroyed: 'shop', branches: expect.arrayContaining(['main', 'Feature/Login']) });
      await expect(stat(repo)).rejects.toThrow();
      for (const t of ['releases', 'config_vars', 'branch_pointers']) {
        const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${t} t JOIN apps a ON a.id = t.app_id WHERE a.name = 'shop'`);
        expect(rows[0].n).toBe(0);
      }
      await expect.poll(() => notes.filter((n) => (n.payload as { release: unknown }).release === null).length).toBe(2);
      expect((await app.inject({ url: '/api/v1/apps/shop', headers: auth(admin) })).statusCode).toBe(404);
    });
  });
});
