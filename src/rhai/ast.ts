// CHANGELOG for rhai-core: (additive) FnDef.thisType for `fn int.foo()`; docs on open ranges and `?? return`.
// NOTE for rhai-core: src/deploy/engine.ts looks for `formatPretty` on index.ts; render.ts exports
// formatPretty(path, source, {message, offset}) (and formatShort / formatDiagnostic) ready to re-export.

/**
 * The Rhai abstract syntax tree produced by `parse()` (src/rhai/parser.ts).
 *
 * Contract:
 * - Plain JSON-serialisable data: no classes, functions, Maps or bigints. Treat it as immutable; attach
 *   compile-time data (resolved slots, caches) in a side table (e.g. a `WeakMap<Expr, …>`).
 * - Both unions discriminate on `k`.
 * - Every node has `pos`: the UTF-16 offset into the source of the token Rhai reports errors at
 *   (see each kind; for operators it is the operator, for calls the function name). Convert with
 *   `lineCol()` from source.ts.
 * - Integer literals: `value` is a JS number when it is a safe integer (|v| <= 2^53-1), otherwise a
 *   decimal string (still inside i64, e.g. "9223372036854775807"). Literals too big for i64 are already
 *   `Float` nodes. Negative literals (`-5`) are folded by the parser into `Int`/`Float` nodes.
 * - Statement-like constructs that yield values (`if`, `switch`, loops, blocks) are `Expr` kinds; at
 *   statement level they appear wrapped in a `Stmt` of kind `Expr`.
 */

// ---------------------------------------------------------------- operators

/** Binary operators that evaluate both operands (Rhai calls them as functions / built-ins). */
export type BinaryOp =
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '**'
  | '<<'
  | '>>'
  | '&'
  | '|'
  | '^'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  /** `a in b`: Rhai calls `contains(b, a)` */
  | 'in'
  /** `a !in b`: `!contains(b, a)` */
  | '!in'
  /** `a..b` exclusive range */
  | '..'
  /** `a..=b` inclusive range */
  | '..=';

/** Short-circuiting operators. */
export type LogicOp = '&&' | '||' | '??';

export type UnaryOp = '-' | '+' | '!';

/** `=` or compound assignment; `x op= y` behaves exactly as `x = x op y` (op = the text before `=`). */
export type AssignOp = '=' | '+=' | '-=' | '*=' | '/=' | '%=' | '**=' | '<<=' | '>>=' | '&=' | '|=' | '^=';

// ---------------------------------------------------------------- expressions

/** `42`, `0xff`, `1_000`; pos = literal start. value: number if safe integer, else decimal string. */
export interface IntExpr { k: 'Int'; pos: number; value: number | string }
/**
 * `1.5`, `1e3`, `1.`; also integer literals too big for i64. pos = literal start.
 * `value` is ±Infinity for literals beyond the f64 range (`1e400`): JSON.stringify writes those as null.
 */
export interface FloatExpr { k: 'Float'; pos: number; value: number }
/** `true` / `false` */
export interface BoolExpr { k: 'Bool'; pos: number; value: boolean }
/** `'x'`; value is exactly one code point. */
export interface CharExpr { k: 'Char'; pos: number; value: string }
/** `"text"`, `` `text` `` (without `${}`), `#"raw"#`; value is the decoded string. */
export interface StrExpr { k: 'Str'; pos: number; value: string }
/** `()` */
export interface UnitExpr { k: 'Unit'; pos: number }
/** `` `a ${x} b` ``: concatenation of the display forms of `parts` (literal segments are `Str` nodes). pos = opening back-tick. */
export interface InterpExpr { k: 'Interp'; pos: number; parts: Expr[] }
/** `[a, b, c]`; pos = `[`. */
export interface ArrayExpr { k: 'Array'; pos: number; items: Expr[] }
/** One `key: value` of a map literal. */
export interface MapEntry { key: string; keyPos: number; value: Expr }
/** `#{a: 1, "b c": 2}`; entries in source order (duplicate keys are a parse error); pos = `#{`. */
export interface MapExpr { k: 'Map'; pos: number; entries: MapEntry[] }
/**
 * `x`, or namespaced `ns::x` / `global::X` (ns = ['ns'] / ['global']); pos = name start (first segment for
 * namespaced). A bare script-function name used as a value (`let f = foo;`) is also a `Var`.
 */
