/**
 * Bad pushes (architecture.md §3): each class of problem is rejected before git accepts the push, with a
 * `path:line:col: message` diagnostic as `remote:` lines and git's `pre-receive hook declined`; the ref and the
 * live release stay untouched (checked in the DB and, when the ingress is mounted, over HTTP).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, commitAll, git, headSha, makeRepo, push, remoteUrl, resetHard, writeFiles, type FileSpec } from '../helpers/git.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let repo: string;
let base: string;
let url: string;
const APP = 'rejects';

async function liveVersion(): Promise<number | null> {
  const { rows } = await srv.pool.query<{ version: number }>(
    `SELECT r.version FROM branch_pointers p JOIN releases r ON r.id = p.release_id JOIN apps a ON a.id = p.app_id
      WHERE a.name = $1 AND p.branch = 'main'`,
    [APP],
  );
  return rows[0]?.version ?? null;
}

beforeAll(async () => {
  srv = await startTestServer();
  repo = await makeRepo({ fixture: 'hello' });
  base = await headSha(repo);
  url = remoteUrl(srv.url, APP, srv.token);
  const r = await push(repo, url, ['main']);
  expect(r.code, r.stderr).toBe(0);
  expect(await liveVersion()).toBe(1);
});
afterAll(async () => {
  await srv?.close();
  cleanupTempDirs();
});

/** Commit `files` on top of the good base and push; the push must be rejected. */
async function pushBad(files: Record<string, FileSpec>): Promise<string> {
  await resetHard(repo, base);
  writeFiles(repo, files);
  await commitAll(repo, 'bad');
  const r = await push(repo, url, ['main']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('! [remote rejected] main -> main (pre-receive hook declined)');
  expect(r.stderr).toContain('remote:  !     Push rejected');
  // the ref and the live release are untouched
  expect((await git(repo, ['ls-remote', url, 'refs/heads/main'])).split('\t')[0]).toBe(base);
  expect(await liveVersion()).toBe(1);
  const res = await fetch(`${srv.url}/apps/${APP}/hello/world`);
  expect(await res.text()).toBe('hello, world!');
  return r.stderr;
}

const TOML = (extra: string) => `[[routes]]\npath = "/hello/:name"\nscript = "hello.rhai"\nfunction = "handle"\n${extra}`;

describe('rejected pushes', () => {
  it('should reject a TOML syntax error with its position', async () => {
    const out = await pushBad({ 'picloud.toml': '[[routes]]\npath = "/x"\nscript = \n' });
    expect(out).toMatch(/remote: picloud\.toml:3:\d+: TOML syntax error/);
  });

  it('should reject an unknown key with its line and column, and show the source line with a caret', async () => {
    const out = await pushBad({ 'picloud.toml': TOML('handler = "x"\n') });
    expect(out).toMatch(/remote: picloud\.toml:5:1: unknown key "routes\.handler"/);
    expect(out).toMatch(/remote: handler = "x"\s*\nremote: \^/);
  });

  it('should reject a Rhai syntax error as path:line:col with a caret', async () => {
    const out = await pushBad({ 'hello.rhai': 'fn handle(ctx) {\n    let = 1;\n}\n' });
    expect(out).toMatch(/remote: hello\.rhai:2:\d+: /);
    expect(out).toMatch(/remote: \s*let = 1;/);
  });

  it('should reject a route whose script does not exist', async () => {
    const out = await pushBad({ 'picloud.toml': TOML('[[routes]]\npath = "/b"\nscript = "nope.rhai"\n') });
    expect(out).toMatch(/remote: picloud\.toml:7:10: script "nope\.rhai" not found/);
  });

  it('should reject a function that is not defined or has the wrong arity', async () => {
    const out = await pushBad({
      'picloud.toml': TOML('[[routes]]\npath = "/b"\nscript = "b.rhai"\nfunction = "missing"\n[[routes]]\npath = "/c"\nscript = "b.rhai"\nfunction = "two"\n'),
      'b.rhai': 'fn two(a, b) { a + b }\n',
    });
    expect(out).toMatch(/remote: picloud\.toml:8:12: function "missing" is not defined in b\.rhai/);
    expect(out).toMatch(/remote: picloud\.toml:12:12: function "two" in b\.rhai takes 2 parameter/);
  });

  it('should reject a bad cron expression', async () => {
    const out = await pushBad({ 'picloud.toml': TOML('[[schedules]]\ncron = "61 * * * *"\nscript = "hello.rhai"\n') });
    expect(out).toMatch(/remote: picloud\.toml:6:8: invalid cron "61 \* \* \* \*"/);
  });

  it('should reject a script path escaping the repository with ..', async () => {
    const out = await pushBad({ 'picloud.toml': TOML('[[routes]]\npath = "/b"\nscript = "../outside.rhai"\n') });
    expect(out).toMatch(/remote: picloud\.toml:7:10: script path "\.\.\/outside\.rhai" escapes the repository/);
  });

  it('should reject a script that is a symlink, and a symlink pointing outside the repository', async () => {
    const out = await pushBad({
      'picloud.toml': TOML('[[routes]]\npath = "/b"\nscript = "link.rhai"\n'),
      'link.rhai': { symlink: '/etc/passwd' },
    });
    expect(out).toMatch(/remote: link\.rhai:1:1: symlink points outside the repository/);
    expect(out).toMatch(/remote: picloud\.toml:7:10: script "link\.rhai" is a symlink/);
  });

  it('should reject a file over the size limit', async () => {
    const out = await pushBad({ 'big.txt': Buffer.alloc(1024 * 1024 + 1, 0x61) });
    expect(out).toMatch(/remote: big\.txt:1:1: file is 1\.0 MiB, over the per-file limit of 1\.0 MiB/);
  });

  it('should reject a non-UTF-8 file at the position of the bad byte', async () => {
    const out = await pushBad({ 'notes.txt': Buffer.from([0x6f, 0x6b, 0x0a, 0x61, 0xff, 0x62]) });
    expect(out).toMatch(/remote: notes\.txt:2:2: file is not valid UTF-8/);
  });

  it('should reject two routes with the same pattern and overlapping methods', async () => {
    const out = await pushBad({ 'picloud.toml': TOML('[[routes]]\npath = "/hello/:who"\nmethod = ["GET", "POST"]\nscript = "hello.rhai"\n') });
    expect(out).toMatch(/remote: picloud\.toml:6:8: route GET \/hello\/:who conflicts with the route \/hello\/:name declared at line 2/);
  });

  it('should report every problem of a push, not only the first', async () => {
    const out = await pushBad({
      'picloud.toml': TOML('oops = 1\n[[schedules]]\ncron = "* *"\nscript = "/abs.rhai"\n'),
      'bad.txt': Buffer.from([0xc3]),
    });
    expect(out).toMatch(/remote:  !     Push rejected: 4 problems/);
    expect(out).toMatch(/unknown key "routes\.oops"/);
    expect(out).toMatch(/invalid cron "\* \*"/);
    expect(out).toMatch(/must be relative to the repository root/);
    expect(out).toMatch(/bad\.txt:1:1: file is not valid UTF-8/);
  });

  it('should reject the broken fixture as a first push: every problem listed, no app created', async () => {
    const broken = await makeRepo({ fixture: 'broken' });
    const r = await push(broken, remoteUrl(srv.url, 'broken', srv.token), ['main']);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.split('\n').filter((l) => /^remote: \S+:\d+:\d+: /.test(l)).map((l) => l.replace(/^remote: /, '').trimEnd());
    expect(lines).toEqual([
      expect.stringMatching(/^hello\.rhai:3:5: /),
      'picloud.toml:4:1: unknown key "app.region" in [app] (allowed: production_branch)',
      'picloud.toml:12:8: route path "hello/*/x" must start with "/"',
      'picloud.toml:13:10: script "missing.rhai" not found in the pushed tree',
      expect.stringMatching(/^picloud\.toml:16:8: invalid cron "\*\/5 \* \* \*": expected 5 fields/),
    ]);
    const { rows } = await srv.pool.query(`SELECT 1 FROM apps WHERE name = 'broken'`);
    expect(rows).toEqual([]);
  });

  it('should reject a push without picloud.toml', async () => {
    const out = await pushBad({ 'picloud.toml': null });
    expect(out).toMatch(/remote: picloud\.toml:1:1: picloud\.toml is required/);
  });
});
