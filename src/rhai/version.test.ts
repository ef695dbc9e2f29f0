/**
 * The stored program format is named by ENGINE_VERSION (version.ts). This test pins the programToJSON output of a
 * fixed corpus (every statement and expression form the parser has) per version: when the parser or the JSON
 * changes what is stored for the same source, it fails until ENGINE_VERSION is bumped and the new hash is added
 * below (old entries stay: they document what each version stored).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compile, ENGINE_VERSION, programFromJSON, programToJSON, recompileProgramJSON } from './index.ts';

/** sha256 of the corpus's stored programs, per engine version */
const GOLDEN: Record<string, string> = {
  'rhai-ts/1': 'a19ab733cc4adab7b409a17845e41a93adcaf0b81679c2f6a5020f6b87649941',
};

const CORPUS: string[] = [
  `// statements
let a = 1; const B = 2.5; let c; a += 3; a -= 1; a *= 2; a /= 2; a %= 3; a **= 2; a <<= 1; a >>= 1; a &= 7; a |= 8; a ^= 1;
if a > 1 { a } else if a < 0 { -a } else { 0 }
while a < 10 { a += 1; if a == 5 { continue; } }
loop { a -= 1; if a < 0 { break; } }
do { a += 1 } while a < 3;
do { a += 1 } until a > 5;
for x in 0..10 { a += x; }
for (x, i) in [1, 2, 3] { a += x * i; }
for x in 0..=3 { }
switch a { 1 => "one", 2 | 3 => "few", 8 if a > 100 => "many", 4..7 => "some", _ => "other" }
try { throw "e"; } catch (err) { print(err); debug(err); }
try { throw #{ code: 1 }; } catch { }
return a;`,
  `// expressions
let s = "str\\t\\u00e9"; let ch = 'x'; let r = \`interp \${s} \${1 + 2}\`;
let arr = [1, 2.0, true, (), "x", [3], #{ k: 1, "q q": 2 }];
let m = #{ a: 1, b: #{ c: [1, 2] } };
let v = arr[0] + m.b.c[1] - 3 * 4 / 5 % 6 ** 2;
let bits = 1 << 2 | 3 & 4 ^ 5 >> 1;
let logic = !true || false && (1 < 2) && 2 <= 3 && 3 >= 2 && 4 != 5 && 1 == 1;
let opt = m?.a ?? 0; let idx = arr?[0];
let f = |x, y| x + y; let g = |x| { let z = x; z * 2 }; let cap = || s.len;
let h = Fn("len"); let called = f.call(1, 2); let c2 = f(1, 2);
let ifx = if v > 0 { 1 } else { 2 }; let sw = switch v { 0 => 1, _ => 2 };
let blk = { let t = 1; t + 1 };
let neg = -v; let pos = +v; let not = !logic;
let big = 9223372036854775807; let hex = 0xff_ff; let oct = 0o17; let bin = 0b1010; let flt = 1.5e-3; let inf = 1e400;
m.a = 2; arr[1] = 3; m["b"].c[0] += 1;
s.len(); s.sub_string(1, 2); "a" in m; 1 in arr;
global::X;
is_def_var("s");
eval("1 + 1");`,
  `// functions and modules
import "lib/util" as util;
import "lib/other";
export const E = 1;
fn plain() { 1 }
fn args(a, b, c) { a + b + c }
private fn hidden(x) { x }
fn recur(n) { if n <= 1 { return 1; } n * recur(n - 1) }
fn int.double() { this * 2 }
fn handle(ctx) {
    let q = ctx.query;
    let r = util::helper(q, ctx.params["name"] ?? "world");
    let k = kv::get("key");
    kv::set("key", #{ n: (k ?? 0) + 1 });
    let res = http::fetch("http://example.com", #{ method: "POST", body: #{ a: 1 } });
    queue::send("jobs", #{ x: 1 }, #{ delay_ms: 10 });
    response(201, #{ r: r, status: res.status }, #{ "x-h": "v" })
}
fn redirecting() { redirect("/elsewhere") }
5.double();
plain()`,
];

function corpusHash(): { hash: string; programs: string[] } {
  const h = createHash('sha256');
  const programs: string[] = [];
  for (const [i, src] of CORPUS.entries()) {
    const r = compile(src, { name: `corpus/${i}.rhai` });
    if (!r.ok) throw new Error(`corpus ${i} does not compile: ${r.diagnostics.map((d) => `${d.line}:${d.position} ${d.message}`).join('; ')}`);
    const json = programToJSON(r.program);
    programs.push(json);
    h.update(json).update('\0');
  }
  return { hash: h.digest('hex'), programs };
}

describe('engine version', () => {
  it('should name the stored program format: a changed AST for the same source needs a new ENGINE_VERSION', () => {
    const { hash } = corpusHash();
    const known = GOLDEN[ENGINE_VERSION];
    const hint =
      `programToJSON of the corpus is ${hash} under ${ENGINE_VERSION}` +
      (known ? `, which stored ${known}: bump ENGINE_VERSION in src/rhai/version.ts and add '<new version>': '${hash}' to GOLDEN` : ': add it to GOLDEN');
    expect(known, hint).toBe(hash);
  });

  it('should give the same program back when a stored program is compiled again from its source', () => {
    for (const json of corpusHash().programs) expect(recompileProgramJSON(json)).toBe(json);
  });

  it('should compile the source, not the stored AST, when recompiling', () => {
    const a = compile('fn handle(ctx) { "old" }', { name: 'x.rhai' });
    const b = compile('fn handle(ctx) { "new" }', { name: 'x.rhai' });
    if (!a.ok || !b.ok) throw new Error('compile failed');
    // an AST from "another engine": the stored tree says "old", the source it carries says "new"
    const foreign = JSON.parse(programToJSON(a.program)) as { source: string };
    foreign.source = b.program.source;
    const again = recompileProgramJSON(JSON.stringify(foreign));
    expect(again).toBe(programToJSON(b.program));
    expect(programFromJSON(again).source).toContain('"new"');
  });
});
