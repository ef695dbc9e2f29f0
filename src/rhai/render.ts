/**
 * Rendering diagnostics for people: the short Rhai form and the caret view used in `git push` output.
 */
import type { Diagnostic } from './diagnostics.ts';
import { lineCol, lineText } from './source.ts';

/** Rhai's Display form: `message (line L, position P)`. */
export function formatShort(message: string, pos: { line: number; position: number }): string {
  return `${message} (line ${pos.line}, position ${pos.position})`;
}

/** Short form of a diagnostic against its source text. */
export function formatDiagnostic(source: string, d: Pick<Diagnostic, 'message' | 'offset'>): string {
  return formatShort(d.message, lineCol(source, d.offset));
}

/**
 * `path:line:col: message`, then the source line and a caret under the error column.
 * Tabs in the source line are kept in the caret line's indentation so terminals align them;
 * the caret column counts code points, matching Rhai's position.
 */
export function formatPretty(path: string, source: string, d: Pick<Diagnostic, 'message' | 'offset'>): string {
  const { line, position } = lineCol(source, d.offset);
  const text = lineText(source, line);
  const chars = Array.from(text);
  let pad = '';
  for (let i = 0; i < position - 1 && i < chars.length; i++) pad += chars[i] === '\t' ? '\t' : ' ';
  for (let i = chars.length; i < position - 1; i++) pad += ' ';
  return `${path}:${line}:${position}: ${d.message}\n${text}\n${pad}^`;
}
