/**
 * Deploy diagnostics: every problem of a push is one of these, printed as `path:line:col: message`, then the
 * source line and a caret (architecture.md §3). Rhai compile diagnostics arrive pre-rendered by the engine's
 * `formatPretty`; everything else is rendered here in the same shape.
 */

export interface DeployDiagnostic {
  path: string;
  line: number;
  col: number;
  message: string;
  /** the full rendering (first line `path:line:col: message`), when already rendered */
  rendered?: string;
}

/** `path:line:col: message` + source line + caret (when the source is known and the line exists). */
export function renderDiagnostic(d: DeployDiagnostic, source?: string): string {
  if (d.rendered) return d.rendered;
  const head = `${d.path}:${d.line}:${d.col}: ${d.message}`;
  if (source === undefined) return head;
  const text = source.split('\n')[d.line - 1];
  if (text === undefined) return head;
  const chars = Array.from(text.replace(/\r$/, ''));
  let pad = '';
  for (let i = 0; i < d.col - 1; i++) pad += chars[i] === '\t' ? '\t' : ' ';
  return `${head}\n${chars.join('')}\n${pad}^`;
}

/** Sort diagnostics by path, then position. */
export const byPosition = (a: DeployDiagnostic, b: DeployDiagnostic): number =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : a.line - b.line || a.col - b.col;
