/**
 * `picloud dev [DIR] [--port N] [--no-schedules]` (architecture.md §2): the working tree's app served locally by the
 * real platform — the same validation and compile as a push, the same release switch, ingress, executor threads,
 * host functions, KV, schedules and invocation log — with an embedded PostgreSQL under DIR/.picloud/dev (so KV and
 * logs survive a restart; no DATABASE_URL or REDIS_URL is used). Every save (chokidar, debounced) deploys the tree
 * again; a save that fails validation prints the push's `path:line:col` diagnostics and the last good version keeps
 * serving. Env = `[env]` of picloud.toml overlaid with DIR/.env (as config vars of the branch). Each invocation is
 * printed as a line (method, path, status, ms) with its print/debug lines and error.
 *
 * The app's name is the one of the `picloud` git remote when there is one, else the directory's name made valid.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/log.ts';
import { isValidAppName } from '../../common/names.ts';
import { listConfigVars, setConfigVars, unsetConfigVars } from '../../db/config-vars.ts';
import { findApp, getRelease, liveReleaseId, type InvocationView } from '../../db/dashboard.ts';
import { loadEngine } from '../../deploy/engine.ts';
import { MANIFEST_PATH } from '../../deploy/manifest.ts';
import { createScriptCache } from '../../deploy/push.ts';
import { applyReleaseOps } from '../../deploy/release.ts';
import { validateTree } from '../../deploy/validate.ts';
import { workTreeSource } from '../../deploy/worktree.ts';
import { InvocationHub } from '../../manager/invocation-hub.ts';
import type { CliIO } from '../client/io.ts';
import { remoteApp } from '../client/verb.ts';
import { readDotEnv } from '../local-app.ts';
import { runPlatform, type RunningPlatform } from '../platform.ts';

const USAGE = 'usage: picloud dev [DIR] [--port N] [--no-schedules]\n';
const DEBOUNCE_MS = 120;

/** DIR's name as an app name: lower-case, runs of other characters → '-', starting with a letter. */
export function appNameFromDir(dir: string): string {
  let n = path.basename(path.resolve(dir)).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(n)) n = `app-${n}`;
  n = n.slice(0, 31).replace(/-+$/, '');
  return isValidAppName(n) ? n : 'app';
}

function parse(argv: string[]): { dir: string; port: number; schedules: boolean } | string | null {
  let dir: string | undefined;
  let port = 8787;
  let schedules = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return null;
    if (a === '--no-schedules') schedules = false;
    else if (a === '--port' || a.startsWith('--port=')) {
      const raw = a.includes('=') ? a.slice(7) : argv[++i];
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 0 || n > 65535) return '--port needs an integer in 0..65535';
      port = n;
    } else if (!a.startsWith('-') && dir === undefined) dir = a;
    else return `unexpected argument ${a}`;
  }
  return { dir: dir ?? '.', port, schedules };
}

/** One line per invocation, then its log lines and error indented (the terminal's view of `picloud logs`). */
export function formatDevInvocation(i: InvocationView): string {
  const what = i.trigger === 'http' ? `${i.method} ${i.path}` : `${i.trigger} ${i.route}`;
  const lines = [`${new Date(i.createdAt).toISOString().slice(11, 23)} ${what} ${i.status} ${i.durationMs.toFixed(1)}ms`];
  for (const l of i.logs) lines.push(`    ${l.level}: ${l.msg.replace(/\n/g, '\n      ')}`);
  if (i.error) lines.push(`    error: ${i.error.replace(/\n/g, '\n      ')}`);
  return lines.join('\n');
}

export async function devCommand(argv: string[], io: CliIO): Promise<number> {
  const args = parse(argv);
  if (args === null) {
    io.stdout.write(`${USAGE}\n  Serve the app in DIR (default .) on http://127.0.0.1:8787, deploying every save.\n`);
    return 0;
  }
  if (typeof args === 'string') {
    io.stderr.write(`picloud dev: ${args}\n${USAGE}`);
    return 64;
  }
  const dir = path.resolve(io.cwd ?? process.cwd(), args.dir);
  if (!existsSync(path.join(dir, MANIFEST_PATH))) {
    io.stderr.write(`picloud dev: no ${MANIFEST_PATH} in ${dir} (see docs/picloud-toml.md)\n`);
    return 66;
  }
  const app = remoteApp(dir) ?? appNameFromDir(dir);
  const home = path.join(dir, '.picloud', 'dev');
  mkdirSync(home, { recursive: true });
  // the dev state never belongs in the app's repository
  if (!existsSync(path.join(dir, '.picloud', '.gitignore'))) writeFileSync(path.join(dir, '.picloud', '.gitignore'), '*\n');

  const env: NodeJS.ProcessEnv = { ...(io.env ?? process.env), PICLOUD_HOME: home, HOST: '127.0.0.1' };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  env.PICLOUD_LOG_LEVEL ??= 'warn';
  const config = loadConfig(env, { port: args.port });
  const log = createLogger(config.logLevel, false);
  const say = (s = '') => io.stdout.write(`${s}\n`);

  return runPlatform({
    name: 'dev',
    config,
    log,
    io,
    schedules: args.schedules,
    adminToken: false,
    onStarted: async (p) => startDev(p, { dir, app, say, log, schedules: args.schedules }),
  });
}

