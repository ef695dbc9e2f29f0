/**
 * Runs every code block of docs/handlers.md, the way `picloud run /PATH` runs a route: the blocks are written into
 * a throwaway app directory, built exactly as a push builds it (src/cli/local-app.ts → validate, compile, route
 * table entry), the request is routed with the live route matcher and run by the executor's Runner over an
 * in-memory KV. A block is marked by its info string:
 *
 *   ```toml picloud.toml            the manifest of the handler blocks that follow (until the next one)
 *   ```rhai module PATH             a module file, available to the blocks that follow (`import "lib/x" as x;`)
 *   ```rhai handler FILE METHOD PATH [route=PATTERN] [fn=NAME] [body=TEXT]
 *                                   a handler script, requested as METHOD PATH; without a manifest naming FILE,
 *                                   one route for it is generated (path = PATTERN or PATH, method, function)
 *   ```rhai                         a snippet: run as the whole-script handler of `GET /`
 *   … [needs=modules|http|queue]    needs that feature (http: a loopback upstream is started); a missing one fails,
 *                                   never skipped
 *
 * and checked against its own comments: `// prints: TEXT` (each print line, in order), `// response: STATUS BODY`
 * (the HTTP response), `// error: TEXT` (the push rejects the block, or the request fails, with TEXT in the error).
 * A block without `// error:` must run without error. Any other fence fails the test, so every block is run.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLocalApp } from '../../src/cli/local-app.ts';
import { Runner, type HostBridge } from '../../src/executor/run.ts';
import { Fetcher } from '../../src/executor/fetch.ts';
import { matchRoute, targetOf } from '../../src/orchestrator/route-table.ts';
import type { InvocationJob } from '../../src/queue/jobs.ts';
import { memoryKv } from '../../src/db/kv-memory.ts';
import type { Engine } from '../../src/rhai/index.ts';

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/handlers.md');

interface Block {
  line: number;
  lang: string;
  words: string[];
  attrs: Record<string, string>;
  code: string;
}

function blocksOf(md: string): Block[] {
  const out: Block[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    const info = open[1]!.trim().split(/\s+/).filter(Boolean);
    const attrs: Record<string, string> = {};
    const words: string[] = [];
    for (const w of info.slice(1)) {
      const m = /^(route|fn|body|needs)=(.*)$/.exec(w);
      if (m) attrs[m[1]!] = m[2]!;
      else words.push(w);
    }
    out.push({ line: start + 1, lang: info[0] ?? '', words, attrs, code: body.join('\n') + '\n' });
  }
  return out;
}

const annotations = (code: string, tag: string): string[] =>
  [...code.matchAll(new RegExp(`//\\s*${tag}:\\s?(.*)$`, 'gm'))].map((m) => m[1]!.trimEnd());

interface Request {
  method: string;
  path: string;
  route: string;
  fn: string | null;
  body: string;
}

interface Outcome {
  problems: string[] | null;
  status: number;
  body: string;
  error: string | null;
  prints: string[];
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Write the app, build it as a push would, route the request and run it on the executor's Runner. */
async function runApp(files: Map<string, string>, manifest: string, req: Request): Promise<Outcome> {
  const dir = mkdtempSync(path.join(tmpdir(), 'picloud-handlers-doc-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'picloud.toml'), manifest);
  for (const [p, src] of files) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), src);
  }
  const built = await buildLocalApp(dir, { app: 'docs' });
  if (!built.ok) return { problems: built.problems, status: 0, body: '', error: null, prints: [] };
  const { entry, programs } = built.app;
  const url = new URL(req.path, 'http://local');
  const segs = url.pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  const m = matchRoute(entry.routes, req.method, segs);
  if (m.kind !== 'ok') throw new Error(`${req.method} ${url.pathname} matches no route of the block's app (${m.kind})`);
  let jobs = 0;
  const bridge: HostBridge = {
    loadAst: async (hash) => programs.get(hash)!,
    queueSend: async () => ({ id: String(++jobs), durable: Promise.resolve() }),
    kv: memoryKv(),
  };
  const headers: Record<string, string> = req.body ? { 'content-type': 'application/json' } : {};
  const job: InvocationJob = {
    kind: 'http', id: 'doc', target: targetOf(entry, m.route), route: m.route.pattern, method: req.method,
    path: url.pathname, params: m.params, query: Object.fromEntries(url.searchParams),
    headers, body: req.body,
  };
  const fetcher = new Fetcher({ userAgent: 'PiCloud/docs' });
  const r = await new Runner({ bridge, fetcher }).run(job).finally(() => fetcher.close());
  return { problems: null, status: r.status, body: r.body, error: r.error, prints: r.logs.filter((l) => l.level === 'print').map((l) => l.msg) };
}

/**
 * Examples that fetch keep their URLs in `[env]`: here they point at a service on loopback (tests never send
 * traffic anywhere else), which `[fetch] allow` lets the app reach.
 */
