/**
 * `npm run bench:deploy [-- --json] [-- --runs N]`: server-side push-to-live time for an app of 50 scripts
 * (50 routes), measured inside the server from the start of the pre-receive step to the moment the release is
 * committed and served by the route table (the `-----> Live in N ms` line), so git's own transfer is excluded.
 * - first push: a new app whose scripts are not in the AST cache (every run uses fresh sources)
 * - rollback push: `git push -f` of the previous commit (every script from the cache)
 * Targets (issue 3): first push < 1000 ms, rollback push < 300 ms (medians).
 * Ceiling, measured in the same run: the same first push with plain git to a local bare repository without hooks
 * (git's own cost on this machine), next to the client-side wall time of the push to PiCloud.
 *
 * No cold start (issue 11): right after each release switch (first push, second push, rollback), the latency of the
 * first request to the new release next to the p50 of the WARM requests that follow, each on a new connection (as
 * curl does); target: at most 1 ms apart. Measured in both modes: embedded (executor threads in the server) and
 * Redis (no threads in the server, 2 executor processes). Reference without a switch: the same request after the
 * executors idled 300 ms (waking idle threads and processes costs something of its own), the switch's own cost
 * (first request minus that reference, per switch), and the machine's own share: the same gap with no PiCloud code
 * for a node:http server in this process answering itself, through a worker thread (the embedded mode's floor) and
 * through a second process's worker thread over TCP (the Redis mode's floor), floors.ts.
 */
import { cleanupTempDirs, commitAll, headSha, makeRepo, push, remoteUrl, resetHard, runGit, tempDir, writeFiles } from '../helpers/git.ts';
import http from 'node:http';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { startTestServer } from '../helpers/server.ts';
import { median } from './lib.ts';
import { plainFloor, processFloor, threadFloor, type Floor } from './floors.ts';


const args = process.argv.slice(2);
const json = args.includes('--json');
const runsArg = args.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(args[runsArg + 1]) : 5;
const SCRIPTS = 50;
/** warm requests after the first one of each switch */
const WARM = 30;
/** idle time before the reference request (about what a push of this app keeps the executors idle) */
const IDLE_MS = 300;

function script(i: number, salt: string): string {
  return `// route ${i} (${salt})
fn handle(ctx) {
    let name = ctx.params.name ?? "world";
    let counts = #{};
    for word in name.split("-") {
        counts[word] = (counts[word] ?? 0) + 1;
    }
    let total = 0;
    for k in counts.keys() { total += counts[k]; }
    if total > 10 { throw "too many words"; }
    #{ route: ${i}, greeting: greet(name), words: total, env: ctx.env }
}

fn greet(name) {
    switch name.len() {
        0 => "hello",
        1..5 => "hi " + name,
        _ => \`hello, \${name}!\`
    }
}
`;
}

function appFiles(salt: string): Record<string, string> {
  const files: Record<string, string> = {};
  let toml = '[env]\nMODE = "bench"\n';
  for (let i = 0; i < SCRIPTS; i++) {
    files[`routes/r${i}.rhai`] = script(i, salt);
    toml += `\n[[routes]]\npath = "/r${i}/:name"\nscript = "routes/r${i}.rhai"\nfunction = "handle"\n`;
  }
  files['picloud.toml'] = toml;
  return files;
}

