/**
 * The push pipeline end-to-end with the real git client against a running server: a good push prints the
 * progress lines and ends with the release line and URLs, and the new code answers right away; branch previews
 * appear and disappear; force-pushing an older commit rolls back from the AST cache; pushes to one app serialise
 * while pushes to different apps do not wait for each other.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollbackRelease } from '../../src/deploy/release.ts';
import { KeyedMutex } from '../../src/git/push-lock.ts';
import { cleanupTempDirs, commitAll, git, headSha, makeRepo, push, remoteUrl, resetHard, writeFiles } from '../helpers/git.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const pushes: { app: string; start: number; end: number; ok: boolean }[] = [];
const pushLock = new KeyedMutex();
let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ onPush: (e) => pushes.push(e), pushLock });
});
afterAll(async () => {
  await srv?.close();
  cleanupTempDirs();
});

const remoteLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('remote: '))
    .map((l) => l.slice('remote: '.length).trim());

async function get(path: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, headers: host ? { host } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function live(app: string, branch: string): Promise<{ version: number; commit_sha: string; pusher: string } | null> {
  const { rows } = await srv.pool.query(
    `SELECT r.version, r.commit_sha, r.pusher FROM branch_pointers p JOIN releases r ON r.id = p.release_id JOIN apps a ON a.id = p.app_id
      WHERE a.name = $1 AND p.branch = $2`,
    [app, branch],
  );
  return rows[0] ?? null;
}

describe('git push', () => {
  let repo: string;
  let v1: string;
  const url = () => remoteUrl(srv.url, 'hello', srv.token, 'alice');

  it('should deploy a two-route app: progress lines, release line with URLs, live right away', async () => {
    repo = await makeRepo({ fixture: 'hello' });
    v1 = await headSha(repo);
    const r = await push(repo, url(), ['main']);
    expect(r.code, r.stderr).toBe(0);
    const lines = remoteLines(r.stderr);
    expect(lines[0]).toBe('-----> Validating picloud.toml');
    expect(lines[1]).toMatch(/^-----> Compiled 2 scripts \(0 cached\) in \d+ ms$/);
    expect(lines.at(-2)).toBe(`-----> Released v1 (${v1.slice(0, 7)}) http://hello.localhost:${srv.port}/`);
    expect(lines.at(-1)).toBe(`http://127.0.0.1:${srv.port}/apps/hello/`);
    expect(await live('hello', 'main')).toEqual({ version: 1, commit_sha: v1, pusher: 'test-admin' });
    const { rows } = await srv.pool.query(`SELECT config, scripts FROM releases WHERE commit_sha = $1`, [v1]);
    expect(rows[0].config).toEqual({ env: { GREETING: 'hello' }, limits: {}, fetch: {} });
    expect(Object.keys(rows[0].scripts).sort()).toEqual(['echo.rhai', 'hello.rhai']);
    expect(await get('/apps/hello/hello/world')).toEqual({ status: 200, body: 'hello, world!' });
    expect((await get('/hello/host', `hello.localhost:${srv.port}`)).body).toBe('hello, host!');
  });

  it('should deploy a change with the unchanged script from the cache, serving it when the push returns', async () => {
    writeFiles(repo, { 'hello.rhai': 'fn handle(ctx) {\n    "v2: " + ctx.params.name\n}\n' });
    const v2 = await commitAll(repo, 'v2');
    const r = await push(repo, url(), ['main']);
    expect(r.code, r.stderr).toBe(0);
    const lines = remoteLines(r.stderr);
    expect(lines[1]).toMatch(/^-----> Compiled 2 scripts \(1 cached\) in \d+ ms$/);
    expect(lines.at(-2)).toBe(`-----> Released v2 (${v2.slice(0, 7)}) http://hello.localhost:${srv.port}/`);
    expect((await get('/apps/hello/hello/x')).body).toBe('v2: x');
  });

  it('should give a branch its own preview, and remove it when the branch is deleted', async () => {
    writeFiles(repo, { 'hello.rhai': 'fn handle(ctx) { "preview: " + ctx.params.name }\n' });
    const p = await commitAll(repo, 'preview');
    const r = await push(repo, url(), ['HEAD:refs/heads/Feature/Login']);
    expect(r.code, r.stderr).toBe(0);
    const lines = remoteLines(r.stderr);
    expect(lines.at(-2)).toBe(`-----> Released v1 (${p.slice(0, 7)}) http://feature-login--hello.localhost:${srv.port}/`);
    expect(lines.at(-1)).toBe(`http://127.0.0.1:${srv.port}/apps/feature-login--hello/`);
    expect((await live('hello', 'Feature/Login'))?.version).toBe(1);
    expect((await live('hello', 'main'))?.version).toBe(2);
    expect((await get('/apps/feature-login--hello/hello/y')).body).toBe('preview: y');
    expect((await get('/hello/y', `feature-login--hello.localhost:${srv.port}`)).body).toBe('preview: y');
    expect((await get('/apps/hello/hello/y')).body).toBe('v2: y');
    const del = await push(repo, url(), [':refs/heads/Feature/Login']);
    expect(del.code, del.stderr).toBe(0);
    expect(remoteLines(del.stderr)).toContain('-----> Removed the preview of Feature/Login');
    expect(await live('hello', 'Feature/Login')).toBeNull();
    expect((await get('/apps/feature-login--hello/hello/y')).status).toBe(404);
    expect((await get('/apps/hello/hello/y')).body).toBe('v2: y');
  });

  it('should clone the app back over HTTP with the token', async () => {
    const dir = await makeRepo();
    await git(dir, ['clone', '-q', url(), 'copy']);
    const sha = await git(`${dir}/copy`, ['rev-parse', 'HEAD']);
    expect(sha).toBe((await git(repo, ['ls-remote', url(), 'refs/heads/main'])).split('\t')[0]);
    expect(await git(`${dir}/copy`, ['show', 'HEAD:hello.rhai'])).toContain('v2: ');
  });

  it('should refuse to delete the production branch', async () => {
    const r = await push(repo, url(), [':refs/heads/main']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/the production branch "main" cannot be deleted/);
    expect((await live('hello', 'main'))?.version).toBe(2);
  });

  it('should roll back by force-pushing an older commit: a new release, every script from the cache', async () => {
    await resetHard(repo, v1);
    const r = await push(repo, url(), ['main'], { force: true });
    expect(r.code, r.stderr).toBe(0);
    const lines = remoteLines(r.stderr);
    expect(lines[1]).toMatch(/^-----> Compiled 2 scripts \(2 cached\) in \d+ ms$/);
    expect(lines.at(-2)).toBe(`-----> Released v3 (${v1.slice(0, 7)}) http://hello.localhost:${srv.port}/`);
    expect(await live('hello', 'main')).toMatchObject({ version: 3, commit_sha: v1 });
    expect((await get('/apps/hello/hello/back')).body).toBe('hello, back!');
  });

  it('should roll back through rollbackRelease (the API path): a new release copying vN, with a NOTIFY', async () => {
    const listener = await srv.pool.connect();
    const notes: string[] = [];
    listener.on('notification', (n) => notes.push(n.payload ?? ''));
    await listener.query('LISTEN picloud_releases');
    try {
      const r = await rollbackRelease(srv.pool, { app: 'hello', branch: 'main', version: 2, pusher: 'api-user' });
      expect(r).toMatchObject({ version: 4, rolledBackTo: 2, description: 'Rollback to v2', pusher: 'api-user' });
      const v2 = (await srv.pool.query(`SELECT commit_sha FROM releases WHERE version = 2 AND branch = 'main'`)).rows[0].commit_sha;
      expect(await live('hello', 'main')).toMatchObject({ version: 4, commit_sha: v2 });
      const routes = await srv.pool.query('SELECT path, methods, script_path, function FROM routes WHERE release_id = $1 ORDER BY idx', [r.id]);
      expect(routes.rows).toEqual([
        { path: '/hello/:name', methods: ['GET'], script_path: 'hello.rhai', function: 'handle' },
        { path: '/echo', methods: ['POST', 'PUT'], script_path: 'echo.rhai', function: null },
      ]);
      for (let i = 0; i < 100 && notes.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(notes.map((n) => JSON.parse(n))).toContainEqual({ app: 'hello', branch: 'main', release: r.id });
      await expect(rollbackRelease(srv.pool, { app: 'hello', branch: 'main', version: 99, pusher: 'x' })).rejects.toMatchObject({ code: 'RELEASE_NOT_FOUND' });
      await expect(rollbackRelease(srv.pool, { app: 'nope', branch: 'main', version: 1, pusher: 'x' })).rejects.toMatchObject({ code: 'APP_NOT_FOUND' });
    } finally {
      listener.release();
    }
  });

  it('should put the previous release back live when git fails to update the ref after the hook', async () => {
    const before = await live('hello', 'main');
    const lock = path.join(srv.config.paths.repos, 'hello.git', 'refs', 'heads', 'main.lock');
    writeFileSync(lock, '');
    try {
      writeFiles(repo, { 'hello.rhai': 'fn handle(ctx) { "never live" }\n' });
      await commitAll(repo, 'doomed');
      const r = await push(repo, url(), ['HEAD:main'], { force: true });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/-----> Released v\d+/); // the hook switched…
      expect(r.stderr).toMatch(/main -> main \(failed to update ref\)|cannot lock ref/); // …then git failed
    } finally {
      rmSync(lock, { force: true });
    }
    expect(await live('hello', 'main')).toEqual(before);
    // the route table follows the restored pointer on its NOTIFY
    let body = '';
    for (let i = 0; i < 100 && body !== 'v2: z'; i++) {
      body = (await get('/apps/hello/hello/z')).body;
      if (body !== 'v2: z') await new Promise((res) => setTimeout(res, 20));
    }
    expect(body).toBe('v2: z');
  });

  it('should refuse a branch whose preview URL would collide with a live branch', async () => {
    const ok = await push(repo, url(), ['HEAD:refs/heads/fix_a']);
    expect(ok.code, ok.stderr).toBe(0);
    const clash = await push(repo, url(), ['HEAD:refs/heads/Fix-A']);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toMatch(/branch "Fix-A" would share the preview URL "fix-a--hello" with the live branch "fix_a"/);
    const edge = await push(repo, url(), ['HEAD:refs/heads/fix-']);
    expect(edge.code).not.toBe(0);
    expect(edge.stderr).toMatch(/preview host "fix---hello" would be ambiguous/);
  });

  it('should serialise two concurrent pushes to one app and keep the DB and the ref in agreement', async () => {
    const a = await makeRepo({ fixture: 'hello' });
    const b = await makeRepo({ fixture: 'hello', files: { 'hello.rhai': 'fn handle(ctx) { "b" }\n' } });
    const u = remoteUrl(srv.url, 'race', srv.token);
    expect((await push(a, u, ['main'])).code).toBe(0);
    await git(b, ['fetch', '-q', u, 'main']);
    await git(b, ['reset', '-q', '--hard', 'FETCH_HEAD']);
    writeFiles(a, { 'echo.rhai': '"a2"\n' });
    writeFiles(b, { 'echo.rhai': '"b2"\n' });
    const a2 = await commitAll(a, 'a2');
    const b2 = await commitAll(b, 'b2');
    pushes.length = 0;
    // two pushes to one app at once: same branch from diverging commits, plus another branch
    const [ra, rb, rc] = await Promise.all([push(a, u, ['main']), push(b, u, ['main']), push(b, u, ['HEAD:side'])]);
    const okMain = [ra, rb].filter((r) => r.code === 0);
    expect(okMain).toHaveLength(1);
    expect(rc.code, rc.stderr).toBe(0);
    const remoteMain = (await git(a, ['ls-remote', u, 'refs/heads/main'])).split('\t')[0];
    expect([a2, b2]).toContain(remoteMain);
    expect((await live('race', 'main'))?.commit_sha).toBe(remoteMain);
    expect((await live('race', 'main'))?.version).toBe(2);
    // the hook runs of one app never overlap
    const runs = pushes.filter((p) => p.app === 'race').sort((x, y) => x.start - y.start);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.end);
  });

  it('should not make a push to one app wait for another app', async () => {
    const held = await makeRepo({ fixture: 'hello' });
    const free = await makeRepo({ fixture: 'hello' });
    const release = await pushLock.acquire('held'); // as if a long push to "held" were in progress
    let heldDone = false;
    const heldPush = push(held, remoteUrl(srv.url, 'held', srv.token), ['main']).then((r) => {
      heldDone = true;
      return r;
    });
    const rf = await push(free, remoteUrl(srv.url, 'free', srv.token), ['main']);
    expect(rf.code, rf.stderr).toBe(0);
    expect(heldDone).toBe(false);
    release();
    const rh = await heldPush;
    expect(rh.code, rh.stderr).toBe(0);
    expect((await live('held', 'main'))?.version).toBe(1);
  });
});