async function withLocalService(code: string, toml: string, run: (toml: string) => Promise<Outcome>): Promise<Outcome> {
  if (/https?:\/\//.test(code)) throw new Error('an http::fetch example must read its URL from ctx.env, not a literal');
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"temp":21}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const local = toml.replace(/https?:\/\/[^"\s]+/g, (u) => `http://127.0.0.1:${port}${new URL(u).pathname}`);
    return await run(`${local}\n[fetch]\nallow = ["127.0.0.1:${port}"]\n`);
  } finally {
    server.close();
  }
}

function routeToml(file: string, req: Request): string {
  return [
    '[[routes]]',
    `path = ${JSON.stringify(req.route)}`,
    `method = ${JSON.stringify(req.method)}`,
    `script = ${JSON.stringify(file)}`,
    ...(req.fn ? [`function = ${JSON.stringify(req.fn)}`] : []),
    '',
  ].join('\n');
}

/** Which optional features does this build's executor provide? */
async function features(): Promise<Record<string, boolean>> {
  const runner = new Runner({ bridge: {} as HostBridge });
  const limits = { maxOperations: 1, timeoutMs: 1, maxBodyBytes: 1, maxStringSize: 1, maxArraySize: 1, maxMapSize: 1, maxCallLevels: 1 };
  const modules = (runner as unknown as { engineFor(l: typeof limits): Engine }).engineFor(limits).describeFunctions().modules;
  const probe = await runApp(
    new Map([['lib/probe.rhai', 'fn answer() { 42 }\n'], ['h.rhai', 'import "lib/probe" as p;\np::answer()\n']]),
    routeToml('h.rhai', { method: 'GET', path: '/', route: '/', fn: null, body: '' }),
    { method: 'GET', path: '/', route: '/', fn: null, body: '' },
  );
  return { http: 'http' in modules, queue: 'queue' in modules, modules: probe.problems === null && probe.status === 200 && probe.body === '42' };
}

const md = readFileSync(DOC, 'utf8');
const blocks = blocksOf(md);
const feat = await features();

describe('docs/handlers.md', () => {
  it('should mark every code block as toml picloud.toml, rhai, rhai handler or rhai module', () => {
    const bad = blocks.filter(
      (b) => !((b.lang === 'toml' && b.words[0] === 'picloud.toml') || (b.lang === 'rhai' && (b.words.length === 0 || b.words[0] === 'handler' || b.words[0] === 'module'))),
    );
    expect(bad.map((b) => `line ${b.line}: \`\`\`${b.lang} ${b.words.join(' ')}`)).toEqual([]);
    expect(blocks.length).toBeGreaterThan(20);
  });

  const modules = new Map<string, string>();
  const handlers = new Map<string, string>();
  let manifest: { text: string; used: boolean; line: number } | null = null;
  const unusedManifests: number[] = [];
  for (const b of blocks) {
    if (b.lang === 'toml') {
      if (manifest && !manifest.used) unusedManifests.push(manifest.line);
      manifest = { text: b.code, used: false, line: b.line };
      continue;
    }
    if (b.words[0] === 'module') {
      modules.set(b.words[1]!, b.code);
      continue;
    }
    const isHandler = b.words[0] === 'handler';
    const file = isHandler ? b.words[1]! : 'snippet.rhai';
    const req: Request = isHandler
      ? { method: b.words[2] ?? 'GET', path: b.words[3] ?? '/', route: b.attrs.route ?? (b.words[3] ?? '/').split('?')[0]!, fn: b.attrs.fn ?? null, body: b.attrs.body ?? '' }
      : { method: 'GET', path: '/', route: '/', fn: null, body: '' };
    const prints = annotations(b.code, 'prints');
    const responses = annotations(b.code, 'response');
    const errors = annotations(b.code, 'error');
    // a failing example is not kept for the blocks after it (its push would fail theirs)
    if (isHandler && !errors.length) handlers.set(file, b.code);
    const files = new Map([...modules, ...(isHandler ? handlers : []), [file, b.code]]);
    let toml = routeToml(file, req);
    if (isHandler && manifest && manifest.text.includes(JSON.stringify(file))) {
      toml = manifest.text;
      manifest.used = true;
    }
    const need = b.attrs.needs;
    const title = `line ${b.line}: ${isHandler ? `${file} ${req.method} ${req.path}` : 'snippet'}`;
    if (need && !feat[need]) {
      // every feature the guide describes is part of the platform: a missing one fails, it is never skipped
      it(title, () => {
        throw new Error(`the guide's block needs ${need}, which the executor does not provide`);
      });
      continue;
    }
    it(title, async () => {
      const o = need === 'http' ? await withLocalService(b.code, toml, (t) => runApp(files, t, req)) : await runApp(files, toml, req);
      if (errors.length) {
        const text = o.problems ? o.problems.join('\n') : `${o.body}\n${o.error ?? ''}`;
        expect(o.problems !== null || o.status >= 500, `expected the block to fail, got ${o.status} ${o.body}`).toBe(true);
        for (const e of errors) expect(text).toContain(e);
      } else {
        expect(o.problems, 'the push rejects the block').toBeNull();
        expect(o.error, `the block failed: ${o.body}`).toBeNull();
      }
      expect(o.prints).toEqual(prints);
      if (responses.length) expect(`${o.status} ${o.body}`.trimEnd()).toBe(responses[responses.length - 1]);
    });
  }

  it('should use every picloud.toml block for a handler block', () => {
    if (manifest && !manifest.used) unusedManifests.push(manifest.line);
    expect(unusedManifests).toEqual([]);
  });
});
