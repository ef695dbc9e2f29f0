/**
 * Generates docs/stdlib.md from the engine's function registry, so the list cannot drift from the code:
 * - the standard library: every overload of every stdlib package (`standardPackages`, one section each);
 * - the handler functions and host modules: whatever the executor's `Runner` registers on its engines
 *   (read from a live engine, so `http::`, `queue::` … appear as soon as they are registered).
 *
 *   npm run docs:stdlib            writes docs/stdlib.md
 *
 * test/unit/stdlib-doc.test.ts regenerates it in memory and fails when the file is out of date.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, Registry, standardPackages, type FnSignature, type TypeTag } from '../../src/rhai/index.ts';
import { Runner, type HostBridge } from '../../src/executor/run.ts';

export const STDLIB_DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/stdlib.md');

/** Rhai's type names (`type_of`) for the registry's type tags. */
const TYPE: Record<TypeTag, string> = {
  int: 'i64',
  float: 'f64',
  bool: 'bool',
  char: 'char',
  string: 'string',
  unit: '()',
  array: 'array',
  map: 'map',
  blob: 'blob',
  fnptr: 'Fn',
  timestamp: 'timestamp',
  range: 'range',
  rangeInclusive: 'range=',
  any: 'any',
};

const SECTIONS: Record<string, { title: string; intro: string }> = {
  core: { title: 'Core', intro: 'Type inspection, JSON parsing and value helpers.' },
  arithmetic: { title: 'Numbers', intro: 'Integer (`i64`) and float (`f64`) functions, conversions and math.' },
  iter: { title: 'Ranges and iteration', intro: '`range(...)` builds iterators for `for` loops; `a..b` and `a..=b` are ranges.' },
  bits: { title: 'Bit fields', intro: 'Bits of an integer: `x[3]`, `x.get_bit(3)`, `x.bits(0, 8)`.' },
  array: { title: 'Arrays', intro: 'Functions on arrays. Callbacks receive `(item)` or `(item, index)`.' },
  blob: { title: 'BLOBs', intro: 'Byte buffers (`blob(n)`), reading and writing integers, floats and text.' },
  map: { title: 'Object maps', intro: 'Functions on maps (`#{...}`). Maps have no properties: `m.len` is the key `"len"`; call `m.len()`.' },
  time: { title: 'Timestamps', intro: '`timestamp()` is a monotonic clock for measuring durations; wall-clock time is `now()` (below).' },
  fnptr: { title: 'Function pointers', intro: 'Function pointers and closures (`Fn("name")`, `|x| x + 1`).' },
  string: { title: 'Strings and characters', intro: 'Strings index and count by character. `print`/`debug`/`to_string`/`to_debug` convert any value.' },
};

/** Handled by the compiler itself (special forms), so they are not in the registry. */
const SPECIAL_FORMS: ReadonlyArray<[string, string]> = [
  ['print(x)', 'prints `x` in its display form (a handler\'s `print` lines go to its log)'],
  ['debug(x)', 'prints `x` in its debug form (strings quoted)'],
  ['type_of(x)', 'the type name: `"i64"`, `"string"`, `"map"`, …'],
  ['Fn("name")', 'a function pointer to a script or native function'],
  ['f.call(args…)` / `call(f, args…)', 'calls a function pointer or closure'],
  ['f.curry(args…)` / `curry(f, args…)', 'a pointer with arguments bound in front'],
  ['is_def_fn("name", arity)', 'whether a function with this name and arity exists'],
  ['is_def_var("name")', 'whether a variable is visible here'],
  ['is_shared(x)', 'whether a variable is captured by a closure'],
  ['eval("script")', 'runs Rhai source in the current scope'],
  ['exit(value)', 'ends the whole script with `value` as its result'],
];

/** One-line descriptions of host functions (docs/script-contract.md has the full contract); a new one shows up without. */
const HOST_NOTES: Record<string, string> = {
  now: 'unix time in milliseconds',
  response: 'an HTTP response: status 200–599, body (a map or array is sent as JSON), optional headers map',
  redirect: 'a 302 response with `Location` (http:, https: or relative URLs)',
  'kv::get': 'the stored value, or `()`',
  'kv::set': 'stores a JSON-representable value (`()` deletes)',
  'kv::delete': 'removes a key; `true` if it existed',
  'kv::keys': '`keys()` or `keys(prefix)`: the keys starting with `prefix`, sorted',
  'kv::incr': '`incr(key)` or `incr(key, by)`: adds to the integer at `key` (absent: 0) atomically; the new value',
  'queue::send': '`send(name, value)` or `send(name, value, #{ delay_ms })`: enqueues a job for the `[[queues]]` handler `name`; returns its id',
  'http::fetch': 'outbound HTTP: `#{ status, headers, body, json }`; options `method`, `headers`, `body`, `timeout_ms`; errors start with FETCH_DENIED/TIMEOUT/LIMIT/FAILED',
  'json::parse': 'JSON text to a value (objects become maps)',
  'json::stringify': 'a value to JSON text',
};

const isOperator = (name: string): boolean => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name);

export function signature(s: FnSignature, display = s.name): string {
  const ps = s.params.map((p) => TYPE[p] ?? p);
  if (s.variadic) ps.push('…');
  return `${display}(${ps.join(', ')})`;
}

