/**
 * Source positions. The AST and diagnostics store UTF-16 offsets; line/position are derived on demand the way
 * Rhai's `Position` counts them: line is 1-based, position is the 1-based character (Unicode code point) within
 * the line, where `\n` starts a new line (a `\r` counts as an ordinary character, as in Rhai's tokenizer).
 * End of input is reported one character past the last character of the last line.
 */

export interface LineCol {
  /** 1-based line */
  line: number;
  /** 1-based character (code point) within the line */
  position: number;
}

/** Line and Rhai position of a UTF-16 offset into `text` (offsets past the end clamp to the end). */
export function lineCol(text: string, offset: number): LineCol {
  const end = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, position: positionIn(text, lineStart, end) };
}

/**
 * Line starts of one text, for many look-ups: each `lineCol` is a binary search over the table plus a walk of
 * the one line, instead of a scan of the text from its start per look-up.
 */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(private readonly text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }
  lineCol(offset: number): LineCol {
    const end = Math.max(0, Math.min(offset, this.text.length));
    // the last line start <= end (a `\n` at `end` itself still belongs to the line it ends)
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= end) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, position: positionIn(this.text, this.starts[lo]!, end) };
  }
}

/** 1-based Rhai position of `end` on the line starting at `lineStart` (code points, a surrogate pair is one). */
function positionIn(text: string, lineStart: number, end: number): number {
  let position = 1;
  for (let i = lineStart; i < end; i++) {
    const c = text.charCodeAt(i);
    // a high surrogate followed by a low surrogate is one code point
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    position++;
  }
  return position;
}

/** The text of the 1-based line `line` (without its line terminator). */
export function lineText(text: string, line: number): string {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const i = text.indexOf('\n', start);
    if (i === -1) return '';
    start = i + 1;
  }
  let end = text.indexOf('\n', start);
  if (end === -1) end = text.length;
  if (end > start && text.charCodeAt(end - 1) === 13) end--;
  return text.slice(start, end);
}
