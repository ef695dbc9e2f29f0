/**
 * The embedding API: `compile` (source → Program or diagnostics), the Program JSON round trip (AST cache),
 * and `Engine` (native function / module registration, limits, print/debug/progress hooks, run / callFn / eval,
 * and their async forms runAsync / callFnAsync for scripts that call async host functions, see resumable.ts).
 * Every error leaving this module is a `RhaiError` with `pos` filled.
 */
import type * as A from './ast.ts';
import { parse } from './parser.ts';
import { LineIndex, lineCol } from './source.ts';
import type { ParseOptions } from './options.ts';
import { DEFAULT_LIMITS, type Limits } from './runtime/limits.ts';
import { RhaiError } from './runtime/errors.ts';
import { Registry, type FnSignature } from './runtime/registry.ts';
import type { AsyncNativeFn, NativeFn, NativeFnOptions, Package } from './runtime/native.ts';
import { FnPtr, RChar, RFloat, Timestamp, RRange, type TypeTag, type Value } from './runtime/value.ts';
import type { EngineEnv, ModuleSource, PrecompiledModule, RunHooks } from './runtime/state.ts';
import { Unit, callPtr, callUnitFn, compileUnit, newRunState, runUnit, toRhaiError, type EvalParser, type RunOptions as CompileRunOptions } from './compile.ts';
import { callFnG, compileResumable, drive, runMainG, type AsyncInfo } from './resumable.ts';
import { standardPackage } from './stdlib/standard.ts';

export interface Diagnostic {
  code: string;
  message: string;
  offset: number;
  end?: number;
  line: number;
  position: number;
}

/** Language switches (Rhai `LangOptions`, `set_strict_variables`, `disable_symbol`, …). */
export interface LanguageOptions {
  allowIfExpression: boolean;
  allowSwitchExpression: boolean;
  allowStatementExpression: boolean;
  allowAnonymousFn: boolean;
  allowLooping: boolean;
  allowShadowing: boolean;
  allowLoopExpressions: boolean;
  strictVariables: boolean;
  /** reading a missing map property is ErrorPropertyNotFound instead of `()` */
  failOnInvalidMapProperty: boolean;
  disabledSymbols: string[];
  /** variable names the host will provide in the scope (for strict variables mode) */
  externalVariables: string[];
}

export interface CompileOptions {
  /** script name, used as the error source */
  name?: string;
  /** parse-time limits: maxExprDepth, maxFunctionExprDepth, maxFunctions, literal sizes */
  limits?: Partial<Limits>;
  options?: Partial<LanguageOptions>;
  /** parse a single expression (Rhai `compile_expression`) */
  expression?: boolean;
}

export interface Program {
  readonly source: string;
  readonly name: string | undefined;
  readonly functions: ReadonlyArray<{ name: string; params: string[] }>;
}

/** Internal representation; `Program` is its public face. */
class ProgramImpl implements Program, PrecompiledModule {
  readonly functions: ReadonlyArray<{ name: string; params: string[] }>;
  private fast: Unit | undefined;
  private checked: Unit | undefined;
  /** compilations of this program as an imported module (see compile.ts importModule) */
  get units(): Map<string, unknown> {
    return (this.moduleUnits ??= new Map());
  }
  private moduleUnits: Map<string, unknown> | undefined;
  /** resumable compilations, by checked + the engine's set of async functions (both maps made on first use) */
  private resumable: Map<string, Unit> | undefined;
  constructor(
    readonly source: string,
    readonly name: string | undefined,
    readonly ast: A.Program,
    readonly parseOptions: ParseOptions,
    readonly failOnInvalidMapProperty: boolean,
  ) {
    this.functions = ast.functions.map((f) => ({ name: f.name, params: f.params.map((p) => p.name) }));
  }
  unit(checked: boolean): Unit {
    if (checked) return (this.checked ??= compileUnit(this.ast, true, { failOnInvalidMapProperty: this.failOnInvalidMapProperty }));
    return (this.fast ??= compileUnit(this.ast, false, { failOnInvalidMapProperty: this.failOnInvalidMapProperty }));
  }
  resumableUnit(checked: boolean, info: AsyncInfo): Unit {
    // nothing async registered, or nothing async reachable: the program's sync unit
    if (info.key === '') return this.unit(checked);
    const key = `${checked ? 1 : 0}${info.key}`;
    const cache = (this.resumable ??= new Map());
    let u = cache.get(key);
    if (!u) {
      u = compileResumable(this.ast, checked, { failOnInvalidMapProperty: this.failOnInvalidMapProperty }, info) ?? this.unit(checked);
      cache.set(key, u);
    }
    return u;
  }
}

