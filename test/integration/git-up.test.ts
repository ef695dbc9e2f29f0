/**
 * `picloud up` as a newcomer meets it: no DATABASE_URL (embedded PostgreSQL under a fresh PICLOUD_HOME), the
 * printed admin token and `git remote add` line, a push of the two-route app, then a restart that keeps the app
 * and its releases. Spawns exactly what `npm start` runs (the compiled dist/ with its node flags; `npm test` builds it).
 * Then `kill -9` of the node process alone, which leaves the embedded PostgreSQL running: the next start stops
 * that stale cluster of its own data directory and comes up.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { untraversableAncestors } from '../../src/db/embedded.ts';
import { cleanupTempDirs, gitEnv, makeRepo, push, tempDir, writeFiles, commitAll } from '../helpers/git.ts';
import { ROOT, startArgs } from '../helpers/start.ts';
import { missing } from '../helpers/needs.ts';

const home = tempDir('picloud-up-home-');
let child: ChildProcess | null = null;

/** The pid in the data directory's postmaster.pid, or null. */
function postmasterPid(): number | null {
  const f = path.join(home, 'pgdata', 'postmaster.pid');
  return existsSync(f) ? Number(readFileSync(f, 'utf8').split('\n')[0]) : null;
}

/** Running, not a zombie (an orphan's exit is reaped by whoever adopted it, perhaps later). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/\) Z /.test(stat);
};

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await new Promise((r) => child!.once('exit', r));
  }
  // a failed kill -9 test must not leave its orphaned cluster behind
  const pid = postmasterPid();
  if (pid && alive(pid)) process.kill(pid, 'SIGINT');
  cleanupTempDirs();
});

/** Everything each child wrote, for failure messages (a failed exit code alone says nothing). */
const output = new WeakMap<ChildProcess, { out: string; err: string }>();
const transcript = (proc: ChildProcess) => {
  const o = output.get(proc);
  return `picloud up output:\n--- stdout ---\n${o?.out ?? ''}\n--- stderr ---\n${o?.err ?? ''}`;
};

/**
 * Start `picloud up --port 0` (the kernel picks a free port: no window in which another process can take a port
 * chosen in advance); resolves with its stdout and port once it says it is running.
 */
function startUp(): Promise<{ proc: ChildProcess; out: string; port: number }> {
  const env: NodeJS.ProcessEnv = { ...process.env, PICLOUD_HOME: home, PICLOUD_LOG_LEVEL: 'warn', PICLOUD_EXECUTORS: '1' };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const proc = spawn(process.execPath, [...startArgs(), '--port', '0'], { cwd: ROOT, env });
  child = proc;
  const o = { out: '', err: '' };
  output.set(proc, o);
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => {
      o.out += b.toString('utf8');
      const port = /PiCloud is running on http:\/\/127\.0\.0\.1:(\d+)/.exec(o.out)?.[1];
      if (port && o.out.includes('Apps:')) resolve({ proc, out: o.out, port: Number(port) });
    });
    proc.stderr!.on('data', (b: Buffer) => (o.err += b.toString('utf8')));
    proc.once('exit', (code, signal) => reject(new Error(`picloud up exited ${code ?? signal}:\n${transcript(proc)}`)));
  });
}

/** SIGINT the child; resolves its exit code once it has exited and its output pipes have closed. */
async function stop(proc: ChildProcess): Promise<number | string | null> {
  proc.kill('SIGINT');
  return new Promise((r) => proc.once('close', (code, signal) => r(code ?? signal)));
}

// As root, the embedded PostgreSQL runs as "postgres", which must be able to enter the checkout (stack-notes §4a);
// `picloud up` says so clearly, and this test is skipped with that note rather than failing on the host layout.
const blocked = process.getuid?.() === 0 ? untraversableAncestors(path.join(ROOT, 'node_modules')) : [];
const skip = missing('a checkout the postgres user can enter', blocked.length === 0, `it cannot enter ${blocked.join(', ')}`);

