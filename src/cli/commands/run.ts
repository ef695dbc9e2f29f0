/**
 * `picloud run FILE.rhai [--ctx JSON] [--fn NAME] [--env K=V]…`: run one script locally, the way an executor
 * would (same ctx builder, host functions and response mapping from src/executor), with an in-memory KV.
 * Prints the response body to stdout and status, headers and print/debug lines to stderr.
 * Exit 0 for a 2xx/3xx response, 1 otherwise, 65 when the script does not compile.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_APP_LIMITS, PLATFORM_LIMITS } from '../../common/config.ts';
import { loadEngine } from '../../deploy/engine.ts';
import type { CliIO } from '../client/io.ts';

interface RunnerLike {
  run(job: unknown): { status: number; headers: Record<string, string>; body: string; logs: { level: string; msg: string }[]; error: string | null };
}

export async function runCommand(argv: string[], io: CliIO): Promise<number> {
  let file: string | undefined;
  let ctxJson = '{}';
  let fn: string | null = null;
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--ctx') ctxJson = argv[++i] ?? '';
    else if (a === '--fn') fn = argv[++i] ?? null;
    else if (a === '--env') {
      const kv = argv[++i] ?? '';
      const eq = kv.indexOf('=');
      if (eq < 1) return usage(io, '--env needs KEY=VALUE');
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === '-h' || a === '--help') return usage(io, null);
    else if (!a.startsWith('-') && !file) file = a;
    else return usage(io, `unexpected argument ${a}`);
  }
  if (!file) return usage(io, 'FILE.rhai is required');
  let ctx: Record<string, unknown>;
  try {
    ctx = JSON.parse(ctxJson) as Record<string, unknown>;
    if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)) throw new Error('not an object');
  } catch (e) {
    return usage(io, `--ctx must be a JSON object (${(e as Error).message})`);
  }
  const abs = path.resolve(io.cwd ?? process.cwd(), file);
  const source = readFileSync(abs, 'utf8');
  const engine = await loadEngine();
  const compiled = engine.compile(file, source);
  if (!compiled.ok) {
    for (const r of compiled.rendered) io.stderr.write(`${r}\n`);
    return 65;
  }
  const { Runner } = (await import('../../executor/run.ts')) as unknown as { Runner: new (bridge: unknown) => RunnerLike };
  const kv = new Map<string, string>();
  const runner = new Runner({
    loadAst: () => compiled.json,
    kv: (_ns: unknown, op: string, key: string, json?: string) => {
      if (op === 'get') return kv.get(key) ?? null;
      if (op === 'set') return void kv.set(key, json!);
      if (op === 'delete') return kv.delete(key);
      return [...kv.keys()].filter((k) => k.startsWith(key)).sort();
    },
  });
  const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
  const rec = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {});
  const body = typeof ctx.body === 'string' ? ctx.body : ctx.json !== undefined ? JSON.stringify(ctx.json) : '';
  const job = {
    kind: 'http',
    id: 'local',
    target: {
      appId: 0,
      app: str(ctx.app, 'local'),
      branch: str(ctx.branch, 'main'),
      releaseId: 0,
      version: typeof ctx.release === 'number' ? ctx.release : 0,
      scriptPath: file,
      scriptHash: 'local',
      fn,
      env: { ...rec(ctx.env), ...env },
      limits: { ...PLATFORM_LIMITS, ...DEFAULT_APP_LIMITS },
    },
    route: str(ctx.path, '/'),
    method: str(ctx.method, 'GET').toUpperCase(),
    path: str(ctx.path, '/'),
    params: rec(ctx.params),
    query: rec(ctx.query),
    headers: Object.fromEntries(Object.entries(rec(ctx.headers)).map(([k, v]) => [k.toLowerCase(), String(v)])),
    body,
  };
  const r = runner.run(job);
  for (const l of r.logs) io.stderr.write(`[${l.level}] ${l.msg}\n`);
  io.stderr.write(`${r.status}\n${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`);
  if (r.error) io.stderr.write(`error: ${r.error}\n`);
  io.stdout.write(r.body.endsWith('\n') || r.body === '' ? r.body : `${r.body}\n`);
  return r.status < 400 ? 0 : 1;
}

function usage(io: CliIO, problem: string | null): number {
  if (problem) io.stderr.write(`picloud run: ${problem}\n`);
  (problem ? io.stderr : io.stdout).write('usage: picloud run FILE.rhai [--ctx JSON] [--fn NAME] [--env KEY=VALUE]…\n');
  return problem ? 64 : 0;
}