function toParseOptions(opts: CompileOptions | undefined): ParseOptions {
  const l = opts?.limits ?? {};
  const o = opts?.options ?? {};
  const p: ParseOptions = {};
  if (l.maxExprDepth !== undefined) p.maxExprDepth = l.maxExprDepth;
  if (l.maxFunctionExprDepth !== undefined) p.maxFunctionExprDepth = l.maxFunctionExprDepth;
  if (l.maxFunctions !== undefined) p.maxFunctions = l.maxFunctions;
  if (l.maxStringSize !== undefined) p.maxStringSize = l.maxStringSize;
  if (l.maxArraySize !== undefined) p.maxArraySize = l.maxArraySize;
  if (l.maxMapSize !== undefined) p.maxMapSize = l.maxMapSize;
  if (o.disabledSymbols) p.disabledSymbols = o.disabledSymbols;
  if (o.allowIfExpression !== undefined) p.allowIfExpression = o.allowIfExpression;
  if (o.allowSwitchExpression !== undefined) p.allowSwitchExpression = o.allowSwitchExpression;
  if (o.allowStatementExpression !== undefined) p.allowStatementExpression = o.allowStatementExpression;
  if (o.allowAnonymousFn !== undefined) p.allowAnonymousFn = o.allowAnonymousFn;
  if (o.allowLooping !== undefined) p.allowLooping = o.allowLooping;
  if (o.allowShadowing !== undefined) p.allowShadowing = o.allowShadowing;
  if (o.allowLoopExpressions !== undefined) p.allowLoopExpressions = o.allowLoopExpressions;
  if (o.strictVariables !== undefined) p.strictVariables = o.strictVariables;
  if (o.externalVariables) p.externalVariables = o.externalVariables;
  if (opts?.expression) p.expression = true;
  return p;
}

/** Compile a script. Never throws: parse errors come back as diagnostics (Rhai's wording). */
export function compile(
  source: string,
  opts?: CompileOptions,
): { ok: true; program: Program } | { ok: false; diagnostics: Diagnostic[] } {
  const po = toParseOptions(opts);
  let r: ReturnType<typeof parse>;
  try {
    r = parse(source, po);
  } catch (e) {
    const msg = e instanceof RangeError ? 'Expression exceeds maximum complexity' : `Internal parser error: ${String(e)}`;
    const lc = lineCol(source, 0);
    return { ok: false, diagnostics: [{ code: 'ExprTooDeep', message: msg, offset: 0, line: lc.line, position: lc.position }] };
  }
  if (!r.ok) {
    const lines = new LineIndex(source);
    return {
      ok: false,
      diagnostics: r.diagnostics.map((d) => {
        const lc = lines.lineCol(d.offset);
        const out: Diagnostic = { code: d.code, message: d.message, offset: d.offset, line: lc.line, position: lc.position };
        if (d.end !== undefined) out.end = d.end;
        return out;
      }),
    };
  }
  return {
    ok: true,
    program: new ProgramImpl(source, opts?.name, r.program, po, opts?.options?.failOnInvalidMapProperty === true),
  };
}

/** Rhai's Display text of a parse diagnostic with position: `Syntax error: … (line L, position P)` is the error's. */
export function diagnosticError(d: Diagnostic): RhaiError {
  const e = new RhaiError('ErrorParsing', d.message, {}, d.offset);
  e.pos = { line: d.line, position: d.position };
  (e.extra as { code?: string }).code = d.code;
  return e;
}

// ------------------------------------------------------------------ JSON round trip

interface ProgramJSON {
  v: 1;
  source: string;
  name?: string;
  ast: A.Program;
  parseOptions: ParseOptions;
  failOnInvalidMapProperty: boolean;
}

export function programToJSON(p: Program): string {
  const q = asImpl(p);
  const j: ProgramJSON = {
    v: 1,
    source: q.source,
    ast: q.ast,
    parseOptions: q.parseOptions,
    failOnInvalidMapProperty: q.failOnInvalidMapProperty,
  };
  if (q.name !== undefined) j.name = q.name;
  // non-finite float literals (e.g. `1e400`) are not representable in JSON: tag them
  return JSON.stringify(j, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v));
}

