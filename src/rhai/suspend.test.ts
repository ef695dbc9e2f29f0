/**
 * Suspendable host calls (resumable.ts): Engine.runAsync / callFnAsync with async host functions.
 */
import { describe, expect, test } from 'vitest';
import { Engine, RhaiError, compile, programFromJSON, programToJSON, runtimeError, toJSON, type Program, type Value } from './index.ts';

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

function prog(src: string): Program {
  const r = compile(src);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.program;
}

/** An engine with `http::fetch(url)` (async: "got <url>", "bad…" rejects with a catchable FETCH_ error) and `sleep(ms)`. */
function engine(opts: ConstructorParameters<typeof Engine>[0] = {}): { e: Engine; calls: string[] } {
  const calls: string[] = [];
  const e = new Engine(opts);
  e.registerModule('http', {
    fetch: {
      params: ['string'],
      fn: async (_c, [u]) => {
        calls.push(u as string);
        await tick();
        if ((u as string).startsWith('bad')) throw runtimeError(`FETCH_DENIED: ${String(u)}`);
        if (u === 'internal') throw new Error('boom');
        return `got ${String(u)}`;
      },
      opts: { async: true },
    },
  });
  e.registerAsyncFn('sleep', ['int'], async (_c, [ms]) => {
    await new Promise((r) => setTimeout(r, Number(ms)));
    return ms as Value;
  });
  return { e, calls };
}

const js = (v: Value): unknown => toJSON(v);

