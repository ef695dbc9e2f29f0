/**
 * `npm run bench:idle [-- --json] [--seconds N] [--settle N] [--redis]`: starts PiCloud as it is run in production,
 * pushes a small app with git (a route, a [[queues]] entry and a schedule), calls it once (which sends one job), lets
 * it settle (--settle, default 3 s), then measures N seconds (default 60) of idling. With the default settle the window
 * holds what follows activity once: V8's memory reducer (one GC per isolate, 8 s or more after the last request),
 * the job runners' lease checks (until no job runs, at most 60 s after queue activity). Then it measures the next N
 * seconds (`next_window`): idling once those are over.
 *
 * Embedded (default): `picloud up` exactly as `npm start` runs it (embedded PostgreSQL unless --external-db):
 *   idle_cpu_s      — utime+stime of every process in the `picloud up` tree, embedded PostgreSQL included
 *                     (target < 0.3 s, issue 10); the platform-only and PostgreSQL-only parts are printed too;
 *   rss_mb          — resident memory of the tree without the embedded PostgreSQL, summed (target < 150 MB; PSS also
 *                     shown: summed RSS counts the node binary's shared pages once per node process, the git
 *                     spawner's ~35 MB of them included; spawner_rss_mb / spawner_pss_mb: that process alone);
 *   postgres_rss_mb — the embedded PostgreSQL's processes (PSS, since its backends share memory).
 * --redis (issue 11): the cluster roles as the systemd units run them (`node --single-threaded-gc dist/cli/main.js`
 * + role): `picloud manager`, `picloud orchestrator --executors 0` and 2 × `picloud executor --threads 2`, on a
 * redis-server of its own (free loopback port, AOF + noeviction as BullMQ wants; so its CPU is ours alone) and a
 * throwaway database on the shared PostgreSQL (DATABASE_URL or postgres://postgres@127.0.0.1:5432):
 *   idle_cpu_s      — our four processes (target < 0.5 s); redis_cpu_s and postgres_cpu_s (the backends connected
 *                     to the bench's database, seen in /proc; the server's shared background processes are not
 *                     counted) are reported separately.
 * Per process and per thread CPU are printed (tid = pid is the main thread). The ceiling, measured in the same
 * window: a bare Node.js process holding one timer (its CPU and RSS).
 * BENCH_NODE_ARGS (e.g. "--trace-gc", which adds GC counts per process) go after the production node flags (to
 * try or undo V8 flags, or profile).
 * `--json` prints { "idle_cpu_s", "rss_mb", "postgres_rss_mb", … } (+ details and the baseline).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startArgs } from '../helpers/start.ts';
import { CLK_TCK, REPO, isPostgres, memKb, processTree, readProc, stopChild, threadTicks, type ProcInfo } from './lib.ts';
import { freePort } from '../helpers/ports.ts';

const argv = process.argv.slice(2);
const asJson = argv.includes('--json');
const withRedis = argv.includes('--redis');
const si = argv.indexOf('--seconds');
const seconds = si >= 0 ? Number(argv[si + 1]) : 60;
/** seconds between the app's last call and the window (default 3: the first minute after activity, what follows a burst included) */
const settleAt = argv.indexOf('--settle');
const settleSeconds = settleAt >= 0 ? Number(argv[settleAt + 1]) : 3;
const say = (s: string) => (asJson ? process.stderr : process.stdout).write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ').filter(Boolean) : [];
/** `npm start`'s node arguments (BENCH_NODE_ARGS after its flags, so they can override them) with `role` for `up` */
const roleArgs = (role: string[]) => {
  const a = startArgs();
  return [...a.slice(0, -2), ...nodeArgs, a[a.length - 2]!, ...role];
};

const home = mkdtempSync(path.join(tmpdir(), 'picloud-idle-'));
const work = mkdtempSync(path.join(tmpdir(), 'picloud-idle-app-'));

interface Role {
  name: string;
  child: ChildProcess;
  out: string;
}