const liveMs = (stderr: string): number => {
  const m = /-----> Live in (\d+) ms/.exec(stderr);
  if (!m) throw new Error(`push failed or printed no timing:\n${stderr}`);
  return Number(m[1]);
};
const preloadOf = (stderr: string): number | null => {
  const m = /\(preload (\d+) ms on /.exec(stderr);
  return m ? Number(m[1]) : null;
};
const cachedOf = (stderr: string): string => /Compiled (\d+) scripts \((\d+) cached\)/.exec(stderr)?.slice(1, 3).join('/') ?? '?';

/** One GET on a new connection (curl's way); ms from the request to the end of the body. */
function timedGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

interface ModeResult {
  first: number[];
  rollback: number[];
  wall: { first: number[]; rollback: number[] };
  plainGit: number[];
  /** per switch: the first request's ms and the p50 of the warm ones after it */
  firstRequest: number[];
  warmP50: number[];
  /** per switch, after the warm ones: one request after IDLE_MS without any request (no switch) */
  afterIdle: number[];
  /** the push output's preload wait, per switch */
  preloadMs: number[];
  /** invocations the executors ran cold (program not yet compiled in their thread), of all after the switches */
  coldInvocations?: { cold: number; n: number };
}

async function runMode(mode: 'embedded' | 'redis'): Promise<ModeResult> {
  const srv = await startTestServer(
    mode === 'embedded'
      ? { env: { PICLOUD_EXECUTORS: '2' } }
      : { env: { REDIS_URL: process.env.REDIS_URL || TEST_REDIS_URL }, spawnExecutors: 2 },
  );
  const r: ModeResult = { first: [], rollback: [], wall: { first: [], rollback: [] }, plainGit: [], firstRequest: [], warmP50: [], afterIdle: [], preloadMs: [] };
  /** right after a switch: the first request, then WARM more */
  const afterSwitch = async (app: string, pushed: { stderr: string }) => {
    const pre = preloadOf(pushed.stderr);
    if (pre !== null) r.preloadMs.push(pre);
    const url = `${srv.url}/apps/${app}/r0/bench`;
    r.firstRequest.push(await timedGet(url));
    const warm: number[] = [];
    for (let i = 0; i < WARM; i++) warm.push(await timedGet(url));
    r.warmP50.push(median(warm));
    // reference: the same request after the executors idled as long as a push keeps them idle, with no switch
    await new Promise((res) => setTimeout(res, IDLE_MS));
    r.afterIdle.push(await timedGet(url));
  };
  try {
    // warm-up push (module loading, first connections) — not counted
    {
      const repo = await makeRepo({ files: appFiles(`warmup-${mode}`) });
      liveMs((await push(repo, remoteUrl(srv.url, 'warmup', srv.token), ['main'])).stderr);
      for (let i = 0; i < WARM; i++) await timedGet(`${srv.url}/apps/warmup/r0/bench`);
    }
    for (let run = 0; run < RUNS; run++) {
      const salt = `${mode}-run-${run}-${Date.now()}`;
      const repo = await makeRepo({ files: appFiles(salt) });
      const app = `bench-${run}`;
      const url = remoteUrl(srv.url, app, srv.token);
      const v1 = await headSha(repo);
      const bare = tempDir('picloud-bench-bare-');
      await runGit(bare, ['init', '-q', '--bare', '-b', 'main']);
      let t = performance.now();
      await push(repo, bare, ['main']);
      r.plainGit.push(performance.now() - t);
      t = performance.now();
      let p = await push(repo, url, ['main']);
      r.wall.first.push(performance.now() - t);
      r.first.push(liveMs(p.stderr));
      if (cachedOf(p.stderr) !== `${SCRIPTS}/0`) throw new Error(`first push was not cold: ${cachedOf(p.stderr)}`);
      await afterSwitch(app, p);
      writeFiles(repo, appFiles(`${salt}-v2`));
      await commitAll(repo, 'v2');
      p = await push(repo, url, ['main']);
      liveMs(p.stderr);
      await afterSwitch(app, p);
      await resetHard(repo, v1);
      t = performance.now();
      p = await push(repo, url, ['main'], { force: true });
      r.wall.rollback.push(performance.now() - t);
      r.rollback.push(liveMs(p.stderr));
      if (cachedOf(p.stderr) !== `${SCRIPTS}/${SCRIPTS}`) throw new Error(`rollback was not served from the cache: ${cachedOf(p.stderr)}`);
      await afterSwitch(app, p);
    }
    // the executors' own account: invocations whose program was not compiled in their thread yet (flushed every ~100 ms)
    await new Promise((res) => setTimeout(res, 500));
    const { rows } = await srv.pool.query<{ cold: number; n: number }>(
      `SELECT count(*) FILTER (WHERE i.cold)::int AS cold, count(*)::int AS n FROM invocations i JOIN apps a ON a.id = i.app_id WHERE a.name LIKE 'bench-%'`,
    );
    r.coldInvocations = rows[0]!;
  } finally {
    await srv.close();
    cleanupTempDirs();
  }
  return r;
}

/**
 * The machine's own share of the gap: the same first request after IDLE_MS idle next to the p50 of WARM requests
 * after it, `rounds` times, each on a new connection as above, against each floor (floors.ts: a plain node:http
 * server in this process; the same handing each request to a worker thread; the same handing it over TCP to a
 * second process's worker thread). No PiCloud code: what waking idle processes and threads costs on this machine.
 */
async function floorReference(floor: Floor, rounds: number): Promise<{ afterIdle: number[]; warmP50: number[] }> {
  const out = { afterIdle: [] as number[], warmP50: [] as number[] };
  try {
    for (let i = 0; i < WARM; i++) await timedGet(floor.url);
    for (let r = 0; r < rounds; r++) {
      await new Promise((res) => setTimeout(res, IDLE_MS));
      out.afterIdle.push(await timedGet(floor.url));
      const warm: number[] = [];
      for (let i = 0; i < WARM; i++) warm.push(await timedGet(floor.url));
      out.warmP50.push(median(warm));
    }
  } finally {
    await floor.close();
  }
  return out;
}

const modes = { embedded: await runMode('embedded'), redis: await runMode('redis') };
const round = (x: number) => Math.round(x * 100) / 100;
const floors: Record<string, { afterIdleMs: number; warmP50Ms: number; gapMs: number; samples: number[] }> = {};
for (const [name, start] of [['plain', plainFloor], ['thread', threadFloor], ['process', processFloor]] as const) {
  const f = await floorReference(await start(), RUNS * 3);
  const gaps = f.afterIdle.map((x, i) => x - f.warmP50[i]!);
  floors[name] = { afterIdleMs: round(median(f.afterIdle)), warmP50Ms: round(median(f.warmP50)), gapMs: round(median(gaps)), samples: gaps.map(round) };
}
const e = modes.embedded;

const coldStart = Object.fromEntries(
  Object.entries(modes).map(([m, r]) => {
    const gaps = r.firstRequest.map((f, i) => f - r.warmP50[i]!);
    // what the switch itself costs: the first request after it next to a request after the same idle without one
    const switchCost = r.firstRequest.map((f, i) => f - r.afterIdle[i]!);
    return [m, {
      firstRequestMs: { median: round(median(r.firstRequest)), samples: r.firstRequest.map(round) },
      warmP50Ms: { median: round(median(r.warmP50)), samples: r.warmP50.map(round) },
      afterIdleMs: { median: round(median(r.afterIdle)), samples: r.afterIdle.map(round) },
      gapMs: { median: round(median(gaps)), max: round(Math.max(...gaps)), target: 1 },
      switchCostMs: { median: round(median(switchCost)), samples: switchCost.map(round) },
      coldInvocations: r.coldInvocations,
      preloadMs: { median: r.preloadMs.length ? median(r.preloadMs) : null, samples: r.preloadMs },
    }];
  }),
) as Record<string, { firstRequestMs: { median: number; samples: number[] }; warmP50Ms: { median: number; samples: number[] }; afterIdleMs: { median: number; samples: number[] }; gapMs: { median: number; max: number; target: number }; switchCostMs: { median: number; samples: number[] }; coldInvocations?: { cold: number; n: number }; preloadMs: { median: number | null; samples: number[] } }>;

const result = {
  scripts: SCRIPTS,
  runs: RUNS,
  firstPushMs: { median: median(e.first), samples: e.first, target: 1000 },
  rollbackPushMs: { median: median(e.rollback), samples: e.rollback, target: 300 },
  clientWallMs: { firstMedian: Math.round(median(e.wall.first)), rollbackMedian: Math.round(median(e.wall.rollback)) },
  ceilingPlainGitPushMs: Math.round(median(e.plainGit)),
  redis: { firstPushMs: median(modes.redis.first), rollbackPushMs: median(modes.redis.rollback) },
  firstRequestAfterSwitch: coldStart,
  /**
   * no PiCloud: the same gap for a node:http server in this process answering itself (plain), through a worker
   * thread (thread: what an embedded request crosses at least) and through a second process's worker thread over
   * TCP (process: what a Redis-mode request crosses at least); floors.ts
   */
  machineFloors: floors,
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  const row = (name: string, xs: number[], target: number) =>
    `${name.padEnd(16)}${String(median(xs)).padStart(8)} ms   target < ${target} ms   ${median(xs) < target ? 'ok ' : 'MISS'}   samples ${xs.join(', ')}`;
  console.log(`deploy benchmark: ${SCRIPTS} scripts, ${RUNS} runs, server-side push-to-live (median), embedded mode`);
  console.log(row('first push', e.first, 1000));
  console.log(row('rollback push', e.rollback, 300));
  console.log(`client-side git push wall time, incl. transfer: first ${result.clientWallMs.firstMedian} ms, rollback ${result.clientWallMs.rollbackMedian} ms`);
  console.log(
    `ceiling: the same first push with plain git to a local bare repo (no hooks, no HTTP): ${result.ceilingPlainGitPushMs} ms` +
      ` → a push to PiCloud takes ${(result.clientWallMs.firstMedian / Math.max(1, result.ceilingPlainGitPushMs)).toFixed(1)}x that`,
  );
  console.log(`redis mode (2 executor processes): first push ${result.redis.firstPushMs} ms, rollback push ${result.redis.rollbackPushMs} ms`);
  console.log(`first request right after each release switch (${RUNS * 3} switches: first push, second push, rollback; new connection per request):`);
  for (const [m, c] of Object.entries(coldStart)) {
    console.log(
      `  ${m.padEnd(9)} first ${c.firstRequestMs.median.toFixed(2)} ms   warm p50 ${c.warmP50Ms.median.toFixed(2)} ms   gap median ${c.gapMs.median.toFixed(2)} ms, max ${c.gapMs.max.toFixed(2)} ms   target ≤ 1 ms   ${c.gapMs.median <= 1 ? 'ok' : 'MISS'}`,
    );
    console.log(`            first samples ${c.firstRequestMs.samples.join(', ')}`);
    console.log(`            reference, no switch: a request after ${IDLE_MS} ms idle ${c.afterIdleMs.median.toFixed(2)} ms (median), samples ${c.afterIdleMs.samples.join(', ')}`);
    console.log(`            the switch's own cost (first request − that reference, per switch): median ${c.switchCostMs.median.toFixed(2)} ms, samples ${c.switchCostMs.samples.join(', ')}`);
    console.log(`            preload wait in the push (median): ${c.preloadMs.median ?? '-'} ms, samples ${c.preloadMs.samples.join(', ')}`);
    if (c.coldInvocations) console.log(`            invocations run cold by the executors: ${c.coldInvocations.cold} of ${c.coldInvocations.n}`);
  }
  console.log(`  machine floors, no PiCloud (a node:http server in this process answering itself, through a worker thread, through a second process's worker thread over TCP; floors.ts):`);
  const what = { plain: 'plain  ', thread: 'thread ', process: 'process' } as Record<string, string>;
  for (const [name, f] of Object.entries(result.machineFloors)) {
    console.log(`    ${what[name]} after ${IDLE_MS} ms idle ${f.afterIdleMs.toFixed(2)} ms, warm p50 ${f.warmP50Ms.toFixed(2)} ms, gap median ${f.gapMs.toFixed(2)} ms, samples ${f.samples.join(', ')}`);
  }
  console.log(`  PiCloud's gap beyond its mode's floor (median gap − floor gap): embedded ${(coldStart.embedded!.gapMs.median - floors.thread!.gapMs).toFixed(2)} ms (thread floor), redis ${(coldStart.redis!.gapMs.median - floors.process!.gapMs).toFixed(2)} ms (process floor)`);
}
