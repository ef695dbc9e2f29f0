import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/log.ts';
import { cleanGitEnv, git } from './repos.ts';
import { spawnGit, spawnerPid, startSpawner, stopSpawner, type GitProcess } from './spawn.ts';

const parentOf = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
const closed = (p: GitProcess) => new Promise<[number | null, string | null]>((resolve) => p.on('close', (code, signal) => resolve([code, signal])));
const minorFaults = () => process.resourceUsage().minorPageFault;

/** `git version` through spawnGit: how it closed, and what it printed */
async function gitVersion(): Promise<{ closedWith: [number | null, string | null]; out: string }> {
  const p = spawnGit(['version'], { env: cleanGitEnv() });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stdin.end();
  return { closedWith: await closed(p), out };
}

/** Write one byte per page of `buf` (the pages this process keeps writing, as V8's young generation does). */
const touch = (buf: Buffer) => {
  for (let i = 0; i < buf.length; i += 4096) buf[i] = (buf[i]! + 1) & 0xff;
};

describe('git spawner', () => {
  beforeAll(async () => {
    expect(await startSpawner(createLogger('silent'))).toBe(true);
  });
  afterAll(() => stopSpawner());

  it('should run git as a child of the spawner, not of this process', async () => {
    const p = spawnGit(['cat-file', '--batch'], { env: cleanGitEnv() });
    await new Promise((r) => setTimeout(r, 100));
    expect(p.pid).toBeGreaterThan(0);
    expect(parentOf(p.pid!)).toBe(spawnerPid());
    expect(parentOf(p.pid!)).not.toBe(process.pid);
    p.stdin.end();
    expect(await closed(p)).toEqual([0, null]);
  });

  it('should carry stdin and stdout whole (5 MB each way through hash-object and cat-file)', async () => {
    const data = Buffer.alloc(5_000_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    const expected = createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    const repo = mkdtempSync(path.join(tmpdir(), 'picloud-spawn-test-'));
    try {
      await git(['init', '--quiet', '--bare', repo]);
      const env = cleanGitEnv({ GIT_DIR: repo });
      const oid = (await git(['hash-object', '-w', '--stdin'], { env, input: data })).toString().trim();
      expect(oid).toBe(expected);
      const back = await git(['cat-file', 'blob', oid], { env });
      expect(back.equals(data)).toBe(true);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it('should report a non-zero exit with stderr, a kill with its signal, and a git that cannot start as an error', async () => {
    const bad = spawnGit(['no-such-command'], { env: cleanGitEnv() });
    let err = '';
    bad.stderr.on('data', (b: Buffer) => (err += b.toString()));
    bad.stdin.end();
    expect((await closed(bad))[0]).toBe(1);
    expect(err).toContain("'no-such-command' is not a git command");

    const long = spawnGit(['cat-file', '--batch'], { env: cleanGitEnv() });
    setTimeout(() => long.kill(), 50);
    expect(await closed(long)).toEqual([null, 'SIGTERM']);

    const missing = spawnGit(['version'], { env: { PATH: '/nonexistent' } });
    const e = await new Promise<NodeJS.ErrnoException>((resolve) => missing.on('error', resolve));
    expect(e.code).toBe('ENOENT');
  });

  it('should run git in the given cwd with the given env and arguments byte for byte (UTF-8 included), and report a missing cwd', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'picloud-spawn-cwd-é-'));
    try {
      await git(['init', '--quiet', dir]);
      const name = 'Zoë 名前 \u{1F600}';
      const p = spawnGit(['-c', `user.email=${name}@example.test`, 'var', 'GIT_AUTHOR_IDENT'], { cwd: dir, env: cleanGitEnv({ GIT_AUTHOR_NAME: name }) });
      let out = '';
      p.stdout.setEncoding('utf8');
      p.stdout.on('data', (s: string) => (out += s));
      p.stdin.end();
      expect(await closed(p)).toEqual([0, null]);
      expect(out).toMatch(new RegExp(`^${name} <${name}@example\\.test> \\d+ [+-]\\d{4}\\n$`, 'u'));
      expect(parentOf(spawnerPid()!)).toBe(process.pid);

      const top = spawnGit(['rev-parse', '--show-toplevel'], { cwd: dir, env: cleanGitEnv() });
      let where = '';
      top.stdout.on('data', (b: Buffer) => (where += b.toString()));
      top.stdin.end();
      expect(await closed(top)).toEqual([0, null]);
      expect(where.trim()).toBe(dir);

      const nowhere = spawnGit(['version'], { cwd: path.join(dir, 'no-such-dir'), env: cleanGitEnv() });
      const e = await new Promise<NodeJS.ErrnoException>((resolve) => nowhere.on('error', resolve));
      expect(e.code).toBe('ENOENT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should run git from this process when the spawner cannot be reached', async () => {
    const real = process.env.PICLOUD_SPAWNER_SOCKET;
    process.env.PICLOUD_SPAWNER_SOCKET = '/nonexistent/spawner.sock';
    try {
      const { closedWith, out } = await gitVersion();
      expect(closedWith).toEqual([0, null]);
      expect(out).toMatch(/^git version /);
    } finally {
      process.env.PICLOUD_SPAWNER_SOCKET = real;
    }
  });

  it('should start a spawner that died again, and run git from this process meanwhile', async () => {
    const dead = spawnerPid()!;
    process.kill(dead, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
    const { closedWith, out } = await gitVersion();
    expect(closedWith).toEqual([0, null]);
    expect(out).toMatch(/^git version /);
    const until = Date.now() + 15_000;
    while ((spawnerPid() === undefined || spawnerPid() === dead) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(spawnerPid()).toBeGreaterThan(0);
    expect(spawnerPid()).not.toBe(dead);
    const p = spawnGit(['cat-file', '--batch'], { env: cleanGitEnv() });
    await new Promise((r) => setTimeout(r, 100));
    expect(parentOf(p.pid!)).toBe(spawnerPid());
    p.stdin.end();
    expect(await closed(p)).toEqual([0, null]);
  });

  it("should leave this process's pages alone: no copy-on-write faults after a git run, as a fork makes", async () => {
    const buf = Buffer.alloc(32 * 1024 * 1024, 1);
    touch(buf);
    const pages = buf.length / 4096;

    let f0 = minorFaults();
    await git(['version']);
    touch(buf);
    const viaSpawner = minorFaults() - f0;

    // the control: a spawn from this process marks every page copy-on-write, and re-touching them faults
    f0 = minorFaults();
    await new Promise((r) => spawn('git', ['version'], { stdio: 'ignore' }).on('close', r));
    touch(buf);
    const forked = minorFaults() - f0;

    expect(forked).toBeGreaterThan(pages / 2);
    // what remains is this run's own allocations (sockets, buffers): ~340 measured
    expect(viaSpawner).toBeLessThan(pages / 8);
  });
});
