/**
 * Git smart HTTP auth: every git request (info/refs, git-receive-pack, git-upload-pack) needs the API token as the
 * basic-auth password; a push without or with a wrong token is refused with 401, also when the POST to
 * git-receive-pack is replayed by hand without credentials (the node-git-server hole, stack-notes.md §1).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertToken, newToken } from '../../src/db/tokens.ts';
import { cleanupTempDirs, git, gitEnv, headSha, makeRepo, push, remoteUrl } from '../helpers/git.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer({ ingress: false });
});
afterAll(async () => {
  await srv?.close();
  cleanupTempDirs();
});

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;

/** A receive-pack request body as git would send it: one ref command, flush, then the pack. */
function receivePackBody(repo: string, sha: string): Buffer {
  const pack = spawnSync('git', ['pack-objects', '--revs', '--stdout', '-q'], { cwd: repo, input: `${sha}\n`, env: gitEnv() });
  const cmd = pkt(`${'0'.repeat(40)} ${sha} refs/heads/main\0 report-status agent=test\n`);
  return Buffer.concat([Buffer.from(`${cmd}0000`), pack.stdout]);
}

describe('git smart HTTP auth', () => {
  it('should answer info/refs without credentials with 401 and a Basic challenge', async () => {
    const r = await fetch(`${srv.url}/git/demo.git/info/refs?service=git-receive-pack`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('should answer info/refs with a wrong token with 401, for upload-pack too', async () => {
    for (const service of ['git-receive-pack', 'git-upload-pack']) {
      const r = await fetch(`${srv.url}/git/demo.git/info/refs?service=${service}`, { headers: { authorization: basic('x', 'pc_wrong') } });
      expect(r.status).toBe(401);
    }
  });

  it('should refuse git push without a token and with a wrong token', async () => {
    const repo = await makeRepo({ fixture: 'hello' });
    const none = await push(repo, remoteUrl(srv.url, 'noauth', null), ['main']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/401|Authentication failed|could not read Username/);
    const wrong = await push(repo, remoteUrl(srv.url, 'noauth', 'pc_not_a_token'), ['main']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/Authentication failed|401/);
    const { rows } = await srv.pool.query('SELECT name FROM apps');
    expect(rows).toEqual([]);
  });

  it('should refuse a replayed POST to git-receive-pack and git-upload-pack without credentials', async () => {
    const repo = await makeRepo({ fixture: 'hello' });
    const sha = await headSha(repo);
    // a valid info/refs with credentials creates the repo, so the replay targets a real repository
    const ok = await fetch(`${srv.url}/git/replay.git/info/refs?service=git-receive-pack`, { headers: { authorization: basic('x', srv.token) } });
    expect(ok.status).toBe(200);
    const body = receivePackBody(repo, sha);
    for (const auth of [undefined, basic('x', 'pc_wrong')]) {
      const r = await fetch(`${srv.url}/git/replay.git/git-receive-pack`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-git-receive-pack-request', ...(auth ? { authorization: auth } : {}) },
        body,
      });
      expect(r.status).toBe(401);
    }
    const up = await fetch(`${srv.url}/git/replay.git/git-upload-pack`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-git-upload-pack-request' },
      body: '0000',
    });
    expect(up.status).toBe(401);
    const ref = spawnSync('git', ['rev-parse', '--verify', '-q', 'refs/heads/main'], { env: { ...gitEnv(), GIT_DIR: path.join(srv.config.paths.repos, 'replay.git') } });
    expect(ref.stdout.toString().trim()).toBe('');
    // the same bytes with the token reach git (and its pre-receive hook): the refusal above was the auth check
    const withToken = await fetch(`${srv.url}/git/replay.git/git-receive-pack`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-git-receive-pack-request', authorization: basic('x', srv.token) },
      body,
    });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toMatch(/unpack ok/);
  });

  it('should let a read-only token clone but not push', async () => {
    const ro = newToken();
    await insertToken(srv.pool, 'reader', ro, 'read');
    const repo = await makeRepo({ fixture: 'hello' });
    const r = await push(repo, remoteUrl(srv.url, 'readonly', ro), ['main']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/403/);
    const first = await push(repo, remoteUrl(srv.url, 'readonly', srv.token), ['main']);
    expect(first.code, first.stderr).toBe(0);
    const dir = await makeRepo();
    await git(dir, ['clone', '-q', remoteUrl(srv.url, 'readonly', ro), 'copy']);
    expect(await git(`${dir}/copy`, ['rev-parse', 'HEAD'])).toBe(await headSha(repo));
  });

  it('should 404 an invalid app name after auth, without creating anything', async () => {
    const r = await fetch(`${srv.url}/git/Bad--Name.git/info/refs?service=git-receive-pack`, { headers: { authorization: basic('x', srv.token) } });
    expect(r.status).toBe(404);
    expect(existsSync(path.join(srv.config.paths.repos, 'Bad--Name.git'))).toBe(false);
  });
});