export interface VarExpr { k: 'Var'; pos: number; name: string; ns?: string[] }
/** `this` */
export interface ThisExpr { k: 'This'; pos: number }
/** `obj.name` / `obj?.name`; pos = the property name; dotPos = `.` or `?.`. */
export interface PropExpr { k: 'Prop'; pos: number; dotPos: number; obj: Expr; name: string; optional: boolean }
/** `obj[index]` / `obj?[index]`; pos = `[` (or `?[`). */
export interface IndexExpr { k: 'Index'; pos: number; obj: Expr; index: Expr; optional: boolean }
/** `obj.name(args)` / `obj?.name(args)`; pos = method name; dotPos = `.` or `?.`. */
export interface MethodExpr {
  k: 'Method';
  pos: number;
  dotPos: number;
  obj: Expr;
  name: string;
  args: Expr[];
  optional: boolean;
}
/**
 * `f(args)`, `ns::f(args)` (ns = ['ns'], `a::b::f` → ['a','b']), `f!(args)` (capture = true: run in the
 * caller's scope). pos = function name (first namespace segment when qualified).
 * `Fn`, `call`, `curry`, `eval`, `type_of`, `is_def_var`, `is_def_fn`, `is_shared`, `print`, `debug` are ordinary calls.
 */
export interface CallExpr { k: 'Call'; pos: number; name: string; ns?: string[]; args: Expr[]; capture: boolean }
/**
 * `left op right` for every non-short-circuit binary operator (incl. `in`, `!in`, `..`, `..=`); pos = operator.
 * Open ranges as Rhai parses them: `..5` is `0..5` (left is an `Int` 0 at the `..`), and `x..` before `]`, `)`,
 * `}`, `,`, `;` or `=>` has a `Unit` right operand.
 */
export interface BinaryExpr { k: 'Binary'; pos: number; op: BinaryOp; left: Expr; right: Expr }
/**
 * `left && right`, `left || right`, `left ?? right`; pos = operator.
 * `x ?? break`/`continue`/`return …`/`throw …`: right is a `Block` holding that one statement.
 */
export interface LogicExpr { k: 'Logic'; pos: number; op: LogicOp; left: Expr; right: Expr }
/** `-x`, `+x`, `!x`; pos = operator. (`-<literal>` is folded into Int/Float.) */
export interface UnaryExpr { k: 'Unary'; pos: number; op: UnaryOp; operand: Expr }
/** `{ stmt; stmt; expr }` — a new scope; value of the last statement. pos = `{`, end = offset of `}`. */
export interface BlockExpr { k: 'Block'; pos: number; end: number; body: Stmt[] }
/** `if cond { … } else if … else { … }`; otherwise is a Block or an If; missing else yields `()`. pos = `if`. */
export interface IfExpr { k: 'If'; pos: number; cond: Expr; then: BlockExpr; otherwise?: BlockExpr | IfExpr }
/**
 * One `switch` arm: `v1 | v2 if guard => body`. Each value is a literal node (Int/Float/Bool/Char/Str/Unit,
 * negative numbers folded) or a `Binary` with op `..`/`..=` whose operands are `Int` literals.
 * body is a statement (usually `Expr`; may be `return`, `break`, `throw`, a block …). pos = first value.
 */
export interface SwitchCase { pos: number; values: Expr[]; guard?: Expr; body: Stmt }
/** `switch subject { cases…, _ => default }`; pos = `switch`. defaultPos = the `_`. */
export interface SwitchExpr {
  k: 'Switch';
  pos: number;
  subject: Expr;
  cases: SwitchCase[];
  default?: Stmt;
  defaultPos?: number;
}
/** `while cond { … }`; value `()` unless broken with a value. pos = `while`. */
export interface WhileExpr { k: 'While'; pos: number; cond: Expr; body: BlockExpr }
/** `loop { … }`; pos = `loop`. */
export interface LoopExpr { k: 'Loop'; pos: number; body: BlockExpr }
/** `do { … } while cond` (until = false) / `do { … } until cond` (until = true); pos = `do`. */
export interface DoExpr { k: 'Do'; pos: number; body: BlockExpr; cond: Expr; until: boolean }
/** `for x in iterable { … }` / `for (x, i) in iterable { … }`; pos = `for`. */
export interface ForExpr {
  k: 'For';
  pos: number;
  var: string;
  varPos: number;
  counter?: string;
  counterPos?: number;
  iterable: Expr;
  body: BlockExpr;
}
/**
 * `|a, b| body` / `|| body` (body is a statement: an expression, a block, or e.g. an assignment `|| x += 1`).
 * Like a script `fn`, the body sees only its params, `this`, its own locals and `captures`.
 * captures = outer variables the closure shares (Rhai `external_vars`), in first-use order; see parser.ts.
 * pos = the opening `|` (or `||`).
 */
