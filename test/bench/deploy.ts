/**
 * `npm run bench:deploy [-- --json] [-- --runs N]`: server-side push-to-live time for an app of 50 scripts
 * (50 routes), measured inside the server from the start of the pre-receive step to the moment the release is
 * committed and served by the route table (the `-----> Live in N ms` line), so git's own transfer is excluded.
 * - first push: a new app whose scripts are not in the AST cache (every run uses fresh sources)
 * - rollback push: `git push -f` of the previous commit (every script from the cache)
 * Targets (issue 3): first push < 1000 ms, rollback push < 300 ms (medians).
 * Ceiling, measured in the same run: the same first push with plain git to a local bare repository without hooks
 * (git's own cost on this machine), next to the client-side wall time of the push to PiCloud.
 */
import { cleanupTempDirs, commitAll, headSha, makeRepo, push, remoteUrl, resetHard, runGit, tempDir, writeFiles } from '../helpers/git.ts';
import { startTestServer } from '../helpers/server.ts';


const args = process.argv.slice(2);
const json = args.includes('--json');
const runsArg = args.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(args[runsArg + 1]) : 5;
const SCRIPTS = 50;

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
const cachedOf = (stderr: string): string => /Compiled (\d+) scripts \((\d+) cached\)/.exec(stderr)?.slice(1, 3).join('/') ?? '?';
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const srv = await startTestServer();
const first: number[] = [];
const rollback: number[] = [];
const wall: { first: number[]; rollback: number[] } = { first: [], rollback: [] };
const plainGit: number[] = [];
try {
  // warm-up push (module loading, first connections) — not counted
  {
    const repo = await makeRepo({ files: appFiles('warmup') });
    liveMs((await push(repo, remoteUrl(srv.url, 'warmup', srv.token), ['main'])).stderr);
  }
  for (let run = 0; run < RUNS; run++) {
    const salt = `run-${run}-${Date.now()}`;
    const repo = await makeRepo({ files: appFiles(salt) });
    const url = remoteUrl(srv.url, `bench-${run}`, srv.token);
    const v1 = await headSha(repo);
    const bare = tempDir('picloud-bench-bare-');
    await runGit(bare, ['init', '-q', '--bare', '-b', 'main']);
    let t = performance.now();
    await push(repo, bare, ['main']);
    plainGit.push(performance.now() - t);
    t = performance.now();
    let r = await push(repo, url, ['main']);
    wall.first.push(performance.now() - t);
    first.push(liveMs(r.stderr));
    if (cachedOf(r.stderr) !== `${SCRIPTS}/0`) throw new Error(`first push was not cold: ${cachedOf(r.stderr)}`);
    writeFiles(repo, appFiles(`${salt}-v2`));
    await commitAll(repo, 'v2');
    liveMs((await push(repo, url, ['main'])).stderr);
    await resetHard(repo, v1);
    t = performance.now();
    r = await push(repo, url, ['main'], { force: true });
    wall.rollback.push(performance.now() - t);
    rollback.push(liveMs(r.stderr));
    if (cachedOf(r.stderr) !== `${SCRIPTS}/${SCRIPTS}`) throw new Error(`rollback was not served from the cache: ${cachedOf(r.stderr)}`);
  }
} finally {
  await srv.close();
  cleanupTempDirs();
}

const result = {
  scripts: SCRIPTS,
  runs: RUNS,
  firstPushMs: { median: median(first), samples: first, target: 1000 },
  rollbackPushMs: { median: median(rollback), samples: rollback, target: 300 },
  clientWallMs: { firstMedian: Math.round(median(wall.first)), rollbackMedian: Math.round(median(wall.rollback)) },
  ceilingPlainGitPushMs: Math.round(median(plainGit)),
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  const row = (name: string, xs: number[], target: number) =>
    `${name.padEnd(16)}${String(median(xs)).padStart(8)} ms   target < ${target} ms   ${median(xs) < target ? 'ok ' : 'MISS'}   samples ${xs.join(', ')}`;
  console.log(`deploy benchmark: ${SCRIPTS} scripts, ${RUNS} runs, server-side push-to-live (median)`);
  console.log(row('first push', first, 1000));
  console.log(row('rollback push', rollback, 300));
  console.log(`client-side git push wall time, incl. transfer: first ${result.clientWallMs.firstMedian} ms, rollback ${result.clientWallMs.rollbackMedian} ms`);
  console.log(
    `ceiling: the same first push with plain git to a local bare repo (no hooks, no HTTP): ${result.ceilingPlainGitPushMs} ms` +
      ` → a push to PiCloud takes ${(result.clientWallMs.firstMedian / Math.max(1, result.ceilingPlainGitPushMs)).toFixed(1)}x that`,
  );
}