describe('runAsync', () => {
  test('suspends inside nested function calls, loops, closures and method callbacks', async () => {
    const { e, calls } = engine();
    const v = await e.runAsync(
      prog(`
        fn inner(u) { http::fetch(u) + "!" }
        fn outer(u) { let x = inner(u); x + "?" }
        let a = [];
        for i in 0..3 { a.push(outer("f" + i)); }
        let n = 0;
        while n < 2 { n += 1; a += http::fetch("w" + n); }
        loop { a.push(http::fetch("l")); break; }
        do { a.push(sleep(1)) } until true;
        let c = |x| http::fetch(x) + "c";
        a.push(c.call("cl"));
        a.push(call(c, "dyn"));
        a.push(["p", "q"].map(|x| http::fetch(x)));
        a.push([1, 2, 3].filter(|x| http::fetch("k" + x) == "got k2"));
        a.push([1, 2].reduce(|acc, x| acc + http::fetch("r" + x), ""));
        let m = #{ v: http::fetch("m"), act: |x| http::fetch(x) };
        a.push(m.v);
        a.push(m.act("oop"));
        a.push(if a.len() > 3 { http::fetch("if") } else { "no" });
        a.push(switch a.len() { 15 => http::fetch("sw"), _ => "other" });
        a.push(http::fetch("chain").len() + 1);
        a.push(\`\${http::fetch("i1")}-\${http::fetch("i2")}\`);
        a
      `),
    );
    expect(js(v)).toEqual([
      'got f0!?', 'got f1!?', 'got f2!?', 'got w1', 'got w2', 'got l', 1, 'got clc', 'got dync', ['got p', 'got q'], [2],
      'got r1got r2', 'got m', 'got oop', 'got if', 'got sw', 10, 'got i1-got i2',
    ]);
    expect(calls).toContain('k3');
  });

  test('callFnAsync: the top level and the named function may suspend', async () => {
    const { e } = engine();
    const p = prog(`let base = http::fetch("base"); fn handle(x) { http::fetch(x) + "/" + x }`);
    expect(await e.callFnAsync(p, 'handle', ['a'])).toBe('got a/a');
    expect(await e.callFnAsync(p, 'handle', ['b'], undefined, { evalAst: false })).toBe('got b/b');
  });

  test('order of evaluation is kept around suspension points', async () => {
    const { e } = engine();
    const log: string[] = [];
    const v = await e.runAsync(prog(`fn f(x) { print(x); x } [f("a"), http::fetch(f("b")), f("c")]`), undefined, {
      onPrint: (s) => log.push(s),
    });
    expect(js(v)).toEqual(['a', 'got b', 'c']);
    expect(log).toEqual(['a', 'b', 'c']);
  });

  test('a rejected host promise is a catchable error at the call site', async () => {
    const { e } = engine();
    const v = await e.runAsync(
      prog(`
        let out = [];
        try { http::fetch("bad1"); } catch (err) { out.push(err); }
        fn g() { http::fetch("bad2") }
        try { g(); } catch (err) { out.push(err); }
        try { http::fetch("internal"); } catch (err) { out.push(err.message); }
        out
      `),
    );
    expect(js(v)).toEqual(['FETCH_DENIED: bad1', 'FETCH_DENIED: bad2', 'Runtime error: internal error: boom']);
    const err = (await e.runAsync(prog(`let x = 1;\nlet y =   http::fetch("bad3");`)).catch((x: unknown) => x)) as RhaiError;
    expect(err).toBeInstanceOf(RhaiError);
    expect(err.kind).toBe('ErrorRuntime');
    expect(err.text).toBe('Runtime error: FETCH_DENIED: bad3');
    expect(err.pos).toEqual({ line: 2, position: 11 });
    const nested = (await e.runAsync(prog(`fn g() {\n  http::fetch("bad4")\n}\ng()`)).catch((x: unknown) => x)) as RhaiError;
    expect(nested.kind).toBe('ErrorInFunctionCall');
    expect(nested.extra.inner!.pos).toEqual({ line: 2, position: 3 });
  });

  test('scripts that reach no async function take the sync path', async () => {
    const { e } = engine();
    const p = prog(`let x = 0; for i in 0..10 { x += i } x`);
    const pr = e.runAsync(p);
    expect(await pr).toBe(45);
    // the analysis marks nothing resumable: the sync unit serves both
    const u = (p as unknown as { resumableUnit(c: boolean, i: unknown): { main: { gen: unknown } } }).resumableUnit(false, (e as unknown as { info(): unknown }).info());
    expect(u.main.gen).toBeUndefined();
    expect(await e.callFnAsync(prog(`fn f(a) { a * 2 }`), 'f', [21])).toBe(42);
  });

  test('the sync API fails loudly on an async function', () => {
    const { e } = engine();
    expect(() => e.run(prog(`http::fetch("x")`))).toThrow(/Function http::fetch is asynchronous and cannot be called here/);
  });

  test('operation limits count across suspensions', async () => {
    const { e } = engine({ limits: { maxOperations: 200 } });
    const p = prog(`let n = 0; for i in 0..100 { n += 1; if i % 10 == 0 { http::fetch("x"); } } n`);
    const err = (await e.runAsync(p).catch((x: unknown) => x)) as RhaiError;
    expect(err.kind).toBe('ErrorTooManyOperations');
    const { e: e2 } = engine({ limits: { maxOperations: 100_000 } });
    expect(await e2.runAsync(p)).toBe(100);
  });

  test('call depth is checked across suspensions', async () => {
    const { e } = engine({ limits: { maxCallLevels: 8 } });
    const p = prog(`fn r(n) { if n == 0 { http::fetch("bottom") } else { r(n - 1) } } r(N)`);
    expect(await e.runAsync(p, { N: 5 })).toBe('got bottom');
    const err = (await e.runAsync(p, { N: 20 }).catch((x: unknown) => x)) as RhaiError;
    expect(err.kind).toBe('ErrorStackOverflow');
  });

  test('onProgress runs after every resume; the signal ends a run while it waits', async () => {
    const { e } = engine();
    let stop = false;
    const seen: number[] = [];
    const p = prog(`http::fetch("a"); http::fetch("b"); 1`);
    const r = e.runAsync(p, undefined, {
      onProgress: (ops) => {
        seen.push(ops);
        const s = stop;
        stop = true;
        return s;
      },
    });
    const err = (await r.catch((x: unknown) => x)) as RhaiError;
    expect(err.kind).toBe('ErrorTerminated');
    expect(err.pos).toEqual({ line: 1, position: 19 });
    expect(seen.length).toBe(2);

    const ac = new AbortController();
    const slow = e.runAsync(prog(`let x = 1;\nsleep(10000)`), undefined, { signal: ac.signal });
    setTimeout(() => ac.abort(), 5);
    const t0 = Date.now();
    const err2 = (await slow.catch((x: unknown) => x)) as RhaiError;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err2.kind).toBe('ErrorTerminated');
    expect(err2.pos).toEqual({ line: 2, position: 1 });
    // try/catch does not catch termination
    const ac2 = new AbortController();
    ac2.abort();
    const err3 = (await e.runAsync(prog(`try { sleep(10000) } catch { 1 }`), undefined, { signal: ac2.signal }).catch((x: unknown) => x)) as RhaiError;
    expect(err3.kind).toBe('ErrorTerminated');
  });

  test('a lazy signal is made only for a run that can suspend, and aborts it', async () => {
    const { e } = engine();
    let made = 0;
    const ac = new AbortController();
    const signal = (): AbortSignal => {
      made++;
      return ac.signal;
    };
    expect(await e.runAsync(prog('40 + 2'), undefined, { signal })).toBe(42);
    expect(await e.callFnAsync(prog('fn f(x) { x + 1 }'), 'f', [1], undefined, { signal })).toBe(2);
    expect(made).toBe(0);
    const slow = e.runAsync(prog('sleep(10000)'), undefined, { signal });
    expect(made).toBe(1);
    setTimeout(() => ac.abort(), 5);
    const err = (await slow.catch((x: unknown) => x)) as RhaiError;
    expect(err.kind).toBe('ErrorTerminated');
  });

  test('two runs interleave on one engine with their own state', async () => {
    const { e } = engine({ limits: { maxOperations: 1_000_000 } });
    const p = prog(`
      fn step(tag, i) { sleep(1); print(tag + i); i }
      let total = 0;
      for i in 0..5 { total += step(TAG, i); }
      total
    `);
    const logs: Record<string, string[]> = { A: [], B: [] };
    const data: unknown[] = [];
    e.registerFn('whoami', [], (c) => (data.push(c.data), c.data as Value));
    const [a, b, c] = await Promise.all([
      e.runAsync(p, { TAG: 'A' }, { onPrint: (s) => logs['A']!.push(s), data: 'A' }),
      e.runAsync(p, { TAG: 'B' }, { onPrint: (s) => logs['B']!.push(s), data: 'B' }),
      e.runAsync(prog(`sleep(2); whoami()`), undefined, { data: 'C' }),
    ]);
    expect([a, b, c]).toEqual([10, 10, 'C']);
    expect(logs['A']).toEqual(['A0', 'A1', 'A2', 'A3', 'A4']);
    expect(logs['B']).toEqual(['B0', 'B1', 'B2', 'B3', 'B4']);
  });

  test('many runs wait at once (no thread per waiting run)', async () => {
    const { e } = engine();
    const p = prog(`let r = sleep(50); r + 1`);
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 200 }, () => e.runAsync(p)));
    expect(rs.every((x) => x === 51)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test('script modules: their functions may suspend (source or compiled Program)', async () => {
    const { e } = engine();
    const lib = prog(`fn get(u) { http::fetch(u) + "@lib" } private fn hidden() { 1 } export const K = 7;`);
    const mods: Record<string, string | Program> = { 'lib/api': programFromJSON(programToJSON(lib)), 'lib/src': `fn twice(u) { [http::fetch(u), http::fetch(u)] }` };
    const p = prog(`import "lib/api" as api; import "lib/src" as s; [api::get("x"), api::K, s::twice("y")]`);
    const v = await e.runAsync(p, undefined, { resolveModule: (path) => mods[path] });
    expect(js(v)).toEqual(['got x@lib', 7, ['got y', 'got y']]);
    const err = (await e.runAsync(prog(`import "lib/api" as api; api::hidden()`), undefined, { resolveModule: (path) => mods[path] }).catch((x: unknown) => x)) as RhaiError;
    expect(err.kind).toBe('ErrorFunctionNotFound');
  });

  test('data-size limits apply to values produced after a resume', async () => {
    const { e } = engine({ limits: { maxStringSize: 15 } });
    const err = (await e.runAsync(prog(`let s = http::fetch("x"); s + s + s + s`)).catch((x: unknown) => x)) as RhaiError;
    expect(err.kind).toBe('ErrorDataTooLarge');
  });

  test('return, break with value and throw carry suspended values', async () => {
    const { e } = engine();
    const v = await e.runAsync(
      prog(`
        fn f() { return http::fetch("ret"); }
        let b = loop { break http::fetch("brk"); };
        let t = ();
        try { throw http::fetch("thr"); } catch (x) { t = x; }
        [f(), b, t]
      `),
    );
    expect(js(v)).toEqual(['got ret', 'got brk', 'got thr']);
  });

  test('where a script cannot suspend, an async call fails loudly at the call (never silently)', async () => {
    const { e } = engine();
    const fail = async (src: string, opts?: Parameters<Engine['runAsync']>[2]): Promise<RhaiError> =>
      (await e.runAsync(prog(src), undefined, opts).then(
        (v) => {
          throw new Error(`expected a failure, got ${JSON.stringify(js(v))}`);
        },
        (x: unknown) => x,
      )) as RhaiError;
    const asyncErr = /Function http::fetch is asynchronous and cannot be called here/;
    // a native callback without a resumable version (sort comparator), eval, a module's top level
    expect((await fail(`[2, 1].sort(|a, b| { http::fetch("s"); a - b })`)).fullMessage).toMatch(asyncErr);
    expect((await fail(`eval("http::fetch(\\"e\\")")`)).fullMessage).toMatch(asyncErr);
    expect((await fail(`import "m" as m; m::X`, { resolveModule: () => 'export const X = http::fetch("top");' })).fullMessage).toMatch(asyncErr);
    // not catchable: a try around it does not hide it
    expect((await fail(`try { [2, 1].sort(|a, b| { http::fetch("s"); a - b }) } catch { 0 }`)).fullMessage).toMatch(asyncErr);
  });

  test('closures capture variables across suspensions; `this` and shared captures are written back', async () => {
    const { e } = engine();
    const v = await e.runAsync(
      prog(`
        let count = 0;
        let inc = |u| { count += 1; http::fetch(u) };
        inc.call("a"); call(inc, "b");
        let arr = [1, 2];
        arr.for_each(|| { this = http::fetch("t" + this); });
        let obj = #{ n: 0, bump: |u| { this.n += 1; http::fetch(u) } };
        obj.bump("x");
        [count, arr, obj.n]
      `),
    );
    expect(js(v)).toEqual([2, ['got t1', 'got t2'], 1]);
  });
});
