/**
 * Deploy diagnostics: every problem of a push is one of these, printed as `path:line:col: message`, then the
 * source line and a caret (architecture.md §3). Rhai compile diagnostics arrive pre-rendered by the engine's
 * `formatPretty`; everything else is rendered here in the same shape.
 *
 * A push shows at most MAX_SHOWN_DIAGNOSTICS problems, then one line "… and N more problems". The producers
 * stop building diagnostic objects at that cap and only count the rest (DiagnosticList), so a manifest with
 * thousands of conflicting routes costs a counter, not millions of objects.
 */

export interface DeployDiagnostic {
  path: string;
  line: number;
  col: number;
  message: string;
  /** the full rendering (first line `path:line:col: message`), when already rendered */
  rendered?: string;
}

/** At most this many problems are shown for one tree. */
export const MAX_SHOWN_DIAGNOSTICS = 100;

/** A list of diagnostics that keeps the first `cap` and counts the others. */
export class DiagnosticList {
  readonly items: DeployDiagnostic[] = [];
  /** diagnostics reported but not kept */
  more = 0;
  constructor(readonly cap = MAX_SHOWN_DIAGNOSTICS) {}
  push(d: DeployDiagnostic): void {
    if (this.items.length < this.cap) this.items.push(d);
    else this.more++;
  }
  /** count `n` diagnostics without building them (the list is full) */
  skip(n: number): void {
    this.more += n;
  }
  get full(): boolean {
    return this.items.length >= this.cap;
  }
  get total(): number {
    return this.items.length + this.more;
  }
}

/** The line "and N more" that closes a capped list of problems. */
export const moreLine = (n: number): string => `... and ${n} more problem${n === 1 ? '' : 's'} (only the first ${MAX_SHOWN_DIAGNOSTICS} are shown)`;

/** Keep the first MAX_SHOWN_DIAGNOSTICS of `problems` (+ `more` not even rendered), closing with "and N more". */
export function capProblems(problems: string[], more = 0): string[] {
  const hidden = Math.max(0, problems.length - MAX_SHOWN_DIAGNOSTICS) + more;
  if (hidden === 0) return problems;
  return [...problems.slice(0, MAX_SHOWN_DIAGNOSTICS), moreLine(hidden)];
}

/** Line starts of the last source rendered: rendering 100 diagnostics of a 1 MB file splits it once, not 100 times. */
let lastSource: string | null = null;
let lastStarts: number[] = [];

/** The text of 1-based line `line` of `source` (without its `\n`), or undefined past the end. */
function sourceLine(source: string, line: number): string | undefined {
  if (source !== lastSource) {
    lastStarts = [0];
    for (let i = source.indexOf('\n'); i !== -1; i = source.indexOf('\n', i + 1)) lastStarts.push(i + 1);
    lastSource = source;
  }
  const start = lastStarts[line - 1];
  if (start === undefined) return undefined;
  const next = lastStarts[line];
  return source.slice(start, next === undefined ? source.length : next - 1);
}

/** `path:line:col: message` + source line + caret (when the source is known and the line exists). */
export function renderDiagnostic(d: DeployDiagnostic, source?: string): string {
  if (d.rendered) return d.rendered;
  const head = `${d.path}:${d.line}:${d.col}: ${d.message}`;
  if (source === undefined) return head;
  const text = sourceLine(source, d.line);
  if (text === undefined) return head;
  const { shown, caretAt } = lineWindow(text.replace(/\r$/, ''), d.col);
  let pad = '';
  for (let i = 0; i < caretAt; i++) pad += shown[i] === '\t' ? '\t' : ' ';
  return `${head}\n${shown.join('')}\n${pad}^`;
}

/** Characters shown around the caret when a source line is long (a 1 MB one-line script is not echoed whole). */
const WINDOW = 120;

/** The characters of `text` to show for a caret at 1-based column `col` (with "…" where cut), and the caret's index. */
function lineWindow(text: string, col: number): { shown: string[]; caretAt: number } {
  if (text.length <= 2 * WINDOW) return { shown: Array.from(text), caretAt: col - 1 };
  // walk code points up to the window's start only, then take at most 2 * WINDOW of them
  const first = Math.max(0, col - 1 - WINDOW);
  let i = 0;
  for (let k = 0; k < first && i < text.length; k++) i += text.codePointAt(i)! > 0xffff ? 2 : 1;
  const shown: string[] = first > 0 ? ['…'] : [];
  let taken = 0;
  for (; i < text.length && taken < 2 * WINDOW; taken++) {
    const cp = text.codePointAt(i)!;
    shown.push(String.fromCodePoint(cp));
    i += cp > 0xffff ? 2 : 1;
  }
  if (i < text.length) shown.push('…');
  return { shown, caretAt: col - 1 - first + (first > 0 ? 1 : 0) };
}

/** Sort diagnostics by path, then position. */
export const byPosition = (a: DeployDiagnostic, b: DeployDiagnostic): number =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line || a.col - b.col;