export function programFromJSON(json: string): Program {
  const j = JSON.parse(json, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && typeof (v as { $num?: unknown }).$num === 'string' ? Number((v as { $num: string }).$num) : v,
  ) as ProgramJSON;
  if (!j || j.v !== 1 || typeof j.source !== 'string' || !j.ast || !Array.isArray(j.ast.statements)) {
    throw new RhaiError('ErrorParsing', 'Invalid program JSON');
  }
  return new ProgramImpl(j.source, j.name, j.ast, j.parseOptions ?? {}, j.failOnInvalidMapProperty === true);
}

/**
 * Compile a stored program's source again with this engine (same name, parse options and map-property mode) and
 * serialise the result: what an executor does with a program stored under another ENGINE_VERSION (version.ts).
 * Reads only the wrapper's `source`, `name`, `parseOptions` and `failOnInvalidMapProperty`, never its `ast`.
 */
export function recompileProgramJSON(json: string): string {
  const j = JSON.parse(json) as Partial<ProgramJSON> | null;
  if (!j || typeof j.source !== 'string') throw new RhaiError('ErrorParsing', 'Invalid program JSON: no source to compile');
  const po = j.parseOptions ?? {};
  const r = parse(j.source, po);
  if (!r.ok) {
    const d = r.diagnostics[0]!;
    const lc = lineCol(j.source, d.offset);
    throw diagnosticError({ ...d, line: lc.line, position: lc.position });
  }
  return programToJSON(new ProgramImpl(j.source, j.name, r.program, po, j.failOnInvalidMapProperty === true));
}

function asImpl(p: Program): ProgramImpl {
  if (!(p instanceof ProgramImpl)) throw new TypeError('not a Program created by compile()');
  return p;
}

// ------------------------------------------------------------------ Engine

export interface EngineOptions {
  limits?: Partial<Limits>;
  onPrint?: (s: string) => void;
  onDebug?: (s: string, pos: { line: number; position: number } | undefined) => void;
  /** called every 1024 operations; return true to terminate the script (ErrorTerminated) */
  onProgress?: (ops: number) => boolean;
  /** called once when a run ends (value, error or termination) with its exact operation count (checked mode only) */
  onEnd?: (ops: number) => void;
  /** no standard library, only built-in operators (Rhai `Engine::new_raw`) */
  raw?: boolean;
  /** language options used by `eval()` / `Engine.eval` compilation */
  options?: Partial<LanguageOptions>;
  /**
   * module resolver for `import "path" as m;`: the module's script source, or a compiled Program (used without
   * parsing); undefined = not found
   */
  resolveModule?: (path: string) => string | Program | undefined;
}

/**
 * Per-run options: they override the engine's hooks for this run only, so several runs (also suspended ones, see
 * runAsync) can be in flight on one engine.
 */
export interface RunOptions {
  onPrint?: (s: string) => void;
  onDebug?: (s: string, pos: { line: number; position: number } | undefined) => void;
  /** called every 1024 operations and after every resume of a suspended run; true → ErrorTerminated */
  onProgress?: (ops: number) => boolean;
  /** called once when a run ends (value, error or termination) with its exact operation count (checked mode only) */
  onEnd?: (ops: number) => void;
  /**
   * runAsync: aborting it terminates the run while it waits for an async function (ErrorTerminated). A function is
   * called only when the run can suspend (an async function is reachable): a run that never waits creates no signal
   * (an AbortSignal is an EventTarget, measured ~3 µs per run).
   */
  signal?: AbortSignal | (() => AbortSignal);
  /** the embedder's value for this run, seen by native functions as `ctx.data` */
  data?: unknown;
  /** module resolver for this run (see EngineOptions.resolveModule) */
  resolveModule?: (path: string) => string | Program | undefined;
}

export interface CallFnOptions extends RunOptions {
  /** run the script's top-level statements before calling (Rhai `CallFnOptions::eval_ast`, default true) */
  evalAst?: boolean;
}

let standardRegistry: Registry | undefined;

export class Engine {
  readonly limits: Limits;
  private readonly registry: Registry;
  private readonly modules = new Map<string, Registry>();
  private readonly env: EngineEnv;
  private readonly options: Partial<LanguageOptions>;
  private asyncInfo: AsyncInfo | undefined;

  constructor(opts: EngineOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    if (opts.raw) this.registry = new Registry();
    else {
      standardRegistry ??= new Registry().use(standardPackage);
      this.registry = new Registry(standardRegistry);
    }
    this.options = opts.options ?? {};
    this.env = {
      registry: this.registry,
      modules: this.modules,
      limits: this.limits,
      onPrint: opts.onPrint,
      onDebug: opts.onDebug,
      onProgress: opts.onProgress,
      onEnd: opts.onEnd,
      resolveModule: wrapResolver(opts.resolveModule),
    };
  }