export interface ClosureExpr { k: 'Closure'; pos: number; params: Param[]; body: Stmt; captures: string[] }

export type Expr =
  | IntExpr
  | FloatExpr
  | BoolExpr
  | CharExpr
  | StrExpr
  | UnitExpr
  | InterpExpr
  | ArrayExpr
  | MapExpr
  | VarExpr
  | ThisExpr
  | PropExpr
  | IndexExpr
  | MethodExpr
  | CallExpr
  | BinaryExpr
  | LogicExpr
  | UnaryExpr
  | BlockExpr
  | IfExpr
  | SwitchExpr
  | WhileExpr
  | LoopExpr
  | DoExpr
  | ForExpr
  | ClosureExpr;

// ---------------------------------------------------------------- statements

/** `;` on its own; value `()`. */
export interface NoopStmt { k: 'Noop'; pos: number }
/** An expression used as a statement (including `if`/`switch`/loops/blocks); its value is the statement's value. pos = expr.pos. */
export interface ExprStmt { k: 'Expr'; pos: number; expr: Expr }
/**
 * `let x = value;` / `let x;` (value `()`), `const X = value;`, with `export` prefix → exported = true.
 * pos = the variable name (Rhai reports variable errors there); kwPos = `let`/`const`/`export`.
 */
export interface LetStmt {
  k: 'Let';
  pos: number;
  kwPos: number;
  name: string;
  value?: Expr;
  constant: boolean;
  exported: boolean;
}
/**
 * `target = value` / `target op= value`. target is a `Var`, `This`, or a chain of `Prop`/`Index` ending in a
 * `Var`/`This` (validated by the parser). pos = the assignment operator.
 */
export interface AssignStmt { k: 'Assign'; pos: number; op: AssignOp; target: Expr; value: Expr }
/** `break;` / `break value;`; pos = `break`. */
export interface BreakStmt { k: 'Break'; pos: number; value?: Expr }
/** `continue;`; pos = `continue`. */
export interface ContinueStmt { k: 'Continue'; pos: number }
/** `return;` / `return value;`; pos = `return`. */
export interface ReturnStmt { k: 'Return'; pos: number; value?: Expr }
/** `throw;` / `throw value;` (bare `throw` inside `catch` re-throws; elsewhere throws `()`); pos = `throw`. */
export interface ThrowStmt { k: 'Throw'; pos: number; value?: Expr }
/** `try { … } catch (e) { … }` / `try { … } catch { … }`; value `()`. pos = `try`. */
export interface TryStmt {
  k: 'Try';
  pos: number;
  body: BlockExpr;
  catchVar?: string;
  catchVarPos?: number;
  catchBody: BlockExpr;
}
/** `import "path" as name;` / `import expr;` (path is any expression, usually a Str); pos = `import`. */
export interface ImportStmt { k: 'Import'; pos: number; path: Expr; alias?: string; aliasPos?: number }
/** One `name` or `name as alias` in an `export` list. */
export interface ExportItem { name: string; pos: number; alias?: string }
/** `export x, y as z;` (top level only); pos = `export`. (`export let/const` is a `Let` with exported = true.) */
export interface ExportStmt { k: 'Export'; pos: number; items: ExportItem[] }

export type Stmt =
  | NoopStmt
  | ExprStmt
  | LetStmt
  | AssignStmt
  | BreakStmt
  | ContinueStmt
  | ReturnStmt
  | ThrowStmt
  | TryStmt
  | ImportStmt
  | ExportStmt;

// ---------------------------------------------------------------- functions and program

export interface Param { name: string; pos: number }

/**
 * `fn name(a, b) { … }` / `private fn name() { … }` (top level only; comments/doc comments dropped).
 * pos = the function name; body.pos = `{`.
 */
export interface FnDef {
  name: string;
  pos: number;
  params: Param[];
  body: BlockExpr;
  private: boolean;
  /** `fn int.foo()` / `fn "MyType".foo()`: the only type `this` may have ('i64' for int, 'f64' for float) */
  thisType?: string;
}

/** A parsed script: top-level statements in order, and hoisted function definitions in source order. */
export interface Program { statements: Stmt[]; functions: FnDef[] }

export type Node = Expr | Stmt;
