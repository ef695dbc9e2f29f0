/**
 * Script modules (architecture.md §6) end to end: a real `git push` of an app whose two routes import the same
 * module; both dispatch modes (the server's embedded pool, and a second plane with Redis and two executor
 * processes on the same database) run them; the module is compiled and stored once; a push that changes only the
 * module changes what both routes answer (no stale program); a missing module and an import cycle reject the push
 * at the import's `path:line:col`, as `picloud check` does; `picloud run` (a route or a file) resolves modules the
 * same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.ts';
import { cleanupTempDirs, commitAll, git, headSha, makeRepo, push, remoteUrl, resetHard, writeFiles, type FileSpec } from '../helpers/git.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { waitFor } from '../helpers/releases.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const APP = 'mods';
const FILES: Record<string, FileSpec> = {
  'picloud.toml': '[[routes]]\npath = "/a/:name"\nscript = "a.rhai"\nfunction = "handle"\n\n[[routes]]\npath = "/b"\nscript = "routes/b.rhai"\n',
  'a.rhai': 'import "lib/util" as util;\nfn handle(ctx) { util::greet(ctx.params.name) + util::MARK }\n',
  // import inside a function, a nested module, a private function that stays private
  'routes/b.rhai': 'fn via() { import "lib/util" as u; u::greet("b") }\nlet hidden = ();\ntry { import "lib/util" as u; u::secret() } catch (e) { hidden = e.message }\n#{ b: via(), hidden: hidden }\n',
  'lib/util.rhai': 'import "lib/words" as w;\nexport const MARK = "!";\nfn greet(n) { w::HELLO + " " + n }\nprivate fn secret() { "leaked" }\n',
  'lib/words.rhai': 'export const HELLO = "hi";\n',
};

let srv: TestServer;
let redis: TestPlane;
let repo: string;
let base: string;
let url: string;

async function get(root: string, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${root}/apps/${APP}${path}`);
  return { status: r.status, text: await r.text() };
}

async function liveVersion(): Promise<number | null> {
  const { rows } = await srv.pool.query<{ version: number }>(
    `SELECT r.version FROM branch_pointers p JOIN releases r ON r.id = p.release_id JOIN apps a ON a.id = p.app_id WHERE a.name = $1 AND p.branch = 'main'`,
    [APP],
  );
  return rows[0]?.version ?? null;
}

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  srv = await startTestServer();
  repo = await makeRepo({ files: FILES });
  base = await headSha(repo);
  url = remoteUrl(srv.url, APP, srv.token);
  const r = await push(repo, url, ['main']);
  expect(r.code, r.stderr).toBe(0);
  redis = await startTestPlane('bullmq', { db: srv.db, spawn: 2 });
  let last: unknown;
  await waitFor(async () => { last = await get(redis.base, '/b'); return (last as { status: number }).status === 200; }, 45_000, "the Redis plane serving the release").catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(last)}`); });
}, 90_000);

afterAll(async () => {
  await redis?.close();
  await srv?.close();
  cleanupTempDirs();
});

describe('modules', () => {
  it('two routes import one module; it runs in both modes and is compiled and stored once', async () => {
    for (const root of [srv.url, redis.base]) {
      expect(await get(root, '/a/ann')).toEqual({ status: 200, text: 'hi ann!' });
      const b = await get(root, '/b');
      expect(b.status, b.text).toBe(200);
      expect(JSON.parse(b.text)).toEqual({ b: 'hi b', hidden: expect.stringMatching(/^Function not found: u::secret/) });
    }
    const { rows } = await srv.pool.query<{ config: { modules: Record<string, Record<string, string>> }; scripts: Record<string, string> }>(
      `SELECT r.config, r.scripts FROM releases r JOIN apps a ON a.id = r.app_id WHERE a.name = $1 AND r.version = 1`,
      [APP],
    );
    const { config, scripts } = rows[0]!;
    const util = scripts['lib/util.rhai']!;
    expect(config.modules['a.rhai']).toEqual({ 'lib/util': util, 'lib/words': scripts['lib/words.rhai'] });
    expect(config.modules['routes/b.rhai']!['lib/util']).toBe(util);
    const stored = await srv.pool.query('SELECT 1 FROM scripts WHERE hash = $1', [util]);
    expect(stored.rowCount).toBe(1);
  });

  it('a push that changes only a module changes what its importers answer, in both modes', async () => {
    writeFiles(repo, { 'lib/words.rhai': 'export const HELLO = "hello";\n' });
    await commitAll(repo, 'new words');
    const r = await push(repo, url, ['main']);
    expect(r.code, r.stderr).toBe(0);
    expect(await liveVersion()).toBe(2);
    expect(await get(srv.url, '/a/bo')).toEqual({ status: 200, text: 'hello bo!' });
    await waitFor(async () => (await get(redis.base, '/a/bo')).text === 'hello bo!', 10_000, 'the Redis plane on v2');
    expect(JSON.parse((await get(redis.base, '/b')).text).b).toBe('hello b');
    base = await headSha(repo);
  });

  /** Commit `files` on top of the good state and push: rejected, nothing changes. */
  async function pushBad(files: Record<string, FileSpec>): Promise<string> {
    await resetHard(repo, base);
    writeFiles(repo, files);
    await commitAll(repo, 'bad');
    const r = await push(repo, url, ['main']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('remote:  !     Push rejected');
    expect((await git(repo, ['ls-remote', url, 'refs/heads/main'])).split('\t')[0]).toBe(base);
    expect(await liveVersion()).toBe(2);
    expect((await get(srv.url, '/a/x')).text).toBe('hello x!');
    return r.stderr;
  }

  it('a missing module rejects the push at the import, as picloud check says', async () => {
    const stderr = await pushBad({ 'a.rhai': 'let x = 1;\n   import "lib/nope" as n;\nfn handle(ctx) { n::f() }\n' });
    expect(stderr).toContain('remote: a.rhai:2:4: module "lib/nope" not found: lib/nope.rhai is not in the pushed tree');
    expect(stderr).toMatch(/remote: {4}import "lib\/nope" as n; *\nremote: {4}\^/);
    const check = await cli(['check', repo]);
    expect(check.code).toBe(65);
    expect(check.stdout).toContain('a.rhai:2:4: module "lib/nope" not found: lib/nope.rhai is not in the pushed tree');
  });

  it('an import cycle rejects the push at the import that closes it', async () => {
    const stderr = await pushBad({ 'lib/words.rhai': 'import "lib/util" as u;\nexport const HELLO = "x";\n' });
    expect(stderr).toContain('remote: lib/words.rhai:1:1: import cycle: lib/util.rhai → lib/words.rhai → lib/util.rhai');
    const check = await cli(['check', repo]);
    expect(check.code).toBe(65);
    expect(check.stdout).toContain('lib/words.rhai:1:1: import cycle: lib/util.rhai → lib/words.rhai → lib/util.rhai');
  });

  it('picloud run /path resolves modules like a push', async () => {
    await resetHard(repo, base);
    const r = await cli(['run', '/a/cli', '--dir', repo]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello cli!\n');
    // a single file: modules from the app's root (the folder with picloud.toml)
    const f = await cli(['run', `${repo}/a.rhai`, '--fn', 'handle', '--ctx', '{"params":{"name":"file"}}']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toBe('hello file!\n');
    writeFiles(repo, { 'lib/words.rhai': 'import "lib/gone" as g;\nexport const HELLO = "x";\n' });
    const bad = await cli(['run', `${repo}/a.rhai`, '--fn', 'handle']);
    expect(bad.code).toBe(65);
    expect(bad.stderr).toContain('lib/words.rhai:1:1: module "lib/gone" not found');
  });
});
