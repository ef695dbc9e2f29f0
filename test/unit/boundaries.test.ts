/**
 * Import-direction rules (architecture.md §7, style.md §3.3), checked by reading the import specifiers:
 * - src/rhai imports nothing outside src/rhai and no packages (not even node: builtins);
 * - other folders import rhai only through src/rhai/index.ts, or src/rhai/version.ts for ENGINE_VERSION alone (a
 *   constant with no imports: an executor's main thread checks stored programs against it without loading the
 *   interpreter, executor/programs.ts);
 * - nothing imports src/cli; the orchestrator never imports rhai.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const src = path.join(root, 'src');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|js)$/.test(f) ? [p] : [];
  });
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) out.push((m[1] ?? m[2])!);
  return out;
}

const files = walk(src).filter((f) => !f.endsWith('.test.ts'));
const rel = (f: string) => path.relative(src, f).split(path.sep).join('/');
const resolveSpec = (from: string, spec: string) => rel(path.resolve(path.dirname(from), spec));

describe('import boundaries', () => {
  it('should keep src/rhai a leaf: no imports outside it, no packages', () => {
    const bad: string[] = [];
    for (const f of files.filter((f) => rel(f).startsWith('rhai/'))) {
      for (const spec of importsOf(f)) {
        if (!spec.startsWith('.')) bad.push(`${rel(f)} imports package ${spec}`);
        else if (!resolveSpec(f, spec).startsWith('rhai/')) bad.push(`${rel(f)} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('should import rhai only through src/rhai/index.ts (or version.ts), never from the orchestrator, and never import cli', () => {
    const bad: string[] = [];
    for (const f of files.filter((f) => !rel(f).startsWith('rhai/'))) {
      for (const spec of importsOf(f).filter((s) => s.startsWith('.'))) {
        const target = resolveSpec(f, spec);
        if (target.startsWith('rhai/') && target !== 'rhai/index.ts' && target !== 'rhai/version.ts') bad.push(`${rel(f)} imports ${spec}`);
        if (target.startsWith('rhai/') && rel(f).startsWith('orchestrator/')) bad.push(`${rel(f)} (orchestrator) imports rhai`);
        if (target.startsWith('cli/') && !rel(f).startsWith('cli/')) bad.push(`${rel(f)} imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
    // the second entry stays a constant: importing it must not load the interpreter
    expect(importsOf(path.join(root, 'src/rhai/version.ts'))).toEqual([]);
  });
});