describe.skipIf(skip)('picloud up (embedded PostgreSQL)', () => {
  it('should print the token and remote line, take a push, and keep everything across a restart', async () => {
    const first = await startUp();
    let port = first.port;
    const token = /Admin token[^\n]*\n\s+(pc_[0-9a-f]+)/.exec(first.out)?.[1];
    expect(token, first.out).toBeTruthy();
    expect(first.out).toContain(`git remote add picloud http://127.0.0.1:${port}/git/<app>.git`);
    expect(first.out).toContain(`Dashboard: http://127.0.0.1:${port}/`);
    expect(statSync(path.join(home, 'admin-token')).mode & 0o777).toBe(0o600);

    // follow the printed instructions word for word: the remote and its credential helper, then a plain push
    const setup = first.out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('git remote add picloud') || l.startsWith("git config 'credential."));
    expect(setup, first.out).toHaveLength(2);
    const repo = await makeRepo({ fixture: 'hello' });
    for (const line of setup) {
      const sh = spawnSync('bash', ['-c', line.replace('<app>', 'myapp')], { cwd: repo, env: gitEnv(), encoding: 'utf8' });
      expect(sh.status, sh.stderr).toBe(0);
    }
    expect(readFileSync(path.join(repo, '.git', 'config'), 'utf8')).not.toContain(token!);
    const r = spawnSync('git', ['push', 'picloud', 'main'], { cwd: repo, env: gitEnv(), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/remote: -----> Released v1 \([0-9a-f]{7}\) http:\/\/myapp\.localhost:\d+\//);
    const remote = () => `http://picloud:${token}@127.0.0.1:${port}/git/myapp.git`;
    expect(await (await fetch(`http://127.0.0.1:${port}/apps/myapp/hello/up`)).text()).toBe('hello, up!');
    expect(await stop(first.proc), transcript(first.proc)).toBe(0);

    const second = await startUp();
    port = second.port;
    expect(second.out).not.toContain(token!);
    expect(second.out).toContain('admin-token');
    expect(await (await fetch(`http://127.0.0.1:${port}/apps/myapp/hello/again`)).text()).toBe('hello, again!');
    writeFiles(repo, { 'hello.rhai': 'fn handle(ctx) { "v2 " + ctx.params.name }\n' });
    await commitAll(repo, 'v2');
    const r2 = await push(repo, remote(), ['main']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).toMatch(/Compiled 2 scripts \(1 cached\)/);
    expect(r2.stderr).toMatch(/Released v2 /);
    expect(await (await fetch(`http://127.0.0.1:${port}/apps/myapp/hello/x`)).text()).toBe('v2 x');
    expect(await stop(second.proc), transcript(second.proc)).toBe(0);
  });

  it('should stop the embedded PostgreSQL a kill -9 of the node process left running, and start', async () => {
    const first = await startUp();
    const stale = postmasterPid();
    expect(stale).toBeGreaterThan(0);
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('close', r));
    expect(alive(stale!), 'the cluster outlives its killed owner').toBe(true);

    const second = await startUp();
    expect(alive(stale!)).toBe(false);
    expect(postmasterPid()).not.toBe(stale);
    expect(await (await fetch(`http://127.0.0.1:${second.port}/apps/myapp/hello/back`)).text()).toBe('v2 back');
    // a cluster whose owner still runs is never stopped: a second `picloud up` on the same home is refused
    const other = await startUp().then(
      () => 'started',
      (e: Error) => e.message,
    );
    child = second.proc;
    expect(other).toMatch(/exited 78:[\s\S]*is in use by a running PostgreSQL/);
    expect(await (await fetch(`http://127.0.0.1:${second.port}/apps/myapp/hello/still`)).text()).toBe('v2 still');
    expect(await stop(second.proc), transcript(second.proc)).toBe(0);
    expect(postmasterPid()).toBe(null);
  });
});
