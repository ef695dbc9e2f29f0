/**
 * `picloud check [DIR]`: the same validation as a push, on a working tree (no server, no database).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.ts';
import { cleanupTempDirs, git, makeRepo, tempDir, writeFiles } from '../helpers/git.ts';

afterAll(() => cleanupTempDirs());

async function check(dir: string, extra: string[] = []) {
  let stdout = '';
  let stderr = '';
  const code = await run(['check', dir, ...extra], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

describe('picloud check', () => {
  it('(check) accepts the fixture app and prints a summary', async () => {
    const dir = await makeRepo({ fixture: 'hello' });
    const r = await check(dir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/-----> Validating picloud\.toml\n-----> Compiled 2 scripts \(0 cached\) in \d+ ms/);
    expect(r.stdout).toBe('ok: 2 routes, 0 schedules, 2 scripts\n');
  });

  it('(check) reports every problem with path:line:col and a caret, exit 65', async () => {
    const dir = await makeRepo({ fixture: 'hello' });
    writeFiles(dir, {
      'hello.rhai': 'fn handle(ctx) {\n    let = 1;\n}\n',
      'picloud.toml': '[[routes]]\npath = "/a"\nscript = "../x.rhai"\nextra = true\n',
      'link.rhai': { symlink: '../../etc/passwd' },
    });
    await git(dir, ['add', '-A']); // check sees what git would commit
    const r = await check(dir);
    expect(r.code).toBe(65);
    expect(r.stdout).toMatch(/^hello\.rhai:2:9: .+\n {4}let = 1;\n {8}\^$/m);
    expect(r.stdout).toMatch(/^link\.rhai:1:1: symlink points outside the repository/m);
    expect(r.stdout).toMatch(/^picloud\.toml:3:10: script path "\.\.\/x\.rhai" escapes the repository/m);
    expect(r.stdout).toMatch(/^picloud\.toml:4:1: unknown key "routes\.extra"/m);
    expect(r.stderr).toMatch(/4 problems/);
  });

  it('(check) prints the release manifest with --json', async () => {
    const dir = await makeRepo({ fixture: 'hello' });
    const r = await check(dir, ['--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; manifest: { routes: { path: string; methods: string[] }[] } };
    expect(out.ok).toBe(true);
    expect(out.manifest.routes.map((x) => `${x.methods.join(',')} ${x.path}`)).toEqual(['GET /hello/:name', 'POST,PUT /echo']);
  });

  it('(check) sees the files git tracks, never ignored or untracked ones', async () => {
    const dir = await makeRepo({ fixture: 'hello' });
    writeFiles(dir, { '.gitignore': 'scratch/\n', 'scratch/broken.rhai': 'let = ;\n', 'draft.rhai': 'fn (\n' });
    const r = await check(dir);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await git(dir, ['add', 'draft.rhai']);
    const staged = await check(dir);
    expect(staged.code).toBe(65);
    expect(staged.stdout).toMatch(/^draft\.rhai:1:/m);
    expect(staged.stdout).not.toMatch(/scratch/);
  });

  it('(check) says at once when there is no picloud.toml', async () => {
    const plain = tempDir();
    writeFiles(plain, { 'a.rhai': '1\n' });
    const r = await check(plain);
    expect(r.code).toBe(65);
    expect(r.stderr).toBe(`picloud check: no picloud.toml in ${plain}; a push needs one at the repository root (see docs/picloud-toml.md)\n`);
    const repo = await makeRepo({ files: { 'a.rhai': '1\n' } });
    writeFiles(repo, { 'picloud.toml': '[[routes]]\npath = "/"\nscript = "a.rhai"\n' }); // not added to git
    expect((await check(repo)).stderr).toMatch(/^picloud check: no picloud\.toml in the files git tracks in /);
  });

  it('(check) is a usage error on a missing directory', async () => {
    expect((await check('/nonexistent/dir')).code).toBe(64);
  });
});

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

describe('picloud run', () => {
  it('(run) runs a function with a ctx and env, printing the body', async () => {
    const dir = await makeRepo({ fixture: 'hello' });
    const r = await cli(['run', `${dir}/hello.rhai`, '--fn', 'handle', '--ctx', '{"params":{"name":"cli"}}', '--env', 'GREETING=hey']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hey, cli!\n');
    expect(r.stderr).toMatch(/^200\ncontent-type: text\/plain/);
  });

  it('(run) runs a whole script with ctx in scope and maps a map to JSON', async () => {
    const dir = await makeRepo({ fixture: 'hello' });
    const r = await cli(['run', `${dir}/echo.rhai`, '--ctx', '{"method":"post","body":"abc"}']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ method: 'POST', body: 'abc' });
  });

  it('(run) reports compile errors with exit 65 and usage errors with 64', async () => {
    const dir = await makeRepo({ files: { 'bad.rhai': 'let = 1;\n' } });
    const r = await cli(['run', `${dir}/bad.rhai`]);
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/bad\.rhai:1:5: /);
    expect((await cli(['run'])).code).toBe(64);
    expect((await cli(['run', 'x.rhai', '--ctx', '[1]'])).code).toBe(64);
  });

  it('(run) says a missing file is missing, exit 66', async () => {
    const r = await cli(['run', '/nonexistent/x.rhai']);
    expect(r.code).toBe(66);
    expect(r.stderr).toBe('picloud run: no such file /nonexistent/x.rhai\n');
  });

  it('(run) lists the functions of a file of only functions instead of answering 204', async () => {
    const dir = await makeRepo({ fixture: 'hello' });
    writeFiles(dir, { 'lib.rhai': 'fn add(a, b) { a + b }\nfn handle(ctx) { 1 }\n' });
    const r = await cli(['run', `${dir}/lib.rhai`]);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe(`picloud run: ${dir}/lib.rhai only defines functions; run one with --fn NAME:\n  add(a, b)\n  handle(ctx)\n`);
    expect((await cli(['run', `${dir}/lib.rhai`, '--fn', 'nope'])).stderr).toMatch(/has no function nope \(it has add, handle\)/);
  });

  it('(run /path) runs the matching route of picloud.toml with its env and .env', async () => {
    const dir = await makeRepo({ fixture: 'hello' });
    const r = await cli(['run', '/hello/bob', '--dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello, bob!\n');
    writeFiles(dir, { '.env': 'GREETING="hi there"\n' });
    expect((await cli(['run', '/hello/ann', '--dir', dir])).stdout).toBe('hi there, ann!\n');
    const post = await cli(['run', '/echo?x=1', '-X', 'POST', '--body', 'data', '--dir', dir]);
    expect(JSON.parse(post.stdout)).toEqual({ method: 'POST', body: 'data' });
    const wrong = await cli(['run', '/echo', '--dir', dir]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^picloud run: \/echo takes POST, PUT, not GET\. Routes:\n {2}GET \/hello\/:name -> hello\.rhai handle\(\)\n {2}POST,PUT \/echo -> echo\.rhai\n$/);
    expect((await cli(['run', '/nope', '--dir', dir])).stderr).toMatch(/^picloud run: no route matches \/nope\./);
    expect((await cli(['run', '/x', '--dir', tempDir()])).code).toBe(66);
    writeFiles(dir, { 'hello.rhai': 'fn handle(ctx) {\n  let = 2;\n}\n' });
    const broken = await cli(['run', '/hello/bob', '--dir', dir]);
    expect(broken.code).toBe(65);
    expect(broken.stderr).toMatch(/^hello\.rhai:2:7: /m);
  });
});
