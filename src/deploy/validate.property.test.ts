/**
 * Property tests of the push validation on large generated input (issue 8): manifests and trees are checked in
 * time linear in their size, diagnostics are capped (100 shown, then "and N more") without building the rest,
 * and a tree over the count or size limit is rejected while it is listed (a git tree: ls-tree is stopped there),
 * before any file is read.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuMs, expectLinear } from '../../test/helpers/scaling.ts';
import { capProblems, MAX_SHOWN_DIAGNOSTICS, renderDiagnostic } from './diagnostics.ts';
import { loadEngine } from './engine.ts';
import { parseManifest } from './manifest.ts';
import { gitTreeSource, validateTreeHere, type TreeSource } from './validate.ts';

const routes = (n: number, path: (i: number) => string) => {
  let s = '';
  for (let i = 0; i < n; i++) s += `[[routes]]\npath = "${path(i)}"\nscript = "a.rhai"\n`;
  return s;
};

/** An in-memory tree that counts the files read. */
function memoryTree(files: [string, string][], counters = { read: 0 }): TreeSource {
  const texts = new Map(files);
  return {
    files: files.map(([path, text]) => ({ path, mode: '100644', size: Buffer.byteLength(text) })),
    async read(wanted) {
      counters.read += wanted.length;
      return new Map(wanted.map((f) => [f.path, Buffer.from(texts.get(f.path)!)]));
    },
  };
}

describe('manifest checks on large input', { timeout: 60_000 }, () => {
  it('should check distinct routes in linear time', () => {
    expectLinear(parseManifest, (n) => routes(n, (i) => `/r${i}/:id`), 1_500);
  });

  it('should check conflicting routes in linear time', () => {
    expectLinear(parseManifest, (n) => routes(n, () => '/same'), 1_500);
  });

  it('should answer 20,000 routes (the reported 204 s case) within seconds', () => {
    const src = routes(20_000, (i) => `/r${i}`);
    let r: ReturnType<typeof parseManifest> | null = null;
    expect(cpuMs(() => (r = parseManifest(src)))).toBeLessThan(5_000);
    expect(r!.diagnostics).toEqual([]);
    expect(r!.manifest!.routes).toHaveLength(20_000);
  });

  it('should keep 100 diagnostics of 5,000 copies of one route and count the rest', () => {
    const r = parseManifest(routes(5_000, () => '/same'));
    // each copy conflicts with the first declaration: 4,999 problems, not 12.5 million pairs
    expect(r.diagnostics).toHaveLength(MAX_SHOWN_DIAGNOSTICS);
    expect(r.more).toBe(4_999 - MAX_SHOWN_DIAGNOSTICS);
    expect(r.diagnostics[0]!.message).toBe('route GET /same conflicts with the route /same declared at line 2');
  });

  it('should still report each overlapping method pair once per later route', () => {
    const src = `${routes(1, () => '/a/:x')}[[routes]]\npath = "/a/:y"\nmethod = "POST"\nscript = "a.rhai"\n[[routes]]\npath = "/a/:z"\nmethod = "*"\nscript = "a.rhai"\n`;
    expect(parseManifest(src).diagnostics.map((d) => `${d.line}: ${d.message}`)).toEqual([
      '9: route GET /a/:z conflicts with the route /a/:x declared at line 2',
      '9: route POST /a/:z conflicts with the route /a/:y declared at line 5',
    ]);
  });
});

describe('diagnostics', () => {
  it('should close a capped list with "and N more"', () => {
    const many = Array.from({ length: 250 }, (_, i) => `p${i}`);
    const capped = capProblems(many, 7);
    expect(capped).toHaveLength(MAX_SHOWN_DIAGNOSTICS + 1);
    expect(capped.at(-1)).toMatch(/^\.\.\. and 157 more problems/);
    expect(capProblems(['a'])).toEqual(['a']);
  });

  it('should show a window of a long source line around the caret', () => {
    const line = 'x'.repeat(500_000);
    const r = renderDiagnostic({ path: 'a.rhai', line: 1, col: 250_000, message: 'bad' }, line);
    const [, text, caret] = r.split('\n');
    expect(text!.length).toBeLessThan(300);
    expect(text!.startsWith('…') && text!.endsWith('…')).toBe(true);
    expect(caret!.length).toBe(122);
  });
});

describe('tree checks on large input', { timeout: 60_000 }, () => {
  it('should reject a tree over the file limit while listing it, reading nothing', async () => {
    const files: [string, string][] = [['picloud.toml', routes(1, () => '/')]];
    for (let i = 0; i < 500_000; i++) files.push([`f/${i}`, 'x']);
    const counters = { read: 0 };
    const r = await validateTreeHere(memoryTree(files, counters), { engine: null });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['.:1:1: the tree has more than 2000 files, over the limit of 2000 (the push was stopped there; no file was read)']);
    expect(counters.read).toBe(0);
  });

  it('should stop listing a git tree at the first file over the limit', async () => {
    // a commit of 100,000 files, written with one git fast-import
    const dir = mkdtempSync(path.join(tmpdir(), 'picloud-tree-'));
    try {
      execFileSync('git', ['init', '-q', '--bare', dir]);
      let script = 'blob\nmark :1\ndata 1\nx\ncommit refs/heads/main\ncommitter t <t@t> 0 +0000\ndata 1\nc\n';
      for (let i = 0; i < 100_000; i++) script += `M 100644 :1 d${i % 100}/f${i}\n`;
      execFileSync('git', ['fast-import', '--quiet'], { cwd: dir, input: script, env: { ...process.env, GIT_DIR: dir } });
      const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_DIR: dir };
      const t0 = process.cpuUsage();
      const tree = await gitTreeSource('refs/heads/main', env);
      const d = process.cpuUsage(t0);
      expect(tree.files).toHaveLength(2_000);
      expect(tree.over?.message).toMatch(/^the tree has more than 2000 files/);
      expect((d.user + d.system) / 1000).toBeLessThan(1_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should validate a tree in time linear in its number of files', async () => {
    const engine = await loadEngine();
    const tree = (n: number) => {
      const files: Record<string, string> = { 'picloud.toml': routes(n, (i) => `/r${i}`).replaceAll('a.rhai', 's.rhai') };
      files['s.rhai'] = 'fn handle(ctx) { 1 }';
      for (let i = 0; i < n; i++) files[`lib/${i}.rhai`] = `fn f${i}(x) { x + ${i} }`;
      return files;
    };
    // validateTreeHere is async but never waits on I/O here (memory tree): run it to completion synchronously
    const timeOf = async (n: number) => {
      const t0 = process.cpuUsage();
      const r = await validateTreeHere(memoryTree(Object.entries(tree(n))), { engine });
      expect(r.ok).toBe(true);
      const d = process.cpuUsage(t0);
      return (d.user + d.system) / 1000;
    };
    await timeOf(100);
    const small = Math.min(await timeOf(250), await timeOf(250), await timeOf(250));
    const large = Math.min(await timeOf(1_000), await timeOf(1_000), await timeOf(1_000));
    expect(large).toBeLessThan(Math.max(8 * small, small + 80));
  });
});
