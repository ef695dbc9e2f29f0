/**
 * The control plane end to end on the real server (`buildServer` + invocation plane): git push an app, then
 * drive it with the CLI verbs — config:set changes what new invocations see, rollback restores old code,
 * logs shows the recorded invocations, apps:destroy takes the app offline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClientVerb, type CliIO } from '../../src/cli/commands/client.ts';
import { cleanupTempDirs, commitAll, makeRepo, push, remoteUrl, writeFiles } from '../helpers/git.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let env: NodeJS.ProcessEnv;

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env };
  const code = await runClientVerb(argv[0]!, argv.slice(1), io);
  return { code, stdout, stderr };
}

const get = async (p: string) => {
  const r = await fetch(`${srv.url}${p}`);
  return { status: r.status, body: await r.text() };
};

beforeAll(async () => {
  srv = await startTestServer();
  env = { PICLOUD_URL: srv.url, PICLOUD_TOKEN: srv.token, PATH: process.env.PATH, HOME: '/nonexistent' };
});
afterAll(async () => {
  await srv?.close();
  cleanupTempDirs();
});

describe('control plane end to end', () => {
  it('should deploy, reconfigure, roll back, show logs and destroy through the CLI', async () => {
    const repo = await makeRepo({ fixture: 'hello' });
    const url = remoteUrl(srv.url, 'hello', srv.token, 'alice');
    const p1 = await push(repo, url, ['main']);
    expect(p1.code, p1.stderr).toBe(0);
    expect(await get('/apps/hello/hello/bob')).toEqual({ status: 200, body: 'hello, bob!' });

    const apps = await cli('apps', '--json');
    expect(JSON.parse(apps.stdout)).toMatchObject([{ name: 'hello', productionVersion: 1 }]);

    // config:set → new invocations see the override (the route table reloads on NOTIFY)
    expect((await cli('config:set', '-a', 'hello', 'GREETING=hey')).code).toBe(0);
    await expect.poll(async () => (await get('/apps/hello/hello/bob')).body, { timeout: 5000 }).toBe('hey, bob!');

    // v2 changes the code; rollback to v1 restores it (config override kept)
    writeFiles(repo, { 'hello.rhai': 'fn handle(ctx) {\n    "v2 " + ctx.params.name\n}\n' });
    await commitAll(repo, 'v2');
    const p2 = await push(repo, url, ['main']);
    expect(p2.code, p2.stderr).toBe(0);
    expect(await get('/apps/hello/hello/bob')).toEqual({ status: 200, body: 'v2 bob' });
    const rb = await cli('rollback', '-a', 'hello', 'v1');
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stdout).toMatch(/released v3/);
    await expect.poll(async () => (await get('/apps/hello/hello/bob')).body, { timeout: 5000 }).toBe('hey, bob!');
    const rel = await cli('releases', '-a', 'hello', '--json');
    expect(JSON.parse(rel.stdout).map((r: { version: number; live: boolean; pusher: string }) => [r.version, r.live])).toEqual([
      [3, true],
      [2, false],
      [1, false],
    ]);

    // the invocations were recorded by the invocation plane and are visible through `logs`
    // (the log is written in batches, so wait for the newest release's line rather than for a count)
    await expect
      .poll(async () => (await cli('logs', '-a', 'hello')).stdout, { timeout: 5000 })
      .toMatch(/main v3 GET \/hello\/bob 200/);
    const logs = await cli('logs', '-a', 'hello', '--json');
    const lines = logs.stdout.trim().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.map((l) => (JSON.parse(l) as { version: number }).version)).toEqual(expect.arrayContaining([1, 2, 3]));

    const routes = await cli('routes', '-a', 'hello');
    expect(routes.stdout).toMatch(/POST,PUT\s+\/echo\s+echo\.rhai/);

    // destroy: the app answers 404 afterwards
    expect((await cli('apps:destroy', 'hello', '--confirm', 'hello')).code).toBe(0);
    await expect.poll(async () => (await get('/apps/hello/hello/bob')).status, { timeout: 5000 }).toBe(404);
  });
});