  /** Register a package (a function registering natives). */
  registerPackage(pkg: Package): this {
    this.registry.use(pkg);
    return this;
  }

  registerFn(name: string, params: TypeTag[], fn: NativeFn, opts?: NativeFnOptions): this {
    this.registry.fn(name, params, fn, opts);
    this.asyncInfo = undefined;
    return this;
  }

  /**
   * Every native function this engine resolves (standard library and host registrations) and every static
   * module's functions, each overload with its parameter types (used to generate docs/stdlib.md).
   */
  describeFunctions(): { global: FnSignature[]; modules: Record<string, FnSignature[]> } {
    const modules: Record<string, FnSignature[]> = {};
    for (const [ns, m] of this.modules) modules[ns] = m.signatures();
    return { global: this.registry.signatures(), modules };
  }

  /**
   * Register an async host function (`name` or `ns::name`): its promise suspends the script (runAsync/callFnAsync
   * only; elsewhere calling it is a runtime error). A rejection is raised at the call site: a RhaiError as is (see
   * `runtimeError` for one a script's `catch` sees as a string), anything else as an internal runtime error.
   */
  registerAsyncFn(name: string, params: TypeTag[], fn: AsyncNativeFn, opts?: Omit<NativeFnOptions, 'async'>): this {
    const i = name.lastIndexOf('::');
    const o = { ...opts, async: true };
    if (i < 0) return this.registerFn(name, params, fn as unknown as NativeFn, o);
    return this.registerModule(name.slice(0, i), { [name.slice(i + 2)]: { params, fn: fn as unknown as NativeFn, opts: o } });
  }

  /**
   * Register a static module of native functions, called as `ns::name(args)`. Without `params`, any arity/types.
   * `opts: { async: true }` marks an async function (its `fn` returns a Promise; see registerAsyncFn).
   */
  registerModule(
    ns: string,
    fns: Record<string, NativeFn | { params: TypeTag[]; fn: NativeFn | AsyncNativeFn; opts?: NativeFnOptions }>,
  ): this {
    let m = this.modules.get(ns);
    if (!m) this.modules.set(ns, (m = new Registry()));
    for (const [name, d] of Object.entries(fns)) {
      if (typeof d === 'function') m.fn(name, [], d, { variadic: true });
      else m.fn(name, d.params, d.fn, d.opts);
    }
    this.asyncInfo = undefined;
    return this;
  }

  private isChecked(opts?: RunOptions): boolean {
    const l = this.limits;
    return l.maxOperations > 0 || l.maxStringSize > 0 || l.maxArraySize > 0 || l.maxMapSize > 0 || l.maxVariables > 0 || !!this.env.onProgress || !!opts?.onProgress;
  }

  /** What the resumable compiler needs to know about this engine's functions (rebuilt after registrations). */
  private info(): AsyncInfo {
    if (this.asyncInfo) return this.asyncInfo;
    const names: string[] = [...this.registry.asyncNames].map((n) => `::${n}`);
    for (const [ns, m] of this.modules) for (const n of m.asyncNames) names.push(`${ns}::${n}`);
    const set = new Set(names);
    const reg = this.registry;
    const modules = this.modules;
    return (this.asyncInfo = {
      key: names.sort().join(','),
      isAsync: (ns, name) => set.has(`${ns ?? ''}::${name}`),
      isHostModule: (ns) => modules.has(ns),
      isNative: (name) => reg.has(name),
    });
  }

  private runOptions(p: ProgramImpl, host: Map<string, Value> | undefined, opts: RunOptions | undefined, signal?: AbortSignal): CompileRunOptions {
    const o: CompileRunOptions = { env: this.env, source: p.source, hostScope: host, parse: this.evalParser() };
    if (opts) o.hooks = toHooks(opts, signal);
    return o;
  }

  private parser: EvalParser | undefined;
  private evalParser(): EvalParser {
    if (this.parser) return this.parser;
    const po = toParseOptions({ options: this.options, limits: this.limits });
    return (this.parser = (src) => {
      const r = parse(src, po);
      if (r.ok) return { ok: true, program: r.program };
      const d = r.diagnostics[0]!;
      const lc = lineCol(src, d.offset);
      return { ok: false, error: diagnosticError({ ...d, line: lc.line, position: lc.position }) };
    });
  }

