/**
 * Which git requests may create a repository, what `?service=` means, and who is recorded as the pusher
 * (issue 8, "smaller ones"): real git and fetch against a real server.
 * - no repository exists without a valid push by a token that may push: a read token's info/refs of an unknown
 *   name, a push token's info/refs alone, and a rejected first push all leave no repository behind;
 * - `info/refs` takes exactly one `service` (git reads the last one, URLSearchParams the first): else 400;
 * - the pusher recorded is the token's own name, whatever basic-auth user name the client sent;
 * - a rollback through the API moves git's ref along with the live release.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertToken, newToken } from '../../src/db/tokens.ts';
import { readRef } from '../../src/git/repos.ts';
import { cleanupTempDirs, commitAll, headSha, makeRepo, push, remoteUrl, runGit, tempDir, writeFiles } from '../helpers/git.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let readToken: string;
let deployToken: string;

beforeAll(async () => {
  srv = await startTestServer({ ingress: false });
  readToken = newToken();
  deployToken = newToken();
  await insertToken(srv.pool, 'reader', readToken, 'read');
  await insertToken(srv.pool, 'ci-deploy', deployToken, 'deploy');
});
afterAll(async () => {
  await srv?.close();
  cleanupTempDirs();
});

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const repoDir = (app: string) => path.join(srv.config.paths.repos, `${app}.git`);

describe('repository creation', () => {
  it('should create no repository for a read token asking an unknown name, with 404 for fetch and 403 for push', async () => {
    const up = await fetch(`${srv.url}/git/ghost.git/info/refs?service=git-upload-pack`, { headers: { authorization: basic('x', readToken) } });
    expect(up.status).toBe(404);
    expect(await up.text()).toMatch(/no app named "ghost"/);
    const rp = await fetch(`${srv.url}/git/ghost.git/info/refs?service=git-receive-pack`, { headers: { authorization: basic('x', readToken) } });
    expect(rp.status).toBe(403);
    const clone = await runGit(tempDir(), ['clone', remoteUrl(srv.url, 'ghost', readToken), 'c']);
    expect(clone.code).not.toBe(0);
    expect(existsSync(repoDir('ghost'))).toBe(false);
  });

  it('should advertise an empty repository to a push token without creating one', async () => {
    const r = await fetch(`${srv.url}/git/fresh.git/info/refs?service=git-receive-pack`, { headers: { authorization: basic('x', deployToken) } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/x-git-receive-pack-advertisement');
    const body = await r.text();
    expect(body).toContain('# service=git-receive-pack');
    expect(body).toContain('capabilities^{}');
    expect(existsSync(repoDir('fresh'))).toBe(false);
  });

  it('should remove the repository a rejected first push created, and keep the one of a valid push', async () => {
    const repo = await makeRepo({ files: { 'picloud.toml': '[[routes]]\npath = "/"\nscript = "missing.rhai"\n' } });
    const bad = await push(repo, remoteUrl(srv.url, 'firstbad', deployToken), ['main']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Push rejected/);
    expect(existsSync(repoDir('firstbad'))).toBe(false);

    const good = await makeRepo({ fixture: 'hello' });
    const ok = await push(good, remoteUrl(srv.url, 'firstbad', deployToken), ['main']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(path.join(repoDir('firstbad'), 'HEAD'))).toBe(true);
    // a later rejected push never removes a repository that holds a release
    writeFiles(good, { 'picloud.toml': 'not toml [' });
    await commitAll(good, 'broken');
    const later = await push(good, remoteUrl(srv.url, 'firstbad', deployToken), ['main']);
    expect(later.code).not.toBe(0);
    expect(existsSync(path.join(repoDir('firstbad'), 'HEAD'))).toBe(true);
    const clone = await runGit(tempDir(), ['clone', '-q', remoteUrl(srv.url, 'firstbad', readToken), 'c']);
    expect(clone.code, clone.stderr).toBe(0);
  });
});

describe('?service=', () => {
  it('should answer 400 to a repeated, missing or unknown service, and serve exactly one', async () => {
    const auth = { authorization: basic('x', srv.token) };
    const good = await makeRepo({ fixture: 'hello' });
    expect((await push(good, remoteUrl(srv.url, 'svc', srv.token), ['main'])).code).toBe(0);
    for (const q of ['service=git-upload-pack&service=git-receive-pack', 'service=git-receive-pack&service=git-upload-pack', '', 'service=git-upload-archive']) {
      const r = await fetch(`${srv.url}/git/svc.git/info/refs?${q}`, { headers: auth });
      expect(r.status, q).toBe(400);
      expect(await r.text()).toMatch(/exactly one service/);
    }
    // a read token cannot reach receive-pack by putting it second (git would have read the last one)
    const sneaky = await fetch(`${srv.url}/git/svc.git/info/refs?service=git-upload-pack&service=git-receive-pack`, { headers: { authorization: basic('x', readToken) } });
    expect(sneaky.status).toBe(400);
    const one = await fetch(`${srv.url}/git/svc.git/info/refs?service=git-upload-pack`, { headers: auth });
    expect(one.status).toBe(200);
    expect(one.headers.get('content-type')).toBe('application/x-git-upload-pack-advertisement');
  });
});

describe('pusher', () => {
  it("should record the token's own name, not the basic-auth user name", async () => {
    const repo = await makeRepo({ fixture: 'hello' });
    const r = await push(repo, remoteUrl(srv.url, 'who', deployToken, 'somebody-else'), ['main']);
    expect(r.code, r.stderr).toBe(0);
    const { rows } = await srv.pool.query(
      `SELECT r.pusher FROM releases r JOIN apps a ON a.id = r.app_id WHERE a.name = 'who'`,
    );
    expect(rows).toEqual([{ pusher: 'ci-deploy' }]);
  });
});

describe('rollback through the API', () => {
  it("should move git's ref with the live release, so pushing the newer commit again deploys it", async () => {
    const repo = await makeRepo({ fixture: 'hello' });
    const v1 = await headSha(repo);
    expect((await push(repo, remoteUrl(srv.url, 'rb', srv.token), ['main'])).code).toBe(0);
    writeFiles(repo, { 'hello.rhai': 'fn handle(ctx) { "v2" }\n' });
    const v2 = await commitAll(repo, 'v2');
    expect((await push(repo, remoteUrl(srv.url, 'rb', srv.token), ['main'])).code).toBe(0);

    const r = await fetch(`${srv.url}/api/v1/apps/rb/rollback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ version: 1 }),
    });
    expect(r.status, await r.clone().text()).toBe(201);
    expect(await readRef(repoDir('rb'), 'refs/heads/main')).toBe(v1);
    const again = await push(repo, remoteUrl(srv.url, 'rb', srv.token), ['main']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('Everything up-to-date');
    expect(again.stderr).toMatch(/Released v4 /);
    expect(await readRef(repoDir('rb'), 'refs/heads/main')).toBe(v2);
  });
});
