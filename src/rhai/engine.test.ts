import { describe, expect, it } from 'vitest';
import {
  Engine,
  FnPtr,
  RFloat,
  RhaiError,
  compile,
  fromJSON,
  programFromJSON,
  programToJSON,
  toJSON,
  type Program,
  type Value,
} from './index.ts';

function prog(src: string): Program {
  const r = compile(src);
  if (!r.ok) throw new Error(r.diagnostics[0]!.message);
  return r.program;
}

function runErr(engine: Engine, src: string, scope?: Record<string, Value>): RhaiError {
  try {
    engine.run(prog(src), scope);
  } catch (e) {
    expect(e).toBeInstanceOf(RhaiError);
    return e as RhaiError;
  }
  throw new Error('expected an error');
}

describe('compile', () => {
  it('returns a program with its functions', () => {
    const p = prog('fn add(a, b) { a + b } fn one() { 1 } add(1, 2)');
    expect(p.functions).toEqual([
      { name: 'add', params: ['a', 'b'] },
      { name: 'one', params: [] },
    ]);
  });
  it('returns diagnostics with line and position in characters', () => {
    const r = compile('let s = "é😃";\nlet = 1;');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics[0]).toMatchObject({ code: 'VariableExpected', message: 'Expecting name of a variable', line: 2, position: 5 });
  });
  it('honours parse-time limits and options', () => {
    expect(compile('1 + 2', { expression: true }).ok).toBe(true);
    expect(compile('let x = 1;', { expression: true }).ok).toBe(false);
    expect(compile('x', { options: { strictVariables: true } }).ok).toBe(false);
  });
});

describe('Engine.run', () => {
  const engine = new Engine();
  it('evaluates to the last statement', () => {
    expect(engine.run(prog('40 + 2'))).toBe(42);
    expect(engine.eval('let x = [1, 2]; x.push(3); x')).toEqual([1, 2, 3]);
  });
  it('reads and writes host scope variables', () => {
    const scope: Record<string, Value> = { n: 41, name: 'x' };
    expect(engine.run(prog('n += 1; `${name}=${n}`'), scope)).toBe('x=42');
    expect(scope['n']).toBe(42);
  });
  it('routes print and debug to the host', () => {
    const out: string[] = [];
    const dbg: [string, unknown][] = [];
    const e = new Engine({ onPrint: (s) => out.push(s), onDebug: (s, p) => dbg.push([s, p]) });
    e.eval('print("hi"); print(1.0); debug("x")');
    expect(out).toEqual(['hi', '1.0']);
    expect(dbg).toEqual([['"x"', { line: 1, position: 26 }]]);
  });
  it('raises RhaiError with kind and position', () => {
    const err = runErr(engine, 'let a = 1;\nlet b = a / 0;');
    expect(err.kind).toBe('ErrorArithmetic');
    expect(err.pos).toEqual({ line: 2, position: 11 });
    expect(err.fullMessage).toBe('Division by zero: 1 / 0 (line 2, position 11)');
  });
  it('wraps errors inside functions in ErrorInFunctionCall', () => {
    const err = runErr(engine, 'fn f() { throw 42; }\nf()');
    expect(err.kind).toBe('ErrorInFunctionCall');
    expect(err.root.kind).toBe('ErrorRuntime');
    expect(err.root.extra.thrown).toBe(42);
    expect(err.fullMessage).toBe("Runtime error: 42 (line 1, position 10)\nin call to function 'f' (line 2, position 1)");
  });
});

describe('limits', () => {
  it('stops runaway loops with max operations', () => {
    const e = new Engine({ limits: { maxOperations: 1000 } });
    expect(runErr(e, 'loop {}').kind).toBe('ErrorTooManyOperations');
    expect(runErr(e, 'try { loop {} } catch { 1 }').kind).toBe('ErrorTooManyOperations');
  });
  it('lets the host terminate through onProgress', () => {
    let calls = 0;
    const e = new Engine({ onProgress: () => ++calls > 3 });
    expect(runErr(e, 'let x = 0; while true { x += 1 }').kind).toBe('ErrorTerminated');
    expect(calls).toBe(4);
  });
  it('limits call depth, string, array and map sizes', () => {
    const e = new Engine({ limits: { maxCallLevels: 10, maxStringSize: 8, maxArraySize: 5, maxMapSize: 3 } });
    expect(runErr(e, 'fn f(n) { f(n + 1) } f(0)').kind).toBe('ErrorStackOverflow');
    expect(runErr(e, 'let s = "12345"; s += "6789";').kind).toBe('ErrorDataTooLarge');
    expect(runErr(e, 'let s = "éééé"; s += "é";').kind).toBe('ErrorDataTooLarge');
    expect(runErr(e, 'let a = [1, 2, 3]; a += [4, 5, 6];').kind).toBe('ErrorDataTooLarge');
    expect(runErr(e, 'let m = #{a: 1, b: 2, c: 3}; m.d = 4;').kind).toBe('ErrorDataTooLarge');
  });
  it('turns a native stack overflow into ErrorStackOverflow', () => {
    const e = new Engine({ limits: { maxCallLevels: 1_000_000 } });
    expect(runErr(e, 'fn f(n) { 1 + f(n + 1) } f(0)').kind).toBe('ErrorStackOverflow');
  });
});