  /**
   * Compile `program` for this engine ahead of its first run: what runAsync / callFnAsync with these options would
   * compile then (cached on the program), so that first run costs no more than a later one.
   */
  prepare(program: Program, opts?: RunOptions): void {
    asImpl(program).resumableUnit(this.isChecked(opts), this.info());
  }

  /** Run a program; returns the value of its last statement. Throws RhaiError. */
  run(program: Program, scope?: Record<string, Value>, opts?: RunOptions): Value {
    const p = asImpl(program);
    const host = scope ? new Map(Object.entries(scope)) : undefined;
    try {
      const v = runUnit(p.unit(this.isChecked(opts)), this.runOptions(p, host, opts));
      return v;
    } catch (e) {
      throw this.finish(e, p.source);
    } finally {
      if (scope && host) for (const [k, v] of host) scope[k] = v;
    }
  }

  /** Call a script function by name (after running the top-level statements unless evalAst is false). */
  callFn(program: Program, name: string, args: Value[], scope?: Record<string, Value>, opts?: CallFnOptions): Value {
    const p = asImpl(program);
    const host = scope ? new Map(Object.entries(scope)) : undefined;
    try {
      return callUnitFn(p.unit(this.isChecked(opts)), this.runOptions(p, host, opts), name, args, opts?.evalAst !== false);
    } catch (e) {
      throw this.finish(e, p.source);
    }
  }

  /**
   * Run a program that may call async host functions: it is suspended (holding no thread) while their promises are
   * pending. A program from which no async function is reachable runs on the sync path (an already settled promise).
   * Rejects with a RhaiError.
   */
  runAsync(program: Program, scope?: Record<string, Value>, opts?: RunOptions): Promise<Value> {
    const p = asImpl(program);
    const checked = this.isChecked(opts);
    let unit: Unit;
    try {
      unit = p.resumableUnit(checked, this.info());
      if (!unit.main.gen) return Promise.resolve(this.run(program, scope, opts));
    } catch (e) {
      return Promise.reject(e instanceof RhaiError ? e : this.finish(e, p.source));
    }
    return this.suspendable(p, unit, scope, opts, () => runMainG(unit));
  }

  /** callFn for programs that may call async host functions (see runAsync). */
  callFnAsync(program: Program, name: string, args: Value[], scope?: Record<string, Value>, opts?: CallFnOptions): Promise<Value> {
    const p = asImpl(program);
    const checked = this.isChecked(opts);
    const runMain = opts?.evalAst !== false;
    let unit: Unit;
    try {
      unit = p.resumableUnit(checked, this.info());
      const sf = unit.getFn(name, args.length);
      if (!(runMain && unit.main.gen) && !sf?.gen) return Promise.resolve(this.callFn(program, name, args, scope, opts));
    } catch (e) {
      return Promise.reject(e instanceof RhaiError ? e : this.finish(e, p.source));
    }
    return this.suspendable(p, unit, scope, opts, () => callFnG(unit, name, args, runMain));
  }

  private suspendable(
    p: ProgramImpl,
    unit: Unit,
    scope: Record<string, Value> | undefined,
    opts: RunOptions | undefined,
    body: () => Generator<unknown, Value, unknown>,
  ): Promise<Value> {
    const host = scope ? new Map(Object.entries(scope)) : undefined;
    const signal = typeof opts?.signal === 'function' ? opts.signal() : opts?.signal;
    const st = newRunState(unit, this.runOptions(p, host, opts, signal));
    const onEnd = opts?.onEnd ?? this.env.onEnd;
    return drive(st, body(), signal).then(
      (v) => {
        if (scope && host) for (const [k, x] of host) scope[k] = x;
        onEnd?.(st.ops);
        return v;
      },
      (e: unknown) => {
        if (scope && host) for (const [k, x] of host) scope[k] = x;
        onEnd?.(st.ops);
        throw this.finish(e, p.source);
      },
    );
  }

  /** Call a function pointer (e.g. a closure returned by a script) in the context of `program`. */
  callFnPtr(program: Program, fn: FnPtr, args: Value[]): Value {
    const p = asImpl(program);
    try {
      return callPtr(p.unit(this.isChecked()), { env: this.env, source: p.source, parse: this.evalParser() }, fn, args);
    } catch (e) {
      throw this.finish(e, p.source);
    }
  }

