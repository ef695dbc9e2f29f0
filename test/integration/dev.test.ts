/**
 * `picloud dev` as a developer uses it: a copy of a sample app (not a git repository: the directory names the app),
 * served by the compiled CLI with its own embedded PostgreSQL under DIR/.picloud/dev. Both URL forms, a save that
 * answers within 1 s, a broken save that prints path:line:col while the old code keeps answering, .env in ctx.env,
 * each invocation printed, and KV that survives a restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { untraversableAncestors } from '../../src/db/embedded.ts';
import { cleanupTempDirs, FIXTURES, tempDir } from '../helpers/git.ts';
import { missing } from '../helpers/needs.ts';
import { ROOT } from '../helpers/start.ts';

const blocked = process.getuid?.() === 0 ? untraversableAncestors(path.join(ROOT, 'node_modules')) : [];
const skip = missing('a checkout the postgres user can enter', blocked.length === 0, `it cannot enter ${blocked.join(', ')}`);

let child: ChildProcess | null = null;
afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await new Promise((r) => child!.once('exit', r));
  }
  cleanupTempDirs();
});

interface Dev {
  proc: ChildProcess;
  port: number;
  out: () => string;
  /** resolves once the output (after `from`) matches */
  until(re: RegExp, from?: number, ms?: number): Promise<string>;
}

function startDev(dir: string): Promise<Dev> {
  const env: NodeJS.ProcessEnv = { ...process.env, PICLOUD_EXECUTORS: '1' };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const proc = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'main.js'), 'dev', dir, '--port', '0'], { env, cwd: dir });
  child = proc;
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (b: Buffer) => {
    out += b.toString('utf8');
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const until = (re: RegExp, from = 0, ms = 60_000) =>
    new Promise<string>((resolve, reject) => {
      const end = Date.now() + ms;
      const check = () => {
        const m = re.exec(out.slice(from));
        if (m) return resolve(m[0]);
        if (Date.now() > end || proc.exitCode !== null) return reject(new Error(`picloud dev output never matched ${re}:\n${out}`));
        waiters.push(check);
        setTimeout(check, 200);
      };
      check();
    });
  return until(/Watching for changes/).then(() => {
    const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\/apps\//.exec(out)![1]);
    return { proc, port, out: () => out, until };
  });
}

async function stop(d: Dev): Promise<number | string | null> {
  d.proc.kill('SIGINT');
  return new Promise((r) => d.proc.once('close', (code, signal) => r(code ?? signal)));
}

describe.skipIf(skip)('picloud dev', () => {
  it('serves the working tree, reloads on save, keeps the last good version, and keeps KV across restarts', async () => {
    const parent = tempDir('picloud-dev-');
    chmodSync(parent, 0o755); // the embedded PostgreSQL runs as the postgres user, under DIR/.picloud/dev
    const dir = path.join(parent, 'My_Sample App');
    cpSync(path.join(FIXTURES, 'hello'), dir, { recursive: true });
    writeFileSync(path.join(dir, '.env'), 'GREETING="howdy"\n');
    writeFileSync(path.join(dir, 'count.rhai'), 'let n = (kv::get("n") ?? 0) + 1;\nkv::set("n", n);\nprint(`count is ${n}`);\nn\n');
    writeFileSync(path.join(dir, 'picloud.toml'), `${readFileSync(path.join(dir, 'picloud.toml'), 'utf8')}\n[[routes]]\npath = "/count"\nscript = "count.rhai"\n`);

    let dev = await startDev(dir);
    const app = 'my-sample-app';
    expect(dev.out()).toContain(`http://127.0.0.1:${dev.port}/apps/${app}/hello/:name   http://${app}.localhost:${dev.port}/hello/:name`);
    // *.localhost resolves to loopback in curl and browsers, not in Node's resolver: send the Host header ourselves
    const get = (url: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const u = new URL(url);
        const req = request({ host: '127.0.0.1', port: u.port, path: u.pathname + u.search, headers: { host: u.host } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
    // both URL forms, with .env in ctx.env
    expect(await get(`http://127.0.0.1:${dev.port}/apps/${app}/hello/bob`)).toEqual({ status: 200, body: 'howdy, bob!' });
    expect(await get(`http://${app}.localhost:${dev.port}/hello/ann`)).toEqual({ status: 200, body: 'howdy, ann!' });
    // each invocation is printed with its print lines
    expect((await get(`http://127.0.0.1:${dev.port}/apps/${app}/count`)).body).toBe('1');
    await dev.until(/GET \/count 200 [\d.]+ms\n {4}print: count is 1/);

    // a save answers within 1 s
    const mark = dev.out().length;
    writeFileSync(path.join(dir, 'hello.rhai'), 'fn handle(ctx) { `v2 ${ctx.env.GREETING} ${ctx.params.name}` }\n');
    const saved = Date.now();
    let body = '';
    while (Date.now() - saved < 1000) {
      body = (await get(`http://127.0.0.1:${dev.port}/apps/${app}/hello/x`)).body;
      if (body.startsWith('v2')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(body, dev.out()).toBe('v2 howdy x');
    await dev.until(/Reloaded: v2/, mark);

    // a broken save prints path:line:col and the old code keeps answering
    const mark2 = dev.out().length;
    writeFileSync(path.join(dir, 'hello.rhai'), 'fn handle(ctx) {\n    let = 1;\n}\n');
    await dev.until(/hello\.rhai:2:9: [^\n]+\n {4}let = 1;\n {8}\^\n-----> Still serving v2/, mark2);
    expect((await get(`http://127.0.0.1:${dev.port}/apps/${app}/hello/x`)).body).toBe('v2 howdy x');

    expect(await stop(dev)).toBe(0);
    dev = await startDev(dir);
    // KV survived the restart (the broken script still does not validate: the last good release is served)
    expect((await get(`http://127.0.0.1:${dev.port}/apps/${app}/count`)).body).toBe('2');
    expect(await stop(dev)).toBe(0);
  });
});