interface DevOptions {
  dir: string;
  app: string;
  say(s?: string): void;
  log: ReturnType<typeof createLogger>;
  schedules: boolean;
}

async function startDev(p: RunningPlatform, o: DevOptions): Promise<() => Promise<void>> {
  const { pool, plane } = p;
  const { dir, app, say } = o;
  const engine = await loadEngine();
  const cache = createScriptCache(pool, engine);
  const hub = new InvocationHub(pool, o.log);
  let unsubscribe: (() => void) | null = null;
  let lastSha: string | null = null;
  let lastRoutes = '';
  let live: { version: number } | null = null;
  let branch = 'main';
  const printInvocation = (i: InvocationView) => say(formatDevInvocation(i));
  // a restart: the last good release is live again before any save (even while the tree does not validate)
  const existing = await findApp(pool, app);
  if (existing) {
    branch = existing.productionBranch;
    const id = await liveReleaseId(pool, existing.id, branch);
    const rel = id === null ? null : await getRelease(pool, id);
    if (rel) live = { version: rel.version };
    unsubscribe = await hub.subscribe({ appId: existing.id, onInvocation: printInvocation });
  }

  const deploy = async (first: boolean): Promise<void> => {
    const t0 = performance.now();
    const tree = await workTreeSource(dir, { untracked: true });
    const result = await validateTree(tree, { engine, cache });
    if (!result.ok || !result.build?.manifest) {
      say(`-----> ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}:`);
      for (const pr of result.problems) say(pr);
      say(live ? `-----> Still serving v${live.version}` : '-----> Nothing is served until the app validates');
      return;
    }
    const m = result.build.manifest;
    branch = m.productionBranch ?? 'main';
    // the release's identity: every file's path and content, as a commit would have it
    const h = createHash('sha1');
    const texts = await tree.read(tree.files);
    for (const f of tree.files) h.update(f.path).update('\0').update(texts.get(f.path) ?? '').update('\0');
    const dotenv = readDotEnv(dir);
    h.update(JSON.stringify(dotenv));
    const sha = h.digest('hex');
    if (sha === lastSha) return;
    const [r] = await applyReleaseOps(pool, app, 'dev', [
      { kind: 'deploy', branch, commitSha: sha, build: result.build, releaseManifest: result.releaseManifest, engineVersion: engine.version },
    ]);
    const appRow = { id: r!.app.id, name: app };
    const current = await listConfigVars(pool, appRow.id, branch);
    const stale = current.map((v) => v.key).filter((k) => !(k in dotenv));
    if (stale.length) await unsetConfigVars(pool, appRow, branch, stale);
    const changed = Object.fromEntries(Object.entries(dotenv).filter(([k, v]) => current.find((c) => c.key === k)?.value !== v));
    if (Object.keys(changed).length) await setConfigVars(pool, appRow, branch, changed);
    await plane.waitForRelease(app, branch, r!.release!.id, 5000);
    lastSha = sha;
    live = { version: r!.release!.version };
    say(`-----> ${first ? 'Serving' : 'Reloaded:'} v${live.version} in ${Math.round(performance.now() - t0)} ms`);
    const routes = m.routes.map((rt) => `       ${rt.methods.join(',').padEnd(8)} ${p.base}/apps/${app}${rt.path}   http://${app}.${p.config.domain}:${p.port}${rt.path}`)
      .concat(m.schedules.map((sc) => `       cron ${sc.cron} -> ${sc.script}${o.schedules ? '' : ' (not run: --no-schedules)'}`))
      .join('\n');
    if (routes !== lastRoutes) {
      if (routes) say(routes);
      lastRoutes = routes;
    }
    unsubscribe ??= await hub.subscribe({ appId: appRow.id, onInvocation: printInvocation });
  };

  // one deploy at a time; saves during a deploy coalesce into one more
  let running: Promise<void> | null = null;
  let again = false;
  const run = (first = false): void => {
    if (running) {
      again = true;
      return;
    }
    running = deploy(first)
      .catch((err: unknown) => say(`-----> Deploy failed: ${(err as Error).message}`))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
  };

  say(`-----> picloud dev: ${app} from ${dir} (data in ${path.relative(dir, p.config.home) || '.'})`);
  say(`       ${p.base}/apps/${app}/   http://${app}.${p.config.domain}:${p.port}/`);
  run(true);
  await running;

  let timer: NodeJS.Timeout | null = null;
  const watcher: FSWatcher = watch(dir, {
    ignoreInitial: true,
    ignored: (f: string) => /(^|[/\\])(\.git|node_modules|\.picloud)([/\\]|$)/.test(path.relative(dir, f)),
    atomic: true,
  });
  watcher.on('all', () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => run(), DEBOUNCE_MS);
  });
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  say('-----> Watching for changes (Ctrl-C to stop)');

  return async () => {
    if (timer) clearTimeout(timer);
    await watcher.close();
    await running;
    unsubscribe?.();
    await hub.close();
  };
}