  /** Compile with this engine's parse limits and options (diagnostics as a result). */
  compile(source: string, opts?: Omit<CompileOptions, 'limits'>): ReturnType<typeof compile> {
    return compile(source, { ...opts, limits: this.limits, options: { ...this.options, ...opts?.options } });
  }

  /** Convenience: compile + run. Parse errors are thrown as RhaiError(ErrorParsing). */
  eval(source: string, scope?: Record<string, Value>): Value {
    const r = this.compile(source, scope ? { options: { externalVariables: Object.keys(scope) } } : undefined);
    if (!r.ok) throw diagnosticError(r.diagnostics[0]!);
    return this.run(r.program, scope);
  }

  /** Normalise any escaping error to a RhaiError with positions filled (for the whole wrapper chain). */
  private finish(e: unknown, source: string): RhaiError {
    const err = toRhaiError(e);
    fillPositions(err, source);
    return err;
  }
}

/** `signal`: the run's signal when it can suspend (a lazy RunOptions.signal is not called for a synchronous run). */
function toHooks(o: RunOptions, signal = typeof o.signal === 'function' ? undefined : o.signal): RunHooks {
  return {
    onPrint: o.onPrint,
    onDebug: o.onDebug,
    onProgress: o.onProgress,
    onEnd: o.onEnd,
    data: o.data,
    signal,
    resolveModule: wrapResolver(o.resolveModule),
  };
}

/** The resolver compile.ts sees: a Program becomes its internal form (AST reused, compilations cached on it). */
function wrapResolver(r: ((path: string) => string | Program | undefined) | undefined): ((path: string) => ModuleSource | undefined) | undefined {
  if (!r) return undefined;
  return (path) => {
    const x = r(path);
    return x === undefined || typeof x === 'string' ? x : asImpl(x);
  };
}

/**
 * An error for an async (or sync) host function to reject (throw) with, that a script's `catch (e)` receives as
 * the string `message` (like `throw message`); uncaught, its text is "Runtime error: <message>".
 */
export function runtimeError(message: string): RhaiError {
  return new RhaiError('ErrorRuntime', `Runtime error: ${message}`, { thrown: message });
}

function fillPositions(e: RhaiError, source: string): void {
  // an error raised where no source position is known (e.g. from a host callback) is reported at the start
  if (e.offset === undefined && !e.pos) e.offset = 0;
  for (let x: RhaiError | undefined = e; x; x = x.extra.inner) {
    if (!x.pos && x.offset !== undefined) x.pos = lineCol(source, x.offset);
  }
}

// ------------------------------------------------------------------ JSON conversion

/**
 * JS/JSON value → Rhai value: objects → maps, integral numbers → int, other numbers → float, null → ().
 * Own keys only (`Object.entries`), so `__proto__` and `constructor` from JSON.parse are plain keys.
 */
export function fromJSON(x: unknown): Value {
  if (x === null || x === undefined) return undefined;
  switch (typeof x) {
    case 'number':
      return Number.isSafeInteger(x) ? x : new RFloat(x);
    case 'bigint':
      return x;
    case 'string':
      return x;
    case 'boolean':
      return x;
  }
  if (Array.isArray(x)) return x.map(fromJSON);
  if (x instanceof Uint8Array) return x.slice();
  if (typeof x === 'object') {
    const m = new Map<string, Value>();
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) m.set(k, fromJSON(v));
    return m;
  }
  return undefined;
}

/** Rhai value → JSON-compatible JS (maps → objects with sorted keys, unit → null, char → string, blob → array). */
export function toJSON(v: Value): unknown {
  switch (typeof v) {
    case 'number':
    case 'string':
    case 'boolean':
      return v;
    case 'bigint':
      return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    case 'undefined':
      return null;
  }
  if (v instanceof RFloat) return Number.isFinite(v.v) ? v.v : null;
  if (v instanceof RChar) return v.c;
  if (Array.isArray(v)) return v.map(toJSON);
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const k of [...v.keys()].sort()) {
      // `o.__proto__ = x` would set the prototype and lose the key: define it as the plain key it is
      if (k === '__proto__') Object.defineProperty(o, k, { value: toJSON(v.get(k)), enumerable: true, writable: true, configurable: true });
      else o[k] = toJSON(v.get(k));
    }
    return o;
  }
  if (v instanceof Uint8Array) return Array.from(v);
  if (v instanceof FnPtr) return `Fn(${v.name})`;
  if (v instanceof Timestamp) return null;
  if (v instanceof RRange) return { start: toJSON(v.start), end: toJSON(v.end), inclusive: v.inclusive };
  return null;
}