/** How an overload is written in the doc: `name(types)`, or `a + b` / `-a` for an operator. */
export function usage(s: FnSignature): string {
  if (!isOperator(s.name) || s.name.includes('$')) return signature(s);
  const t = s.params.map((p) => TYPE[p] ?? p);
  return t.length === 1 ? `${s.name}${t[0]}` : `${t[0]} ${s.name} ${t[1]}`;
}

const key = (s: FnSignature): string => `${s.name}/${s.params.join(',')}/${s.variadic}`;

function notes(s: FnSignature): string {
  const n: string[] = [];
  if (!s.pure && isOperator(s.name)) n.push('changes its left operand');
  else if (!s.pure) n.push('changes its first argument (call it method-style on a variable: `x.' + s.name + '(…)`)');
  return n.join('; ');
}

/** One package's overloads as markdown tables: operators, functions, properties. */
function renderGroup(sigs: readonly FnSignature[]): string[] {
  const out: string[] = [];
  const ops = sigs.filter((s) => isOperator(s.name) && !s.name.includes('$'));
  const props = sigs.filter((s) => s.name.startsWith('get$'));
  const fns = sigs.filter((s) => !isOperator(s.name));
  const byName = (a: FnSignature, b: FnSignature): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if (fns.length) {
    out.push('| function | notes |', '| --- | --- |');
    for (const s of [...fns].sort(byName)) out.push(`| \`${signature(s)}\` | ${notes(s)} |`);
    out.push('');
  }
  if (props.length) {
    const list = [...props].sort(byName).map((s) => `\`${TYPE[s.params[0]!] ?? s.params[0]}.${s.name.slice(4)}\``);
    out.push(`Properties (the zero-argument function read as a property): ${list.join(', ')}.`, '');
  }
  if (ops.length) {
    out.push('| operator | notes |', '| --- | --- |');
    for (const s of [...ops].sort(byName)) out.push(`| \`${usage(s)}\` | ${notes(s)} |`);
    out.push('');
  }
  return out;
}

/** The engine the executor builds for an invocation: the standard library plus every host registration. */
function executorEngine(): Engine {
  const runner = new Runner({ bridge: {} as HostBridge });
  const limits = { maxOperations: 1, timeoutMs: 1, maxBodyBytes: 1, maxStringSize: 1, maxArraySize: 1, maxMapSize: 1, maxCallLevels: 1 };
  // `engineFor` is private: reached on purpose so the doc lists exactly what invocations get
  return (runner as unknown as { engineFor(l: typeof limits): Engine }).engineFor(limits);
}

export function renderStdlibDoc(): string {
  const out: string[] = [
    '# Standard library and host functions',
    '',
    '<!-- Generated by `npm run docs:stdlib` (test/docs/stdlib.ts) from the engine\'s function registry. Do not edit. -->',
    '',
    'Every function a handler can call, each overload with its parameter types (`any` accepts every type, `…` any',
    'number of further arguments). Any function can be called method-style: `s.len()` is `len(s)`. How the language',
    'works is in [handlers.md](handlers.md); what a handler receives and returns is in',
    '[script-contract.md](script-contract.md).',
    '',
    '## Contents',
    '',
    '- [Handler functions and host modules](#handler-functions-and-host-modules)',
    '- [Built into the language](#built-into-the-language)',
    ...standardPackages.map(([name]) => {
      const t = SECTIONS[name]?.title ?? name;
      return `- [${t}](#${t.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')})`;
    }),
    '',
  ];

  // host: what the executor registers beyond the standard library
  const std = new Engine().describeFunctions();
  const stdKeys = new Set(std.global.map(key));
  const host = executorEngine().describeFunctions();
  const hostGlobal = host.global.filter((s) => !stdKeys.has(key(s)));
  out.push('## Handler functions and host modules', '');
  out.push('Registered by the executor for every invocation (src/executor/run.ts).', '');
  if (hostGlobal.length) {
    out.push('| function | notes |', '| --- | --- |');
    for (const s of [...hostGlobal].sort((a, b) => (a.name < b.name ? -1 : 1))) out.push(`| \`${signature(s)}\` | ${HOST_NOTES[s.name] ?? notes(s)} |`);
    out.push('');
  }
  for (const ns of Object.keys(host.modules).sort()) {
    out.push(`### \`${ns}::\``, '', '| function | notes |', '| --- | --- |');
    const sigs = [...host.modules[ns]!].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const s of sigs) out.push(`| \`${signature(s, `${ns}::${s.name}`)}\` | ${HOST_NOTES[`${ns}::${s.name}`] ?? notes(s)} |`);
    out.push('');
  }

  out.push('## Built into the language', '', 'Handled by the compiler rather than the registry:', '');
  out.push('| form | what it does |', '| --- | --- |');
  for (const [form, what] of SPECIAL_FORMS) out.push(`| \`${form}\` | ${what} |`);
  out.push('');

  // the standard library, one section per package, each read from its own registry
  for (const [name, pkg] of standardPackages) {
    const r = new Registry();
    r.use(pkg);
    const s = SECTIONS[name];
    out.push(`## ${s?.title ?? name}`, '', s?.intro ?? '', '');
    out.push(...renderGroup(r.signatures()));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(STDLIB_DOC, renderStdlibDoc());
  console.log(`wrote ${path.relative(process.cwd(), STDLIB_DOC)}`);
}