describe('host functions and modules', () => {
  it('registers native functions with overloads and mutation', () => {
    const e = new Engine()
      .registerFn('double', ['int'], (_c, [x]) => (x as number) * 2)
      .registerFn('double', ['string'], (_c, [x]) => `${x as string}${x as string}`)
      .registerFn('bump', ['int'], (_c, args) => void (args[0] = (args[0] as number) + 1), { pure: false });
    expect(e.eval('double(21)')).toBe(42);
    expect(e.eval('"ab".double()')).toBe('abab');
    expect(e.eval('let x = 1; x.bump(); x')).toBe(2);
    expect(runErr(e, 'const C = 1; C.bump()').kind).toBe('ErrorNonPureMethodCallOnConstant');
  });
  it('registers static modules called as ns::fn', () => {
    const store = new Map<string, Value>();
    const e = new Engine().registerModule('kv', {
      set: { params: ['string', 'any'], fn: (_c, [k, v]) => void store.set(k as string, v) },
      get: { params: ['string'], fn: (_c, [k]) => store.get(k as string) },
    });
    expect(e.eval('kv::set("a", 42); kv::get("a") + 1')).toBe(43);
    expect(runErr(e, 'nope::get("a")').kind).toBe('ErrorModuleNotFound');
  });
  it('lets natives call back into script closures', () => {
    const e = new Engine().registerFn('apply', ['fnptr', 'any'], (ctx, [f, x]) => ctx.callFn(f as FnPtr, [x]));
    expect(e.eval('let k = 10; apply(|x| x + k, 32)')).toBe(42);
  });
  it('converts host exceptions from natives into engine errors', () => {
    const e = new Engine().registerFn('boom', [], () => {
      throw new TypeError('host bug');
    });
    const err = runErr(e, 'boom()');
    expect(err).toBeInstanceOf(RhaiError);
  });
});

describe('callFn and program JSON', () => {
  it('calls a named function after running the top level', () => {
    const p = prog('const BASE = 40; fn handler(req) { global::BASE + req.n } print("init");');
    const out: string[] = [];
    const e = new Engine({ onPrint: (s) => out.push(s) });
    expect(e.callFn(p, 'handler', [fromJSON({ n: 2 })])).toBe(42);
    expect(out).toEqual(['init']);
    // without evaluating the top level, the global constant is not defined
    expect(() => e.callFn(p, 'handler', [fromJSON({ n: 1 })], undefined, { evalAst: false })).toThrow(RhaiError);
  });
  it('round-trips a program through JSON without re-parsing', () => {
    const p = prog('fn sq(x) { x * x } let a = [1, 2, 3]; a.map(sq)');
    const q = programFromJSON(programToJSON(p));
    expect(q.source).toBe(p.source);
    expect(new Engine().run(q)).toEqual([1, 4, 9]);
  });
});

