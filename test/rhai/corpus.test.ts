/**
 * Golden corpus runner (style guide 3.10): every `test/rhai/cases/<topic>/*.rhai` file carries its expectations
 * in comments, Lox style:
 *   `// expect: TEXT`                 a printed line (in order)
 *   `// expect runtime error: MSG`    the run fails with this message; `\n` in MSG is a newline. Without a
 *                                     `(line L, position P)` suffix only the text and the comment's line are checked
 *   `// expect compile error: MSG`    the first diagnostic (same suffix rule); `// [line N] expect …` overrides the line
 *   `// expect result: TEXT`          the script's value in debug form
 *   `// limits: {json}`               engine limits for this case
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Engine, RhaiError, compile, toDebug, type Limits } from '../../src/rhai/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), 'cases');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : n.endsWith('.rhai') ? [p] : [];
  });
}

interface Expectations {
  prints: string[];
  runtime?: { msg: string; line: number };
  compile?: { msg: string; line: number };
  result?: string;
  limits: Partial<Limits>;
}

function parseExpectations(src: string): Expectations {
  const e: Expectations = { prints: [], limits: {} };
  src.split('\n').forEach((text, i) => {
    let line = i + 1;
    const m = /\/\/\s*(?:\[line (\d+)\]\s*)?(expect(?: runtime error| compile error| result)?|limits):\s?(.*)$/.exec(text);
    if (!m) return;
    if (m[1]) line = Number(m[1]);
    const body = m[3]!.replace(/\\n/g, '\n');
    switch (m[2]) {
      case 'expect':
        e.prints.push(body);
        break;
      case 'expect runtime error':
        e.runtime = { msg: body, line };
        break;
      case 'expect compile error':
        e.compile = { msg: body, line };
        break;
      case 'expect result':
        e.result = body;
        break;
      case 'limits':
        e.limits = JSON.parse(body) as Partial<Limits>;
    }
  });
  if (e.runtime && e.compile) throw new Error('a case expects either compile errors or a runtime error, not both');
  return e;
}

const hasPos = (msg: string): boolean => /\(line \d+, position \d+\)$/.test(msg.split('\n')[0]!) || /\(line \d+, position \d+\)$/.test(msg);

describe('rhai golden corpus', () => {
  for (const file of files(ROOT)) {
    it(relative(ROOT, file), () => {
      const src = readFileSync(file, 'utf8');
      const exp = parseExpectations(src);
      const r = compile(src, { name: relative(ROOT, file) });
      if (exp.compile) {
        expect(r.ok, 'expected a compile error').toBe(false);
        if (r.ok) return;
        const d = r.diagnostics[0]!;
        if (hasPos(exp.compile.msg)) expect(`${d.message} (line ${d.line}, position ${d.position})`).toBe(exp.compile.msg);
        else {
          expect(d.message).toBe(exp.compile.msg);
          expect(d.line).toBe(exp.compile.line);
        }
        return;
      }
      if (!r.ok) throw new Error(`unexpected compile error: ${r.diagnostics[0]!.message} (line ${r.diagnostics[0]!.line})`);
      const out: string[] = [];
      const engine = new Engine({ limits: exp.limits, onPrint: (s) => out.push(s) });
      let value: unknown;
      let error: RhaiError | undefined;
      try {
        value = engine.run(r.program);
      } catch (e) {
        expect(e).toBeInstanceOf(RhaiError);
        error = e as RhaiError;
      }
      expect(out).toEqual(exp.prints);
      if (exp.runtime) {
        expect(error, 'expected a runtime error').toBeDefined();
        if (hasPos(exp.runtime.msg)) expect(error!.fullMessage).toBe(exp.runtime.msg);
        else {
          expect(error!.text).toBe(exp.runtime.msg);
          expect(error!.pos?.line).toBe(exp.runtime.line);
        }
      } else if (error) throw error;
      if (exp.result !== undefined) expect(toDebug(value as never)).toBe(exp.result);
    });
  }
});
