/**
 * `picloud run`: run one invocation locally, the way an executor would (same ctx builder, host functions and
 * response mapping from src/executor), with an in-memory KV.
 *
 *   picloud run FILE.rhai [--fn NAME] [--ctx JSON] [--env K=V]…     one script
 *   picloud run /PATH [-X METHOD] [--body TEXT] [--ctx JSON] [--dir DIR]
 *                                                                   the route of DIR's picloud.toml that matches,
 *                                                                   built as a push builds it, with its env (+ .env)
 *
 * http::fetch follows the same rules as on the platform, with the `[fetch]` of the app's picloud.toml (DIR, or the
 * nearest folder with one). Prints the response body to stdout and status, headers and print/debug/fetch lines to
 * stderr.
 * Exit 0 for a 2xx/3xx response, 1 otherwise, 64 usage, 65 when the app or script does not compile, 66 no such file.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_APP_LIMITS, PLATFORM_LIMITS } from '../../common/config.ts';
import { VERSION } from '../../common/version.ts';
import { loadEngine } from '../../deploy/engine.ts';
import { MANIFEST_PATH, parseManifest } from '../../deploy/manifest.ts';
import { effectiveFetch, matchRoute, targetOf } from '../../orchestrator/route-table.ts';
import type { CliIO } from '../client/io.ts';
import { buildLocalApp, localModules } from '../local-app.ts';

interface RunResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  logs: { level: string; msg: string }[];
  error: string | null;
}
interface RunnerLike {
  run(job: unknown): Promise<RunResult>;
  close(): Promise<void>;
}

const USAGE = `usage: picloud run FILE.rhai [--fn NAME] [--ctx JSON] [--env KEY=VALUE]…
       picloud run /PATH [-X METHOD] [--body TEXT] [--ctx JSON] [--dir DIR]   (the matching route of DIR/picloud.toml)
`;

interface Args {
  target?: string;
  ctx: Record<string, unknown>;
  fn: string | null;
  env: Record<string, string>;
  method?: string;
  body?: string;
  dir?: string;
}

function parse(argv: string[]): Args | string | null {
  const a: Args = { ctx: {}, fn: null, env: {} };
  let ctxJson = '{}';
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const val = () => argv[++i];
    if (x === '--ctx') ctxJson = val() ?? '';
    else if (x === '--fn') a.fn = val() ?? null;
    else if (x === '-X' || x === '--method') a.method = val()?.toUpperCase();
    else if (x === '--body') a.body = val();
    else if (x === '--dir') a.dir = val();
    else if (x === '--env') {
      const kv = val() ?? '';
      const eq = kv.indexOf('=');
      if (eq < 1) return '--env needs KEY=VALUE';
      a.env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (x === '-h' || x === '--help') return null;
    else if (!x.startsWith('-') && !a.target) a.target = x;
    else return `unexpected argument ${x}`;
  }
  if (!a.target) return 'give a FILE.rhai or a /PATH';
  try {
    const c = JSON.parse(ctxJson) as unknown;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error('not an object');
    a.ctx = c as Record<string, unknown>;
  } catch (e) {
    return `--ctx must be a JSON object (${(e as Error).message})`;
  }
  return a;
}

/** An executor Runner over an in-memory KV, the given programs (by hash) and a Fetcher. */
async function localRunner(programs: (hash: string) => string): Promise<RunnerLike> {
  const { Runner } = await import('../../executor/run.ts');
  const { Fetcher } = await import('../../executor/fetch.ts');
  const { memoryKv } = await import('../../db/kv-memory.ts');
  const fetcher = new Fetcher({ userAgent: `PiCloud/${VERSION}` });
  const runner = new Runner({
    fetcher,
    bridge: {
      loadAst: async (hash) => programs(hash),
      kv: memoryKv(),
    },
  });
  return { run: (job) => runner.run(job as Parameters<typeof runner.run>[0]), close: () => fetcher.close() };
}

/** `[fetch]` of DIR's picloud.toml when there is one (a script run alone may fetch what its app may). */
function localFetchPolicy(dir: string) {
  const file = path.join(dir, MANIFEST_PATH);
  if (!existsSync(file)) return effectiveFetch(undefined);
  return effectiveFetch(parseManifest(readFileSync(file, 'utf8')).manifest?.fetch as Record<string, unknown> | undefined);
}

const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
const rec = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {});

function requestOf(a: Args, pathDefault: string) {
  const c = a.ctx;
  const body = a.body ?? (typeof c.body === 'string' ? c.body : c.json !== undefined ? JSON.stringify(c.json) : '');
  return {
    method: (a.method ?? str(c.method, 'GET')).toUpperCase(),
    path: str(c.path, pathDefault),
    query: rec(c.query),
    headers: Object.fromEntries(Object.entries(rec(c.headers)).map(([k, v]) => [k.toLowerCase(), String(v)])),
    body,
  };
}

async function finish(io: CliIO, runner: RunnerLike, job: unknown): Promise<number> {
  let r: RunResult;
  try {
    r = await runner.run(job);
  } finally {
    await runner.close();
  }
  for (const l of r.logs) io.stderr.write(`[${l.level}] ${l.msg}\n`);
  io.stderr.write(`${r.status}\n${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`);
  if (r.error) io.stderr.write(`error: ${r.error}\n`);
  io.stdout.write(r.body.endsWith('\n') || r.body === '' ? r.body : `${r.body}\n`);
  return r.status < 400 ? 0 : 1;
}