describe('fromJSON / toJSON', () => {
  it('maps JSON values to Rhai values and back', () => {
    const v = fromJSON({ a: 1, b: [1.5, 'x', null, true], c: { d: 2 } });
    expect(v).toBeInstanceOf(Map);
    const m = v as Map<string, Value>;
    expect(m.get('a')).toBe(1);
    expect((m.get('b') as Value[])[0]).toEqual(new RFloat(1.5));
    expect(toJSON(v)).toEqual({ a: 1, b: [1.5, 'x', null, true], c: { d: 2 } });
    expect(toJSON(new Engine().eval('#{z: 1, a: [2.0, \'c\', ()], big: 9223372036854775807}'))).toEqual({
      a: [2, 'c', null],
      big: '9223372036854775807',
      z: 1,
    });
  });

  it('keeps __proto__ and constructor as plain keys both ways', () => {
    const text = '{"__proto__":{"polluted":1},"a":3,"constructor":{"prototype":{"x":2}}}';
    const v = fromJSON(JSON.parse(text)) as Map<string, Value>;
    expect([...v.keys()].sort()).toEqual(['__proto__', 'a', 'constructor']);
    expect(toJSON(v.get('__proto__')!)).toEqual({ polluted: 1 });
    const back = toJSON(v) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(['__proto__', 'a', 'constructor']);
    expect(JSON.stringify(back)).toBe(text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const script = toJSON(new Engine().eval('#{"__proto__": 1, "constructor": 2}'));
    expect(JSON.stringify(script)).toBe('{"__proto__":1,"constructor":2}');
  });
});

describe('modules', () => {
  const mods: Record<string, string> = {
    words: 'export const HELLO = "hi";',
    util: 'import "words" as w;\nexport const MARK = "!";\nfn greet(n) { w::HELLO + " " + n }\nprivate fn secret() { 1 }',
    bad: 'let x = 1;\nlet y = x / 0;',
    deep: '\n\nfn boom(a) {\n  a[9]\n}',
  };
  const e = new Engine({ resolveModule: (p) => mods[p] });
  const run = (src: string): unknown => {
    const r = compile(src);
    if (!r.ok) throw new Error(r.diagnostics[0]!.message);
    return toJSON(e.run(r.program));
  };
  it('functions see the modules imported at the top level of their own script or module (Rhai global imports)', () => {
    expect(run('import "util" as u;\nfn f(n) { u::greet(n) + u::MARK }\nf("x")')).toBe('hi x!');
    expect(run('fn g() { import "util" as v; v::greet("y") }\ng()')).toBe('hi y');
  });
  it('an import inside a block or function is not visible outside it; private functions stay private', () => {
    expect(() => run('fn h() { u::greet("z") }\n{ import "util" as u; }\nh()')).toThrow(/Module not found: u/);
    expect(() => run('import "util" as u; u::secret()')).toThrow(/Function not found: u::secret/);
  });
  it('an error inside a module function is positioned in the module, the call in the caller', () => {
    const err = runErr(e, 'import "deep" as d;\nd::boom([1])');
    expect(err.fullMessage).toBe("Array index 9 out of bounds: only 1 element in array (line 4, position 4)\nin call to function 'boom' (line 2, position 1)");
  });
  it('an error while a module loads is ErrorInModule, showing the inner error at its position in the module (Rhai Display)', () => {
    const err = runErr(e, 'let a = 1;\nimport "bad" as b;');
    expect(err.kind).toBe('ErrorInModule');
    expect(err.fullMessage).toBe("Division by zero: 1 / 0 (line 2, position 11)\nin module 'bad' (line 2, position 8)");
    const caught = run('let m = ();\ntry { import "bad" as b; } catch (e) { m = e; }\nm') as Record<string, unknown>;
    expect(caught).toEqual({
      error: 'ErrorInModule',
      module: 'bad',
      message: "Division by zero: 1 / 0 (line 2, position 11)\nin module 'bad'",
      line: 2,
      position: 14,
    });
  });
});

describe('Engine onEnd', () => {
  it('reports the exact operation count of a run, below 1024 too, on success and on error', async () => {
    const counts: number[] = [];
    const e = new Engine({ limits: { maxOperations: 100_000 }, onEnd: (n) => counts.push(n) });
    e.eval('let x = 1; x + 1');
    expect(counts).toHaveLength(1);
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[0]).toBeLessThan(10);
    e.eval('let s = 0; for i in 0..100 { s += i; } s');
    expect(counts[1]).toBeGreaterThan(100);
    expect(counts[1]).toBeLessThan(1024);
    expect(() => e.eval('let y = 2; throw "x"')).toThrow();
    expect(counts[2]).toBeGreaterThan(0);
    e.registerModule('h', { wait: { params: [], fn: () => Promise.resolve(1), opts: { async: true } } });
    const r = e.compile('let a = h::wait(); for i in 0..10 { a += 1; } a');
    if (!r.ok) throw new Error('compile');
    expect(await e.runAsync(r.program)).toBe(11);
    expect(counts[3]).toBeGreaterThan(10);
  });
});

