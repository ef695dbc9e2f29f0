/** The client verbs, run in-process (`runClientVerb`) against a real API server on loopback. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/common/config.ts';
import { silentLogger } from '../../src/common/log.ts';
import { runClientVerb, type CliIO } from '../../src/cli/commands/client.ts';
import { apiPlugin } from '../../src/manager/api.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { fixtureInvocation, fixtureRelease, fixtureToken, rollbackForTests } from '../helpers/fixtures.ts';

let db: TestDatabase;
let srv: FastifyInstance;
let server: string;
let admin: string;
let dir: string;
let env: NodeJS.ProcessEnv;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[], extra: Partial<CliIO> = {}): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    cwd: dir,
    ...extra,
  };
  const [verb, ...rest] = argv;
  const code = await runClientVerb(verb!, rest, io);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'picloud-cli-'));
  env = { PICLOUD_CONFIG: path.join(dir, 'cfg', 'credentials.json'), HOME: dir, PATH: process.env.PATH };
  admin = await fixtureToken(db.pool, 'admin');
  const config = loadConfig({ PICLOUD_HOME: path.join(dir, 'home'), PICLOUD_DOMAIN: 'localhost' });
  srv = Fastify({ forceCloseConnections: true });
  await srv.register(apiPlugin, { config, pool: db.pool, log: silentLogger, rollback: (await rollbackForTests()).fn });
  server = await srv.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await srv?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('cli client verbs', () => {
  it('(apps) says how to log in when there are no credentials', async () => {
    const r = await cli(['apps']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not logged in/);
    expect(r.stdout).toBe('');
  });

  it('(login) rejects a bad token and stores a good one with mode 600', async () => {
    const bad = await cli(['login', '--server', server, '--token', 'pc_wrong']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/AUTH_REQUIRED/);
    const ok = await cli(['login', '--server', `${server}/`, '--token', admin]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`Logged in to ${server} as admin (admin).\n`);
    const st = await stat(env.PICLOUD_CONFIG!);
    expect(st.mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(env.PICLOUD_CONFIG!, 'utf8'))).toEqual({ server, token: admin });
  });

  it('(login) reads the token from a pipe', async () => {
    const { Readable } = await import('node:stream');
    const stdin = Readable.from([`${admin}\n`]) as unknown as CliIO['stdin'];
    const r = await cli(['login', '--server', server], { stdin });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Logged in to ${server} as admin (admin).\n`);
  });

  it('(login) needs a token', async () => {
    const r = await cli(['login', '--server', server]);
    expect(r.code).toBe(64);
  });

  it('(apps:create) creates an app and prints the git remote line', async () => {
    const r = await cli(['apps:create', 'web']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      "Created web. In its git repository:\n  git remote add picloud http://127.0.0.1:8080/git/web.git\n  git config 'credential.http://127.0.0.1:8080.helper' '!picloud git-credential'\n",
    );
    expect(r.stdout).not.toContain(admin);
    const viaFlag = await cli(['apps:create', '-a', 'web2', '--json']);
    expect(viaFlag.code, viaFlag.stderr).toBe(0);
    expect(JSON.parse(viaFlag.stdout).name).toBe('web2');
    expect((await cli(['apps:create', 'web3', '-a', 'web4'])).stderr).toMatch(/two different apps/);
    const dup = await cli(['apps:create', 'web']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/APP_EXISTS/);
    const bad = await cli(['apps:create', 'Bad_Name']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/APP_NAME_INVALID/);
  });

  it('(apps) prints an aligned table and --json', async () => {
    await fixtureRelease(db.pool, { app: 'api', routes: [{ path: '/x' }], env: { MODE: 'prod' } });
    await fixtureRelease(db.pool, { app: 'api', routes: [{ path: '/x' }, { path: '/y', methods: ['POST', 'PUT'], function: 'put' }], schedules: [{ cron: '0 * * * *', script: 'tick.rhai', function: 'tick' }] });
    const r = await cli(['apps']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+RELEASE\s+BRANCHES\s+DEPLOYED\s+URL$/);
    expect(lines[1]).toMatch(/^api\s+v2\s+1\s+\S+ ago\s+http:\/\/api\.localhost:8080\/$/);
    expect(lines[2]).toMatch(/^web\s+-\s+0\s+-\s+http:\/\/web\.localhost:8080\/$/);
    expect(lines[1]!.indexOf('v2')).toBe(lines[0]!.indexOf('RELEASE'));
    expect(r.stdout).not.toContain(String.fromCharCode(27)); // no ANSI colour when not a TTY
    const j = await cli(['apps', '--json']);
    expect(JSON.parse(j.stdout).map((a: { name: string }) => a.name)).toEqual(['api', 'web', 'web2']);
  });

  it('(releases, rollback) rolls back and shows the new live release', async () => {
    const r = await cli(['rollback', '-a', 'api', 'v1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Rolled back api \(main\) to v1: released v3 \([0-9a-f]{7}\)\.\nRestored 1 script, 1 route, 0 schedules, env MODE\./);
    const rel = await cli(['releases', '-a', 'api']);
    const lines = rel.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('=== api releases (main)');
    expect(lines[2]).toMatch(/^v3\s+live\s+[0-9a-f]{7}\s+Rollback to v1\s+admin\s+/);
    expect(lines[3]).toMatch(/^v2\s+[0-9a-f]{7}\s+Deploy /);
    const j = await cli(['releases', '-a', 'api', '--json']);
    expect(JSON.parse(j.stdout).map((x: { version: number }) => x.version)).toEqual([3, 2, 1]);
    const missing = await cli(['rollback', '-a', 'api', 'v9']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/RELEASE_NOT_FOUND/);
    expect((await cli(['rollback', '-a', 'api', 'latest'])).code).toBe(64);
    expect((await cli(['rollback', '-a', 'api'])).code).toBe(64);
  });

  it('(config, config:set, config:unset) masks values unless --reveal and never echoes them', async () => {
    const s = await cli(['config:set', '-a', 'api', 'TOKEN=abc=def', 'MODE=staging']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toBe('Set TOKEN, MODE on api (main); new invocations see the change.\n');
    expect(s.stdout + s.stderr).not.toContain('abc=def');
    const masked = await cli(['config', '-a', 'api']);
    expect(masked.stdout).not.toContain('abc=def');
    expect(masked.stdout).toMatch(/MODE\s+\*{8}\s+config:set/);
    expect(masked.stderr).toMatch(/--reveal/);
    const shown = await cli(['config', '-a', 'api', '--reveal', '--json']);
    expect(JSON.parse(shown.stdout).effective).toEqual({ MODE: 'staging', TOKEN: 'abc=def' });
    expect((await cli(['config:set', '-a', 'api', 'NOEQUALS'])).code).toBe(64);
    expect((await cli(['config:set', '-a', 'api', '1BAD=x'])).code).toBe(64);
    const u = await cli(['config:unset', '-a', 'api', 'MODE', 'GONE']);
    expect(u.code).toBe(0);
    expect(u.stdout).toBe('Unset MODE on api (main).\n');
    expect(u.stderr).toMatch(/GONE/);
    const after = await cli(['config', '-a', 'api', '--reveal']);
    expect(after.stdout).toMatch(/MODE\s+prod\s+picloud\.toml/);
  });

  it('(config --reveal) refuses a read token, which sees names only', async () => {
    const reader = await fixtureToken(db.pool, 'cli-reader', 'read');
    const s = await cli(['config:set', '-a', 'api', 'SECRET_X=do-not-show']);
    expect(s.code, s.stderr).toBe(0);
    const renv = { env: { ...env, PICLOUD_TOKEN: reader } };
    const names = await cli(['config', '-a', 'api', '--json'], renv);
    expect(names.code, names.stderr).toBe(0);
    expect(JSON.parse(names.stdout).effective.SECRET_X).toBe('********');
    const rv = await cli(['config', '-a', 'api', '--reveal'], renv);
    expect(rv.code).toBe(1);
    expect(rv.stderr).toMatch(/AUTH_FORBIDDEN/);
    expect(rv.stdout + rv.stderr).not.toContain('do-not-show');
    expect((await cli(['config', '-a', 'api', '--reveal', '--json'])).stdout).toContain('do-not-show');
  });

  it('(routes, previews) show the live release and preview URLs', async () => {
    await fixtureRelease(db.pool, { app: 'api', branch: 'feat/New_UI.2', routes: [{ path: '/p' }] });
    const r = await cli(['routes', '-a', 'api']);
    expect(r.stdout).toMatch(/=== api routes \(main, v3\)\nMETHOD\s+PATH\s+SCRIPT\s+FUNCTION\nGET\s+\/x\s+main\.rhai\s+-\n/);
    const p = await cli(['previews', '-a', 'api']);
    expect(p.stdout).toMatch(/feat\/New_UI\.2\s+v1\s+[0-9a-f]{7}\s+\S+ ago\s+http:\/\/feat-new-ui-2--api\.localhost:8080\//);
    const pr = await cli(['routes', '-a', 'api', '--branch', 'feat/New_UI.2', '--json']);
    expect(JSON.parse(pr.stdout).routes).toMatchObject([{ path: '/p' }]);
  });

  it('(logs) prints recent invocations oldest first and --tail streams new ones until aborted', async () => {
    const { rows } = await db.pool.query<{ id: number }>(`SELECT id FROM apps WHERE name = 'api'`);
    const appId = rows[0]!.id;
    await fixtureInvocation(db.pool, { appId, status: 200, path: '/x', logs: [{ level: 'print', msg: 'first' }] });
    await fixtureInvocation(db.pool, { appId, status: 500, path: '/y', error: 'Runtime error: boom (line 2, position 3)' });
    const r = await cli(['logs', '-a', 'api']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/main GET \/x 200 1\.5ms\n {2}print: first\n.*main GET \/y 500 1\.5ms\n {2}error: Runtime error: boom/);
    const errOnly = await cli(['logs', '-a', 'api', '--status', '5xx', '--json']);
    expect(errOnly.stdout.trim().split('\n').map((l) => JSON.parse(l).status)).toEqual([500]);

    const ac = new AbortController();
    let stdout = '';
    const io: CliIO = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => 0 }, env, signal: ac.signal };
    const running = runClientVerb('logs', ['-a', 'api', '--tail', '-n', '1'], io);
    await expect.poll(() => stdout.includes('/y')).toBe(true);
    // The stream is subscribed once the server has LISTENed; retry the insert until the line shows up.
    await expect
      .poll(async () => {
        if (!stdout.includes('tailed!')) await fixtureInvocation(db.pool, { appId, status: 201, path: '/t', logs: [{ level: 'print', msg: 'tailed!' }] });
        return stdout.includes('tailed!');
      }, { timeout: 10_000, interval: 300 })
      .toBe(true);
    ac.abort();
    expect(await running).toBe(0);
    expect(stdout).toMatch(/GET \/t 201 1\.5ms\n {2}print: tailed!/);
  });

  it('infers the app from the picloud git remote', async () => {
    const repo = path.join(dir, 'repo');
    spawnSync('git', ['init', '-q', repo]);
    spawnSync('git', ['-C', repo, 'remote', 'add', 'picloud', `${server}/git/api.git`]);
    const r = await cli(['releases', '-n', '1'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^=== api releases/);
    const none = await cli(['releases']);
    expect(none.code).toBe(64);
  });

  it('(kv, kv:get, kv:set, kv:delete) read and write the KV store per branch', async () => {
    const set = await cli(['kv:set', '-a', 'api', 'user/1', '{"name":"ann","n":1}']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('Set user/1 in api.\n');
    expect((await cli(['kv:set', '-a', 'api', 'hits', '3'])).code).toBe(0);
    expect((await cli(['kv:set', '-a', 'api', 'word', 'bare'])).stderr).toMatch(/must be JSON/);
    const keys = await cli(['kv', '-a', 'api']);
    expect(keys.stdout).toBe('hits\nuser/1\n');
    expect(JSON.parse((await cli(['kv', '-a', 'api', '--prefix', 'user/', '--json'])).stdout)).toEqual(['user/1']);
    const got = await cli(['kv:get', '-a', 'api', 'user/1']);
    expect(JSON.parse(got.stdout)).toEqual({ name: 'ann', n: 1 });
    expect((await cli(['kv', '-a', 'api', '--branch', 'feat/x'])).stdout).toMatch(/^No keys/);
    const missing = await cli(['kv:get', '-a', 'api', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/KV_KEY_NOT_FOUND/);
    const del = await cli(['kv:delete', '-a', 'api', 'hits']);
    expect(del.stdout).toBe('Deleted hits from api.\n');
    expect((await cli(['kv:delete', '-a', 'api', 'hits'])).code).toBe(1);
    const rows = await db.pool.query<{ key: string; value: unknown }>('SELECT key, value FROM kv ORDER BY key');
    expect(rows.rows).toEqual([{ key: 'user/1', value: { name: 'ann', n: 1 } }]);
  });

  it('(info, open, schedules) describe an app', async () => {
    const i = await cli(['info', '-a', 'api']);
    expect(i.code, i.stderr).toBe(0);
    expect(i.stdout).toMatch(/^=== api\nGit URL: +http:\/\/127\.0\.0\.1:8080\/git\/api\.git\nProduction: +main v3 /);
    expect(i.stdout).toMatch(/\nRoutes: +1\n/);
    const o = await cli(['open', '-a', 'api']);
    expect(o.stdout).toBe('http://api.localhost:8080/\n');
    expect((await cli(['open', '-a', 'api', '--path'])).stdout).toBe('http://127.0.0.1:8080/apps/api/\n');
    expect((await cli(['open', '-a', 'api', '--branch', 'nope'])).stderr).toMatch(/no live release on nope/);
    const s = await cli(['schedules', '-a', 'api']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/has no schedules in v3/);
  });

  it('(releases) reads -n2 like -n 2', async () => {
    const a = await cli(['releases', '-a', 'api', '-n2', '--json']);
    const b = await cli(['releases', '-a', 'api', '-n', '2', '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toHaveLength(2);
    expect(a.stdout).toBe(b.stdout);
  });

  it('(apps:destroy) requires --confirm NAME', async () => {
    const no = await cli(['apps:destroy', 'web']);
    expect(no.code).toBe(64);
    expect(no.stderr).toMatch(/--confirm web/);
    const wrong = await cli(['apps:destroy', 'web', '--confirm', 'api']);
    expect(wrong.code).toBe(64);
    const ok = await cli(['apps:destroy', 'web', '--confirm', 'web']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('Destroyed web.\n');
    expect((await cli(['apps:destroy', '-a', 'web2', '--confirm', 'web2'])).stdout).toBe('Destroyed web2.\n');
    const gone = await cli(['apps:destroy', 'web', '--confirm', 'web']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/APP_NOT_FOUND/);
  });

  it('(tokens:create, tokens) creates a read-only token that cannot write', async () => {
    const c = await cli(['tokens:create', 'ci-bot', '--role', 'read']);
    expect(c.code, c.stderr).toBe(0);
    const token = c.stdout.trim();
    expect(token).toMatch(/^pc_[0-9a-f]{40}$/);
    expect(c.stderr).toMatch(/shown only now/);
    const list = await cli(['tokens']);
    expect(list.stdout).toMatch(/ci-bot\s+read/);
    expect(list.stdout).not.toContain(token);
    const ro = await cli(['apps:create', 'nope'], { env: { ...env, PICLOUD_TOKEN: token } });
    expect(ro.code).toBe(1);
    expect(ro.stderr).toMatch(/AUTH_FORBIDDEN/);
    expect((await cli(['tokens:create', 'x', '--role', 'root'])).stderr).toMatch(/role must be one of/);
    const id = /^(\d+)\s+ci-bot/m.exec(list.stdout)![1]!;
    const rv = await cli(['tokens:revoke', id]);
    expect(rv.code, rv.stderr).toBe(0);
    expect(rv.stdout).toBe(`Revoked token ${id} (ci-bot).\n`);
    expect((await cli(['tokens:revoke', id])).stderr).toMatch(/TOKEN_NOT_FOUND/);
    const adminId = /^(\d+)\s+admin\s+admin/m.exec((await cli(['tokens'])).stdout)![1]!;
    const last = await cli(['tokens:revoke', adminId]);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/last admin token/);
  });

  it('rejects unknown options with a usage error and prints help with -h', async () => {
    const r = await cli(['apps', '--frobnicate']);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/unknown option --frobnicate\nusage: picloud apps/);
    const h = await cli(['config:set', '-h']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^picloud config:set -a APP KEY=VALUE/);
  });

  it('reports an unreachable server as a failure', async () => {
    const r = await cli(['apps'], { env: { ...env, PICLOUD_URL: 'http://127.0.0.1:1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});
