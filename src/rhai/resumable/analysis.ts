/**
 * The resumable variant's static analysis: which function bodies and which AST nodes can reach an async host
 * function (and so need generator closures). See ../resumable.ts for the design.
 */
import type * as A from '../ast.ts';
import { walk } from '../compile/program.ts';

/** What the analysis needs to know about the engine's host functions. */
export interface AsyncInfo {
  /** identifies the set of async functions (part of cache keys) */
  readonly key: string;
  /** is `ns::name` (ns undefined: a global function) registered as async? */
  isAsync(ns: string | undefined, name: string): boolean;
  /** is `ns` a host module (registerModule), as opposed to a script module alias? */
  isHostModule(ns: string): boolean;
  /** is there a native function of this name (so a method call of it is not a closure stored in a map)? */
  isNative(name: string): boolean;
}

/**
 * For tests only: treat every script-function, method, `call` and module call as one that can suspend, so that the
 * resumable variant of every construct runs (the conformance corpus is run this way against the sync results, see
 * test/conformance/conformance.test.ts). Native function calls stay sync (only async ones suspend for real).
 */
export const testing = { everyCall: false };

/** Array methods whose script callbacks may suspend (generator versions below). */
export const HOF = new Set(['map', 'filter', 'for_each', 'some', 'all', 'find', 'reduce']);

/** Visit every AST node under `n`; without `intoClosures`, a closure's body is not entered (it is a function of its own). */
function walkNodes(n: unknown, visit: (n: { k: string }) => void, intoClosures = false): void {
  walk(n, (x) => {
    visit(x);
    return intoClosures || x.k !== 'Closure';
  });
}

/**
 * Which function bodies and which AST nodes can suspend. A body suspends when it contains a call that can:
 * an async host function (by name / namespace), a script function whose body suspends, or — once anything in the
 * program suspends (or it imports modules) — a dynamic call that could reach such a function.
 */
export class Analysis {
  /** bodies (keyed by their first statement, see bodyKey) that suspend */
  private readonly suspending = new Set<object>();
  /** name/arity of named functions that suspend, and their names (method-style calls) */
  private readonly fnKeys = new Set<string>();
  private readonly fnNames = new Set<string>();
  private dyn = false;
  private readonly memo = new WeakMap<object, boolean>();
  private readonly defs: Map<string, A.FnDef>;
  readonly any: boolean;

  constructor(
    prog: A.Program,
    private readonly info: AsyncInfo,
  ) {
    this.defs = new Map(prog.functions.filter((d) => d.thisType === undefined).map((d) => [d.name + '/' + d.params.length, d]));
    const bodies: { key: object; nodes: unknown; def?: A.FnDef }[] = [{ key: bodyKey(prog.statements), nodes: prog.statements }];
    let imports = false;
    const collect = (n: { k: string }): void => {
      if (n.k === 'Closure') bodies.push({ key: (n as A.ClosureExpr).body, nodes: (n as A.ClosureExpr).body });
      if (n.k === 'Import') imports = true;
    };
    for (const d of prog.functions) bodies.push({ key: bodyKey(d.body.body), nodes: d.body.body, def: d });
    walkNodes(prog, collect, true);
    this.dyn = imports;
    for (let changed = true; changed; ) {
      changed = false;
      for (const b of bodies) {
        if (this.suspending.has(b.key)) continue;
        let hit = false;
        walkNodes(b.nodes, (n) => {
          if (!hit && this.site(n)) hit = true;
        });
        if (hit) {
          this.suspending.add(b.key);
          if (b.def) {
            this.fnKeys.add(b.def.name + '/' + b.def.params.length);
            this.fnNames.add(b.def.name);
          }
          this.dyn = true;
          changed = true;
        }
      }
    }
    this.any = this.suspending.size > 0;
  }

  /** Does this function body (as given to compileFnBody) suspend? */
  body(body: readonly A.Stmt[]): boolean {
    return this.suspending.has(bodyKey(body));
  }

  /** Can evaluating this node (outside nested closure bodies) suspend? */
  may(n: A.Expr | A.Stmt | readonly A.Stmt[] | undefined): boolean {
    if (!n || !this.any) return false;
    const m = this.memo.get(n);
    if (m !== undefined) return m;
    let hit = false;
    walkNodes(n, (x) => {
      if (!hit && this.site(x)) hit = true;
    });
    this.memo.set(n, hit);
    return hit;
  }

  /** Can this call itself (not its arguments) suspend? */
  site(n: { k: string }): boolean {
    if (testing.everyCall && n.k === 'Method' && (n as A.MethodExpr).name !== 'is_shared') return true;
    if (n.k === 'Call') {
      const c = n as A.CallExpr;
      const nargs = c.args.length;
      if (testing.everyCall && (c.ns || c.capture || (c.name === 'call' && nargs >= 1) || this.defs.has(c.name + '/' + nargs))) return true;
      if (c.ns) {
        const ns = c.ns.join('::');
        return this.info.isHostModule(ns) ? this.info.isAsync(ns, c.name) : true;
      }
      if (c.capture) return this.dyn;
      if (c.name === 'call' && nargs >= 1) return this.dyn;
      if (this.defs.has(c.name + '/' + nargs)) return this.fnKeys.has(c.name + '/' + nargs);
      if (this.info.isAsync(undefined, c.name)) return true;
      return HOF.has(c.name) && nargs >= 2 && this.dyn;
    }
    if (n.k === 'Method') {
      const m = n as A.MethodExpr;
      if (this.fnNames.has(m.name) || this.info.isAsync(undefined, m.name)) return true;
      if (m.name === 'call' || HOF.has(m.name)) return this.dyn;
      return this.dyn && !this.info.isNative(m.name);
    }
    return false;
  }
}

/** A function body's identity: its statement array, or for a closure (compiled as `[body]`) its one statement. */
function bodyKey(body: readonly A.Stmt[]): object {
  return body.length === 1 ? body[0]! : body;
}