function startRole(name: string, args: string[], env: NodeJS.ProcessEnv): Role {
  const child = spawn(process.execPath, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Role = { name, child, out: '' };
  child.stdout!.on('data', (d) => (r.out += d));
  child.stderr!.on('data', (d) => (r.out += d));
  return r;
}

async function waitFor(what: string, role: Role | null, f: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await f())) {
    if (role && role.child.exitCode !== null) throw new Error(`${role.name} exited (${role.child.exitCode}):\n${role.out}`);
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms${role ? `:\n${role.out}` : ''}`);
    await sleep(100);
  }
}

const answers = (url: string) => fetch(url).then((r) => r.status < 500, () => false);

/** Push the bench app with git to `base` (the process serving git). */
function pushApp(base: string, token: string): void {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } }).toString();
  // a route, a queue (one job sent by the call below) and a schedule that does not fire within the window: the
  // idle cost of declared background work (job runner, schedule timers / BullMQ scheduler) is measured too
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
}

/** Call the app once (retrying while the release reaches the serving process) and wait until its job ran. */
async function callApp(base: string, ran: () => Promise<boolean>): Promise<void> {
  let last = '';
  await waitFor('the app answers', null, async () => {
    const r = await fetch(`${base}/apps/idlebench/hello/idle`);
    last = `${r.status} ${await r.text()}`;
    return r.status === 200;
  }, 15_000).catch((e: Error) => {
    throw new Error(`${e.message} (last answer: ${last})`);
  });
  say(`app answers: ${last}`);
  await waitFor('the job sent by the call ran', null, ran, 30_000);
}

/** The job the call sent has run (the jobs API of the process serving it). */
async function jobDone(base: string, token: string): Promise<boolean> {
  const r = await fetch(`${base}/api/v1/apps/idlebench/jobs?state=done`, { headers: { authorization: `Bearer ${token}` } });
  if (r.status !== 200) return false;
  return ((await r.json()) as { jobs: unknown[] }).jobs.length > 0;
}

// ---------------------------------------------------------------- measuring

/** PostgreSQL backends connected to `db` (seen in /proc: no query, so measuring costs PostgreSQL nothing). */
function backendsOf(db: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(` ${db} `)) continue;
    } catch {
      continue;
    }
    const p = readProc(Number(d));
    if (p && isPostgres(p)) out.push(p);
  }
  return out;
}

/** A child process by its title (a PostgreSQL process says what it is: "postgres: checkpointer", a backend, …). */
/** the process git runs from (src/git/spawn.ts): shown apart in the memory line */
const SPAWNER = 'picloud-git-spawner';

function childLabel(pid: number, parent: string): string {
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!;
    if (title.startsWith('postgres: ')) return title.slice(0, 40);
    if (/(^|\/)postgres$/.test(title)) return 'postmaster (+ exited children)';
    if (title.startsWith(SPAWNER)) return SPAWNER;
  } catch {
    /* gone */
  }
  return `${parent} child`;
}

interface Sample {
  label: string;
  pid: number;
  comm: string;
  /** ticks over the window */
  ticks: number;
  kind: 'platform' | 'postgres' | 'redis';
  threads: { tid: number; ticks: number }[];
}

/**
 * Measure `seconds`: the trees of `roots` (platform, or PostgreSQL for the embedded one's processes), `extra` pids
 * (Redis) and the backends of `db`, sampled every second (a backend that exits keeps its last reading; one that
 * starts counts from its first).
 */
async function measure(roots: { label: string; pid: number }[], extra: { label: string; pid: number; kind: Sample['kind'] }[], db: string | null): Promise<Sample[]> {
  type Seen = ProcInfo & { label: string; kind: Sample['kind']; tree: boolean; initial: boolean };
  const first = new Map<number, Seen>();
  const last = new Map<number, ProcInfo>();
  const threads0 = new Map<number, Map<number, { ticks: number }>>();
  const look = (initial: boolean) => {
    const seen: Seen[] = [];
    for (const r of roots) {
      for (const p of processTree(r.pid)) seen.push({ ...p, label: p.pid === r.pid ? r.label : childLabel(p.pid, r.label), kind: isPostgres(p) ? 'postgres' : 'platform', tree: true, initial });
    }
    for (const e of extra) {
      const p = readProc(e.pid);
      if (p) seen.push({ ...p, label: e.label, kind: e.kind, tree: false, initial });
    }
    if (db) for (const p of backendsOf(db)) seen.push({ ...p, label: 'backend', kind: 'postgres', tree: false, initial });
    for (const p of seen) {
      if (!first.has(p.pid)) {
        first.set(p.pid, p);
        if (initial) threads0.set(p.pid, threadTicks(p.pid));
      }
      last.set(p.pid, p);
    }
  };
  look(true);
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    await sleep(Math.min(1000, seconds * 1000 - (Date.now() - t0)));
    look(false);
  }
  const out: Sample[] = [];
  for (const [pid, f] of first) {
    const t0s = threads0.get(pid);
    const threads: Sample['threads'] = [];
    if (t0s) {
      for (const [tid, t] of threadTicks(pid)) {
        const d = t.ticks - (t0s.get(tid)?.ticks ?? 0);
        if (d > 0) threads.push({ tid, ticks: d });
      }
    }
    // A process of our trees also counts its children that exited in the window (reaped: their whole lifetime),
    // e.g. the embedded PostgreSQL's backends that an idle pool closed, whose startup no sample saw; such a child
    // then counts only minus its ticks at the window's start. The shared PostgreSQL's backends (not in a tree) count
    // from first to last sample.
    const l = last.get(pid)!;
    const gone = f.tree && readProc(pid) === null;
    const ticks = gone ? -(f.initial ? f.ticks : 0) : l.ticks - f.ticks + (f.tree ? l.reaped - f.reaped : 0);
    out.push({ label: f.label, pid, comm: f.comm, kind: f.kind, ticks, threads });
  }
  return out;
}

function memoryOf(pids: number[]): { rssKb: number; pssKb: number } {
  let rssKb = 0;
  let pssKb = 0;
  for (const pid of pids) {
    const m = memKb(pid);
    rssKb += m.rssKb;
    pssKb += m.pssKb;
  }
  return { rssKb, pssKb };
}

/**
 * V8's --trace-gc lines (BENCH_NODE_ARGS="--trace-gc") a process printed during the window: collections, their
 * pauses plus incremental marking steps (ms, on the isolate's own thread with --single-threaded-gc), and how many
 * were the memory reducer's ("(reduce)").
 */
function gcSummary(text: string): { collections: number; reduce: number; ms: number } {
  let collections = 0;
  let reduce = 0;
  let ms = 0;
  for (const line of text.split('\n')) {
    const m = /: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^,]*, ([\d.]+) \/ [\d.]+ ms(?:\s+\(\+ ([\d.]+) ms in)?/.exec(line);
    if (!m) continue;
    collections++;
    if (line.includes('(reduce)')) reduce++;
    ms += Number(m[2]) + Number(m[3] ?? 0);
  }
  return { collections, reduce, ms: Math.round(ms) };
}

const mb = (kb: number) => Math.round(kb / 102.4) / 10;
const secs = (ticks: number) => ticks / CLK_TCK;

// ---------------------------------------------------------------- the two setups

interface Setup {
  roots: { label: string; pid: number }[];
  /** our node processes, whose output carries --trace-gc lines when BENCH_NODE_ARGS asks for them */
  roles: Role[];
  extra: { label: string; pid: number; kind: Sample['kind'] }[];
  db: string | null;
  stop(): Promise<void>;
}

async function embeddedSetup(): Promise<Setup> {
  const env: NodeJS.ProcessEnv = { ...process.env, PICLOUD_HOME: home, PORT: '0', PICLOUD_LOG_LEVEL: 'warn', PICLOUD_LOG_JSON: '1' };
  delete env.REDIS_URL;
  if (!argv.includes('--external-db')) delete env.DATABASE_URL;
  say(`starting picloud up (PICLOUD_HOME=${home}${env.DATABASE_URL ? ', DATABASE_URL' : ', embedded PostgreSQL'})`);
  const up = startRole('up', roleArgs(['up']), env);
  const stop = () => stopChild(up.child);
  try {
    const started = Date.now();
    let base: string | null = null;
    await waitFor('picloud up started', up, () => (base = /PiCloud is running on (http:\/\/\S+)/.exec(up.out)?.[1] ?? null) !== null);
    const token = readFileSync(path.join(home, 'admin-token'), 'utf8').trim();
    say(`up at ${base} after ${Date.now() - started} ms; pushing an app`);
    pushApp(base!, token);
    await callApp(base!, () => jobDone(base!, token));
    return { roots: [{ label: 'picloud up', pid: up.child.pid! }], roles: [up], extra: [], db: null, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function redisSetup(): Promise<Setup> {
  const started: Role[] = [];
  let redis: ChildProcess | null = null;
  const adminUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `picloud_idle_${randomBytes(5).toString('hex')}`;
  const dbUrl = (() => {
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    return u.toString();
  })();
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  const stop = async () => {
    // executors first (they drain), then the orchestrator and the manager, then Redis and the database
    for (const r of [...started].reverse()) await stopChild(r.child);
    if (redis) await stopChild(redis, 'SIGKILL');
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
  };
  try {
    const redisPort = await freePort();
    redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', home, '--save', '', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    await admin(`CREATE DATABASE ${dbName}`);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    const [mPort, oPort] = [await freePort(), await freePort()];
    const env = (port: number): NodeJS.ProcessEnv => ({ ...process.env, PICLOUD_HOME: home, HOST: '127.0.0.1', PORT: String(port), PICLOUD_LOG_LEVEL: 'warn', PICLOUD_LOG_JSON: '1', DATABASE_URL: dbUrl, REDIS_URL: redisUrl });
    say(`starting manager, orchestrator --executors 0, 2 × executor --threads 2 (redis-server :${redisPort}, database ${dbName})`);
    const t0 = Date.now();
    const manager = startRole('manager', roleArgs(['manager']), env(mPort));
    started.push(manager);
    const mBase = `http://127.0.0.1:${mPort}`;
    await waitFor('manager listening', manager, () => answers(`${mBase}/healthz`));
    const orch = startRole('orchestrator', roleArgs(['orchestrator', '--executors', '0']), env(oPort));
    started.push(orch);
    for (const i of [1, 2]) started.push(startRole(`executor ${i}`, roleArgs(['executor', '--threads', '2']), env(0)));
    const oBase = `http://127.0.0.1:${oPort}`;
    await waitFor('orchestrator ready', orch, () => fetch(`${oBase}/readyz`).then((r) => r.status === 200, () => false));
    for (const r of started) if (r.child.exitCode !== null) throw new Error(`${r.name} exited (${r.child.exitCode}):\n${r.out}`);
    say(`started after ${Date.now() - t0} ms; pushing an app`);
    const token = readFileSync(path.join(home, 'admin-token'), 'utf8').trim();
    pushApp(mBase, token);
    await callApp(oBase, () => jobDone(mBase, token));
    return {
      roots: started.map((r) => ({ label: r.name, pid: r.child.pid! })),
      roles: started,
      extra: [{ label: 'redis-server', pid: redis.pid!, kind: 'redis' }],
      db: dbName,
      stop,
    };
  } catch (e) {
    for (const r of started) if (r.out.trim()) say(`--- ${r.name}:\n${r.out.slice(-2000)}`);
    await stop();
    throw e;
  }
}