describe('assignment to array elements by plain indices (in-place fast path)', () => {
  // each script is run twice: `I(x)` as ` x` (a plain index: the fast path) and as `+x` (the general path), of
  // the same length so positions compare; value, error kind, message and position must be the same
  const scripts = [
    'let a = [[1, 2], [3, 4]]; let i = 1; let j = 0; a[I(i)][I(j)] += 10; a',
    'let a = [[1.5]]; let i = 0; a[I(i)][I(i)] *= 2.0; a',
    'let a = [1, 2, 3]; let i = -1; a[I(i)] = 9; a',
    'let a = [[1, 2, 3]]; let i = 0; let j = -3; a[I(i)][I(j)] = 9; a',
    'let a = [1, 2, 3]; let i = 5; a[I(i)] = 9; a',
    'let a = [[1], 2]; let i = 1; let j = 0; a[I(i)][I(j)] = 9; a',
    'let a = [#{x: 1}]; let i = 0; let k = "x"; a[I(i)][k] += 1; a',
    'let a = ["abc"]; let i = 0; let j = 1; a[I(i)][I(j)] = \'x\'; a',
    'let a = [[1]]; let i = 0; a[I(i)][I(i)] -= "x"; a',
    'let a = [[1]]; let i = 0; a[I(i)][I(i)] += "x"; a',
    'let a = [[0]]; let i = 0; a[I(i)][I(i)] = { i = 5; 7 }; a',
    'let a = [[1]]; let f = || a; let i = 0; a[I(i)][I(i)] = 5; [a, f.call()]',
    'let a = [(), ()]; let i = 0; a[I(i)] = [1, 2, 3]; a',
    'let a = [[""]]; let i = 0; a[I(i)][I(i)] = "0123456789"; a',
    'let a = [[""]]; let i = 0; a[I(i)][I(i)] += "0123"; a[I(i)][I(i)] += "45678"; a',
    'let a = [[[1]]]; let i = 0; a[I(i)][I(i)][I(i)] = 2; a',
    'let a = [[1, 2]]; a[0][1] = 7; a[0][-1] += 1; a',
    'const a = [[1]]; let i = 0; a[I(i)][I(i)] = 2; a',
    'fn f(a) { let i = 0; a[I(i)][I(i)] = 2; a } f([[1]])',
    'let a = [[1]]; let i = 0; a[I(i)][I(i)] = [1, 2, 3, 4]; a',
  ];
  const outcome = (e: Engine, src: string): unknown => {
    const r = compile(src);
    if (!r.ok) return { parse: r.diagnostics[0]!.code };
    try {
      return { value: toJSON(e.run(r.program)) };
    } catch (err) {
      const x = err as RhaiError;
      return { kind: x.kind, message: x.message, pos: x.pos };
    }
  };
  // string keys (no same-length general form): compare value, error kind and message
  const mapScripts = [
    'let m = #{}; let k = "a"; m[K(k)] = 1; m[K(k)] += 2; m',
    'let m = #{a: [1]}; let k = "a"; m[K(k)] += 2; m',
    'let m = #{}; for n in ["a", "b", "c", "d"] { m[K(n)] = n } m',
    'let m = #{}; let k = "a"; m[K(k)] = "0123456789"; m',
    'let m = #{}; let k = "a"; m[K(k)] -= 1; m',
    'let m = [1]; let k = "a"; m[K(k)] = 1; m',
  ];
  for (const limits of [{}, { maxStringSize: 8, maxArraySize: 5, maxMapSize: 3 }, { maxOperations: 1000 }]) {
    const e = new Engine({ limits });
    it(`matches the general path on maps with limits ${JSON.stringify(limits)}`, () => {
      for (const s of mapScripts) {
        const strip = (o: unknown) => ({ ...(o as object), pos: undefined });
        const fast = outcome(e, s.replace(/K\((\w+)\)/g, '$1'));
        const general = outcome(e, s.replace(/K\((\w+)\)/g, '$1 + ""'));
        expect(strip(fast), s).toEqual(strip(general));
      }
    });
    it(`matches the general path with limits ${JSON.stringify(limits)}`, () => {
      for (const s of scripts) {
        const fast = outcome(e, s.replace(/I\((\w+)\)/g, ' $1'));
        const general = outcome(e, s.replace(/I\((\w+)\)/g, '+$1'));
        expect(fast, s).toEqual(general);
      }
    });
  }
});
