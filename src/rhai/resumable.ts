/**
 * The resumable variant of the closure compiler, for `Engine.runAsync` / `callFnAsync`: a script may call async
 * host functions (registered with `{ async: true }`, e.g. `http::fetch`) and is suspended while the host's promise
 * is pending, holding no thread (architecture.md §7 "Suspending at host calls").
 *
 * Design. Statically (analysis below) we find the functions — named functions, closures, the main body, module
 * functions — from which an async host function is reachable. Only those get a second body, `ScriptFn.gen`, made of
 * generator closures that `yield` the host's promise; the driver (`drive`) awaits it and resumes the generator with
 * the value, or throws the rejection into it at the call site. Everything else — and inside a resumable function
 * every statement or sub-expression that cannot suspend — is compiled by compile/ exactly as before, so scripts
 * that never reach an async function run the unchanged fast closures (runAsync then takes the sync path).
 *
 * Inside a resumable function only the constructs on a path to a suspension point are generators: statement lists,
 * blocks, if/switch/loops/try, `&&`/`||`/`??` with a suspending right side, and the calls that can suspend (script
 * functions with a resumable body, async natives, `call`/`.call`/map-property closures, script-module functions,
 * `f!()`, and the array callbacks map/filter/for_each/some/all/find/reduce). Every other construct whose operands
 * suspend is compiled by *hoisting*: its operands are evaluated first, in source order, into temporary frame slots
 * (generators for the suspending ones), and the construct itself is compiled by compile/ over `$Slot` reads of
 * those temporaries; so operators, literals, property/index chains, native calls, assignments and `let` need no
 * second implementation. Side-effect-free operands (variables, literals, paths) are left in place, which keeps
 * l-value semantics (`x.push(http::fetch(u))` still mutates `x`).
 *
 * The run state compile/run.ts keeps in module-level variables (current run, operation counter, …) is saved when a
 * run suspends and restored when it resumes (enterRun/leaveRun), so several runs can be suspended at once on one
 * engine. Operation and call-depth limits count across suspensions; onProgress (the embedder's wall-clock check)
 * runs after every resume; the run's AbortSignal terminates a run while it waits.
 *
 * Not resumable (fails loudly with "… is asynchronous and cannot be called here"): an async call inside `eval`'d
 * code, inside a module's top level, inside a switch guard, or inside a native callback other than the array
 * callbacks above (sort comparators, map/string callbacks, …).
 *
 * Files: this one compiles a program's units (a `GenCompiler` for compile/program.ts); resumable/analysis.ts finds
 * what can suspend; resumable/expressions.ts and statements.ts are the generator compiler (hoisting, expressions,
 * calls; statements); resumable/calls.ts holds the run-time helpers (awaiting a host promise, generator calls);
 * resumable/driver.ts resumes a run with each settled promise.
 */
import type * as A from './ast.ts';
import { mkErr } from './compile/errors.ts';
import { type GenCompiler, ScriptFn, Unit, type UnitOptions } from './compile/functions.ts';
import { compileUnit, enterDynamic, fnBodyCtx, returnsPlace } from './compile/program.ts';
import { currentRun } from './compile/run.ts';
import { Analysis, type AsyncInfo } from './resumable/analysis.ts';
import { StmtGen } from './resumable/statements.ts';
import { Ctl } from './runtime/state.ts';
import { cloneValue } from './runtime/value.ts';

/** The GenCompiler of one program (one analysis). */
class Resumable implements GenCompiler {
  constructor(
    readonly an: Analysis,
    readonly info: AsyncInfo,
  ) {}
  get key(): string {
    return this.info.key;
  }
  fnBody(unit: Unit, sf: ScriptFn, params: readonly A.Param[], body: A.Stmt[], isTop: boolean, extraShared: readonly string[] | undefined, forceDynamic: boolean): void {
    if (!this.an.body(body)) return;
    compileGenBody(this.an, unit, sf, params, body, isTop, extraShared, forceDynamic);
  }
  moduleUnit(prog: A.Program, checked: boolean, options: UnitOptions): Unit {
    const an = new Analysis(prog, this.info);
    return compileUnit(prog, checked, options, true, an.any ? new Resumable(an, this.info) : undefined);
  }
}

/**
 * Compile a program for runAsync: the sync closures of every function plus resumable bodies (`ScriptFn.gen`) where
 * an async function is reachable; undefined when none is (runAsync then uses the program's sync unit).
 */
export function compileResumable(prog: A.Program, checked: boolean, options: UnitOptions, info: AsyncInfo): Unit | undefined {
  const an = new Analysis(prog, info);
  return an.any ? compileUnit(prog, checked, options, false, new Resumable(an, info)) : undefined;
}

function compileGenBody(
  an: Analysis,
  unit: Unit,
  sf: ScriptFn,
  params: readonly A.Param[],
  body: A.Stmt[],
  isTop: boolean,
  extraShared: readonly string[] | undefined,
  forceDynamic: boolean,
): void {
  const ctx = fnBodyCtx(unit, params, body, isTop, extraShared, forceDynamic);
  const g = new StmtGen(an, ctx);
  ctx.push();
  const s = g.stmts(body, isTop);
  ctx.pop();
  sf.nslots = Math.max(sf.nslots, ctx.nslots);
  const cloneLast = returnsPlace(body, isTop);
  const np = params.length;
  const checkVars = unit.checked && np > 0;
  const dynamic = ctx.dynamic;
  const names = params.map((p) => p.name);
  sf.gen = function* (f) {
    if (checkVars) {
      const mv = currentRun().limits.maxVariables;
      if (mv > 0 && np > mv) throw mkErr('ErrorTooManyVariables', 'Too many variables defined', sf.pos);
    }
    if (dynamic) enterDynamic(f, names);
    const r = yield* s(f);
    return cloneLast && typeof r === 'object' && !(r instanceof Ctl) ? cloneValue(r) : r;
  };
}

export { callFnG, drive, runMainG } from './resumable/driver.ts';
export { testing, type AsyncInfo } from './resumable/analysis.ts';
