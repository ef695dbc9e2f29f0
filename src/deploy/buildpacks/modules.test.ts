import { describe, expect, test } from 'vitest';
import { modulePath, resolveModules } from './modules.ts';

function tree(files: Record<string, string>) {
  const sources = new Map(Object.entries(files));
  const modes = new Map(Object.keys(files).map((p) => [p, '100644']));
  const hashOf = new Map(Object.keys(files).map((p) => [p, `h:${p}`]));
  return { sources, modes, hashOf };
}

describe('resolveModules', () => {
  test('maps each script to the modules it reaches, transitively, by import path', () => {
    const r = resolveModules(
      tree({
        'a.rhai': 'import "lib/util" as u;\nfn handle(ctx) { import "lib/x" as x; u::f() }',
        'b.rhai': '// import "nope" in a comment\nlet s = "import \\"nope\\"";\nimport "lib/util" as u; u::f()',
        'lib/util.rhai': 'import "lib/deep" as d; fn f() { d::g() }',
        'lib/deep.rhai': 'fn g() { 1 }',
        'lib/x.rhai': 'export const X = 1;',
        'plain.rhai': '1 + 1',
      }),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.modules).toEqual({
      'a.rhai': { 'lib/util': 'h:lib/util.rhai', 'lib/x': 'h:lib/x.rhai', 'lib/deep': 'h:lib/deep.rhai' },
      'b.rhai': { 'lib/util': 'h:lib/util.rhai', 'lib/deep': 'h:lib/deep.rhai' },
      'lib/util.rhai': { 'lib/deep': 'h:lib/deep.rhai' },
    });
  });

  test('missing modules, computed paths, escapes and cycles are problems at the import', () => {
    const r = resolveModules(
      tree({
        'main.rhai': 'let x = 1;\n  import "lib/missing" as m;\nimport "lib/util.rhai" as u;\nimport "lib/" + "x" as y;\nimport "../up" as z;',
        'c1.rhai': 'import "c2" as c;',
        'c2.rhai': '\n\nimport "c1" as c;',
        'self.rhai': 'import "self" as me;',
      }),
    );
    expect(r.diagnostics.map((d) => `${d.path}:${d.line}:${d.col}: ${d.message}`)).toEqual([
      'main.rhai:2:3: module "lib/missing" not found: lib/missing.rhai is not in the pushed tree',
      'main.rhai:3:1: module "lib/util.rhai" not found: lib/util.rhai.rhai is not in the pushed tree (the .rhai extension is implied: import "lib/util")',
      'main.rhai:4:1: import path must be a string literal: modules are resolved when the app is pushed',
      'main.rhai:5:1: import path "../up" escapes the repository ("..")',
      'c2.rhai:3:1: import cycle: c1.rhai → c2.rhai → c1.rhai',
      'self.rhai:1:1: import cycle: self.rhai → self.rhai',
    ]);
    expect(r.diagnostics[0]!.rendered).toBe('main.rhai:2:3: module "lib/missing" not found: lib/missing.rhai is not in the pushed tree\n  import "lib/missing" as m;\n  ^');
  });

  test('modulePath', () => {
    expect(modulePath('lib/util')).toEqual({ file: 'lib/util.rhai' });
    expect(modulePath('./lib//util')).toEqual({ file: 'lib/util.rhai' });
    expect(modulePath('/etc/x')).toHaveProperty('problem');
  });
});