// ---------------------------------------------------------------- main

execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: ['ignore', 2, 2] }); // what `npm start`'s prestart does
const setup = withRedis ? await redisSetup() : await embeddedSetup();
try {
  await sleep(settleSeconds * 1000); // settle: invocation log flush, JIT (V8's memory reducer may still be to come: --settle)
  // the ceiling, in the same window: a bare Node.js process that only holds a timer
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  await sleep(500);
  say(`measuring ${seconds} s of idle, ${settleSeconds} s after the last request (load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}) …`);
  const outAt = setup.roles.map((r) => r.out.length);
  const [samples, bareSamples] = await Promise.all([measure(setup.roots, setup.extra, setup.db), measure([{ label: 'bare', pid: bare.pid! }], [], null)]);
  const gc = setup.roles.map((r, i) => ({ label: r.name, ...gcSummary(r.out.slice(outAt[i])) }));
  const bareRssKb = memKb(bare.pid!).rssKb;
  bare.kill();
  // the window right after it: what idling costs once what follows activity is over (see the header)
  const outAt2 = setup.roles.map((r) => r.out.length);
  const after = await measure(setup.roots, setup.extra, setup.db);
  const gc2 = setup.roles.map((r, i) => ({ label: r.name, ...gcSummary(r.out.slice(outAt2[i])) }));
  /** a window's CPU: idle_cpu_s (embedded: the whole `picloud up` tree, its PostgreSQL included; --redis: our four processes) and its parts */
  const cpuOf = (xs: Sample[]) => {
    const ticks = (k: Sample['kind']) => xs.filter((s) => s.kind === k).reduce((n, s) => n + s.ticks, 0);
    const platform = ticks('platform');
    const postgres = ticks('postgres');
    return {
      idle_cpu_s: secs(withRedis ? platform : platform + postgres),
      platform_cpu_s: secs(platform),
      postgres_cpu_s: secs(postgres),
      ...(withRedis ? { redis_cpu_s: secs(ticks('redis')) } : {}),
    };
  };
  const live = (k: Sample['kind']) => samples.filter((s) => s.kind === k && readProc(s.pid)).map((s) => s.pid);
  const plat = memoryOf(live('platform'));
  const spawner = memoryOf(samples.filter((x) => x.label === SPAWNER && readProc(x.pid)).map((x) => x.pid));
  const pgm = withRedis ? { rssKb: 0, pssKb: 0 } : memoryOf(live('postgres'));
  const res = {
    ...cpuOf(samples),
    rss_mb: mb(plat.rssKb),
    postgres_rss_mb: mb(pgm.pssKb),
    pss_mb: mb(plat.pssKb),
    spawner_rss_mb: mb(spawner.rssKb),
    spawner_pss_mb: mb(spawner.pssKb),
    postgres_rss_sum_mb: mb(pgm.rssKb),
    seconds,
    settle_seconds: settleSeconds,
    processes: samples.length,
    per_process: samples.filter((s) => s.ticks > 0 || s.kind === 'platform').map((s) => ({ label: s.label, pid: s.pid, cpu_s: secs(s.ticks), threads: s.threads.map((t) => ({ tid: t.tid, cpu_s: secs(t.ticks) })) })),
    ...(nodeArgs.includes('--trace-gc') ? { gc } : {}),
    /** the next window of the same length (idle once what follows activity is over): the same sums */
    next_window: {
      ...cpuOf(after),
      per_process: after.filter((s) => s.ticks > 0).map((s) => ({ label: s.label, pid: s.pid, cpu_s: secs(s.ticks) })),
      ...(nodeArgs.includes('--trace-gc') ? { gc: gc2 } : {}),
    },
    baseline_node_cpu_s: secs(bareSamples[0]?.ticks ?? 0),
    baseline_node_rss_mb: mb(bareRssKb),
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
  };
  if (asJson) process.stdout.write(`${JSON.stringify(res)}\n`);
  else {
    const target = (withRedis ? 0.5 : 0.3) * seconds / 60;
    if (withRedis) say(`idle CPU over ${seconds} s: ${res.idle_cpu_s.toFixed(2)} s in our processes (target < ${target.toFixed(2)} s); Redis ${res.redis_cpu_s!.toFixed(2)} s, PostgreSQL backends ${res.postgres_cpu_s.toFixed(2)} s`);
    else say(`idle CPU over ${seconds} s: ${res.idle_cpu_s.toFixed(2)} s total (platform ${res.platform_cpu_s.toFixed(2)} s, PostgreSQL ${res.postgres_cpu_s.toFixed(2)} s; target < ${target.toFixed(2)} s)`);
    for (const s of samples.filter((x) => x.ticks > 0 || (x.kind === 'platform' && !x.label.endsWith('child'))).sort((a, b) => b.ticks - a.ticks)) {
      say(`   ${String(s.pid).padStart(7)} ${s.label.padEnd(24)} ${secs(s.ticks).toFixed(2)} s`);
      for (const t of s.threads.sort((a, b) => b.ticks - a.ticks)) say(`      thread ${t.tid}${t.tid === s.pid ? ' (main)' : ''} ${secs(t.ticks).toFixed(2)} s`);
    }
    if (nodeArgs.includes('--trace-gc')) for (const g of gc) say(`gc in ${g.label}: ${g.collections} collections (${g.reduce} by the memory reducer), ${g.ms} ms of pauses and marking steps`);
    const nw = res.next_window;
    say(`the next ${seconds} s (what follows activity over): ${nw.idle_cpu_s.toFixed(2)} s ${withRedis ? 'in our processes' : 'total'} (target < ${target.toFixed(2)} s)` +
      `${withRedis ? `; Redis ${nw.redis_cpu_s!.toFixed(2)} s, PostgreSQL backends ${nw.postgres_cpu_s.toFixed(2)} s` : ''}: ` +
      after.filter((x) => x.ticks > 0).sort((a, b) => b.ticks - a.ticks).map((x) => `${x.label} ${secs(x.ticks).toFixed(2)}`).join(', ') +
      (nodeArgs.includes('--trace-gc') ? `; GCs ${gc2.reduce((n, g) => n + g.collections, 0)} (${gc2.reduce((n, g) => n + g.ms, 0)} ms)` : ''));
    say(`ceiling: a bare Node.js process idling in the same window: ${res.baseline_node_cpu_s.toFixed(2)} s CPU, ${res.baseline_node_rss_mb} MB RSS`);
    // summed RSS counts the node binary's pages once per node process; PSS shares them out
    const spawnerPart = res.spawner_rss_mb > 0 ? `; ${SPAWNER} ${res.spawner_rss_mb} MB RSS (${res.spawner_pss_mb} MB PSS) of it` : '';
    say(`memory: ${res.rss_mb} MB RSS summed (${res.pss_mb} MB PSS) without PostgreSQL${withRedis ? ' or Redis' : ' (target < 150 MB)'}${spawnerPart}`
      + (withRedis ? '' : `; embedded PostgreSQL ${res.postgres_rss_mb} MB PSS (${res.postgres_rss_sum_mb} MB summed RSS)`));
  }
} finally {
  await setup.stop();
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
