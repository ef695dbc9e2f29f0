/**
 * `npm run bench:idle [-- --json] [--seconds N] [--redis]`: starts `picloud up` as `npm start` does (embedded
 * PostgreSQL unless DATABASE_URL is set; with --redis, REDIS_URL and executor processes), pushes a small app with
 * git (a route, a [[queues]] entry and a schedule), calls it once (which sends one job), lets it settle, then measures over N seconds (default 60) of idling:
 *   idle_cpu_s      — utime+stime of every process in the `picloud up` tree, embedded PostgreSQL included
 *                     (target < 0.3 s); the platform-only and PostgreSQL-only parts are printed too;
 *   rss_mb          — resident memory of the tree without the embedded PostgreSQL (target < 150 MB; PSS also shown);
 *   postgres_rss_mb — the embedded PostgreSQL's processes (PSS, since its backends share memory).
 * The ceiling, measured in the same window: a bare Node.js process holding one timer (its CPU and RSS).
 * `--json` prints { "idle_cpu_s", "rss_mb", "postgres_rss_mb" } (+ details and the baseline).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startArgs } from '../helpers/start.ts';
import { CLK_TCK, REPO, isPostgres, memKb, processTree, stopChild, threadTicks } from './lib.ts';

const argv = process.argv.slice(2);
const asJson = argv.includes('--json');
const withRedis = argv.includes('--redis');
const si = argv.indexOf('--seconds');
const seconds = si >= 0 ? Number(argv[si + 1]) : 60;
const say = (s: string) => (asJson ? process.stderr : process.stdout).write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const home = mkdtempSync(path.join(tmpdir(), 'picloud-idle-'));
const work = mkdtempSync(path.join(tmpdir(), 'picloud-idle-app-'));
const env: NodeJS.ProcessEnv = { ...process.env, PICLOUD_HOME: home, PORT: '0', PICLOUD_LOG_LEVEL: 'warn', PICLOUD_LOG_JSON: '1' };
if (withRedis) env.REDIS_URL ||= 'redis://127.0.0.1:6379';
else delete env.REDIS_URL;
if (!argv.includes('--external-db')) delete env.DATABASE_URL;

say(`starting picloud up (PICLOUD_HOME=${home}${withRedis ? ', REDIS_URL' : ''}${env.DATABASE_URL ? ', DATABASE_URL' : ', embedded PostgreSQL'})`);
// exactly what `npm start` runs, after the same incremental build its prestart does
execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: ['ignore', 2, 2] });
const up = spawn(process.execPath, startArgs(), { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
up.stdout!.on('data', (d) => (out += d));
up.stderr!.on('data', (d) => (out += d));

try {
  const started = Date.now();
  let base: string | null = null;
  while (!base) {
    if (up.exitCode !== null) throw new Error(`picloud up exited (${up.exitCode}):\n${out}`);
    if (Date.now() - started > 60_000) throw new Error(`picloud up did not start in 60 s:\n${out}`);
    base = /PiCloud is running on (http:\/\/\S+)/.exec(out)?.[1] ?? null;
    await sleep(100);
  }
  const token = readFileSync(path.join(home, 'admin-token'), 'utf8').trim();
  say(`up at ${base} after ${Date.now() - started} ms; pushing an app`);

  const git = (...args: string[]) => execFileSync('git', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } }).toString();
  // a route, a queue (one job sent by the call below) and a schedule that does not fire within the window: the
  // idle cost of declared background work (job runner, schedule timers) is measured too
  writeFileSync(path.join(work, 'picloud.toml'), '[[routes]]\npath = "/hello/:name"\nscript = "hello.rhai"\n'
    + '[[queues]]\nname = "work"\nscript = "work.rhai"\n[[schedules]]\ncron = "0 0 1 1 *"\nscript = "work.rhai"\n');
  writeFileSync(path.join(work, 'hello.rhai'), 'queue::send("work", ctx.params.name);\n"hello " + ctx.params.name\n');
  writeFileSync(path.join(work, 'work.rhai'), 'print(ctx.body);\n');
  git('init', '-q', '-b', 'main');
  git('-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'add', '-A');
  git('-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', 'idle bench');
  const u = new URL('/git/idlebench.git', base);
  u.username = 'bench';
  u.password = token;
  git('push', '-q', u.toString(), 'main');
  const r = await fetch(`${base}/apps/idlebench/hello/idle`);
  const body = await r.text();
  if (r.status !== 200) throw new Error(`app answered ${r.status}: ${body}`);
  say(`app answers: ${body}`);

  await sleep(3000); // settle: invocation log flush, JIT, GC
  // the ceiling, in the same window: a bare Node.js process that only holds a timer
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  await sleep(500);
  const bareBefore = processTree(bare.pid!)[0]?.ticks ?? 0;
  const before = new Map(processTree(up.pid!).map((p) => [p.pid, p]));
  const threadsBefore = threadTicks(up.pid!);
  say(`measuring ${seconds} s of idle over ${before.size} processes …`);
  await sleep(seconds * 1000);
  const after = processTree(up.pid!);
  const threadsAfter = threadTicks(up.pid!);
  const bareTicks = (processTree(bare.pid!)[0]?.ticks ?? 0) - bareBefore;
  const bareRssKb = memKb(bare.pid!).rssKb;
  bare.kill();
  let platformTicks = 0;
  let pgTicks = 0;
  const perProc: { pid: number; comm: string; ticks: number }[] = [];
  for (const p of after) {
    const d = p.ticks - (before.get(p.pid)?.ticks ?? 0);
    if (isPostgres(p)) pgTicks += d;
    else platformTicks += d;
    if (d > 0) perProc.push({ pid: p.pid, comm: p.comm, ticks: d });
  }
  let rssKb = 0;
  let pssKb = 0;
  let pgPssKb = 0;
  let pgRssKb = 0;
  for (const p of after) {
    const m = memKb(p.pid);
    if (isPostgres(p)) {
      pgPssKb += m.pssKb;
      pgRssKb += m.rssKb;
    } else {
      rssKb += m.rssKb;
      pssKb += m.pssKb;
    }
  }
  const res = {
    idle_cpu_s: (platformTicks + pgTicks) / CLK_TCK,
    rss_mb: Math.round(rssKb / 102.4) / 10,
    postgres_rss_mb: Math.round(pgPssKb / 102.4) / 10,
    platform_cpu_s: platformTicks / CLK_TCK,
    postgres_cpu_s: pgTicks / CLK_TCK,
    pss_mb: Math.round(pssKb / 102.4) / 10,
    postgres_rss_sum_mb: Math.round(pgRssKb / 102.4) / 10,
    seconds,
    processes: after.length,
    baseline_node_cpu_s: bareTicks / CLK_TCK,
    baseline_node_rss_mb: Math.round(bareRssKb / 102.4) / 10,
  };
  if (asJson) process.stdout.write(`${JSON.stringify(res)}\n`);
  else {
    say(`idle CPU over ${seconds} s: ${res.idle_cpu_s.toFixed(2)} s total (platform ${res.platform_cpu_s.toFixed(2)} s, PostgreSQL ${res.postgres_cpu_s.toFixed(2)} s; target < ${(0.3 * seconds / 60).toFixed(2)} s)`);
    for (const p of perProc.sort((a, b) => b.ticks - a.ticks)) say(`   ${String(p.pid).padStart(7)} ${p.comm.padEnd(18)} ${(p.ticks / CLK_TCK).toFixed(2)} s`);
    for (const [tid, t] of threadsAfter) {
      const d = t.ticks - (threadsBefore.get(tid)?.ticks ?? 0);
      if (d > 0) say(`      thread ${tid} ${t.comm.padEnd(16)} ${(d / CLK_TCK).toFixed(2)} s`);
    }
    say(`ceiling: a bare Node.js process idling in the same window: ${res.baseline_node_cpu_s.toFixed(2)} s CPU, ${res.baseline_node_rss_mb} MB RSS`);
    say(`memory: ${res.rss_mb} MB RSS (${res.pss_mb} MB PSS) without PostgreSQL (target < 150 MB); embedded PostgreSQL ${res.postgres_rss_mb} MB PSS (${res.postgres_rss_sum_mb} MB summed RSS)`);
  }
} finally {
  await stopChild(up);
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