async function runRoute(a: Args, io: CliIO): Promise<number> {
  const dir = path.resolve(io.cwd ?? process.cwd(), a.dir ?? '.');
  if (!existsSync(path.join(dir, MANIFEST_PATH))) {
    io.stderr.write(`picloud run: ${a.target} is a path, but ${dir} has no ${MANIFEST_PATH} (run a file with picloud run FILE.rhai)\n`);
    return 66;
  }
  const built = await buildLocalApp(dir, { app: path.basename(dir).toLowerCase() });
  if (!built.ok) {
    for (const p of built.problems) io.stderr.write(`${p}\n`);
    return 65;
  }
  const { entry, programs } = built.app;
  const req = requestOf(a, a.target!);
  const url = new URL(a.target!, 'http://local');
  const segs = url.pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  const m = matchRoute(entry.routes, req.method, segs);
  if (m.kind !== 'ok') {
    const what = m.kind === 'not_found' ? `no route matches ${url.pathname}` : `${url.pathname} takes ${m.allow.join(', ')}, not ${req.method}`;
    io.stderr.write(`picloud run: ${what}. Routes:\n${entry.routes.map((r) => `  ${r.methods === '*' ? '*' : [...r.methods].join(',')} ${r.pattern} -> ${r.scriptPath}${r.fn ? ` ${r.fn}()` : ''}`).join('\n')}\n`);
    return 1;
  }
  const target = { ...targetOf(entry, m.route), env: { ...entry.env, ...a.env } };
  const query = Object.fromEntries(url.searchParams);
  const job = { kind: 'http', id: 'local', target, route: m.route.pattern, ...req, path: url.pathname, params: m.params, query: { ...query, ...req.query } };
  const runner = await localRunner((hash) => programs.get(hash)!);
  return finish(io, runner, job);
}

/** The nearest folder at or above `dir` with a picloud.toml (the repository root of an app), else `dir`. */
function appRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, MANIFEST_PATH))) return d;
    if (path.dirname(d) === d) return dir;
  }
}

async function runFile(a: Args, io: CliIO): Promise<number> {
  const file = a.target!;
  const abs = path.resolve(io.cwd ?? process.cwd(), file);
  if (!existsSync(abs)) {
    io.stderr.write(`picloud run: no such file ${file}\n`);
    return 66;
  }
  const engine = await loadEngine();
  const compiled = engine.compile(file, readFileSync(abs, 'utf8'));
  if (!compiled.ok) {
    for (const r of compiled.rendered) io.stderr.write(`${r}\n`);
    return 65;
  }
  if (a.fn === null && compiled.functions.length > 0) {
    // program JSON v1 (the AST cache format): a script of only `fn` definitions has no top-level statements
    const statements = (JSON.parse(compiled.json) as { ast: { statements: unknown[] } }).ast.statements.length;
    if (statements === 0) {
      const list = compiled.functions.map((f) => `  ${f.name}(${f.params.join(', ')})`).join('\n');
      io.stderr.write(`picloud run: ${file} only defines functions; run one with --fn NAME:\n${list}\n`);
      return 64;
    }
  }
  if (a.fn !== null && !compiled.functions.some((f) => f.name === a.fn)) {
    io.stderr.write(`picloud run: ${file} has no function ${a.fn}${compiled.functions.length ? ` (it has ${compiled.functions.map((f) => f.name).join(', ')})` : ''}\n`);
    return 64;
  }
  // modules: `import "lib/x"` is lib/x.rhai from the repository root (--dir, else the file's picloud.toml folder)
  const root = a.dir ? path.resolve(io.cwd ?? process.cwd(), a.dir) : appRoot(path.dirname(abs));
  const mods = localModules(engine, root, abs, readFileSync(abs, 'utf8'));
  if (!mods.ok) {
    for (const p of mods.problems) io.stderr.write(`${p}\n`);
    return 65;
  }
  const c = a.ctx;
  const req = requestOf(a, '/');
  const job = {
    kind: 'http',
    id: 'local',
    target: {
      appId: 0, app: str(c.app, 'local'), branch: str(c.branch, 'main'), releaseId: 0, version: typeof c.release === 'number' ? c.release : 0,
      scriptPath: file, scriptHash: 'local', fn: a.fn, env: { ...rec(c.env), ...a.env }, limits: { ...PLATFORM_LIMITS, ...DEFAULT_APP_LIMITS },
      ...(mods.modules ? { modules: mods.modules } : {}),
      fetch: localFetchPolicy(root),
    },
    route: req.path, ...req, params: rec(c.params),
  };
  return finish(io, await localRunner((h) => (h === 'local' ? compiled.json : mods.programs.get(h)!)), job);
}

export async function runCommand(argv: string[], io: CliIO): Promise<number> {
  const a = parse(argv);
  if (a === null) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (typeof a === 'string') {
    io.stderr.write(`picloud run: ${a}\n${USAGE}`);
    return 64;
  }
  // a /PATH is a route unless it names a script (FILE.rhai, or an existing file)
  const t = a.target!;
  const isRoute = t.startsWith('/') && !t.endsWith('.rhai') && !existsSync(t);
  return isRoute ? runRoute(a, io) : runFile(a, io);
}
