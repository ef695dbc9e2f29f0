/**
 * A position pass over TOML source: smol-toml gives line/column only for syntax errors, so schema errors
 * (unknown key, wrong type) need the position of every key. This scanner finds `[table]` / `[[array]]` headers
 * and `key = value` lines at bracket depth 0, skipping strings (basic, literal, multi-line) and comments.
 *
 * Result: a map from a key path to its position, e.g. `routes[1].path`, `routes[1]` (the header), `limits`,
 * `env.GREETING`. Lines are 1-based; columns are 1-based characters (code points). Only valid TOML is scanned
 * (syntax errors were already reported by the parser), so the scanner may be lenient.
 */

export interface KeyPosition {
  line: number;
  col: number;
  /** where the value starts (same line for a key; the header position for a table) */
  valueLine: number;
  valueCol: number;
}

export function scanTomlPositions(source: string): Map<string, KeyPosition> {
  const out = new Map<string, KeyPosition>();
  const arrayCounts = new Map<string, number>();
  // UTF-16 units are walked directly (no array of characters: a 1 MB manifest stays one string); a low surrogate
  // does not advance the column, so columns still count code points
  const n = source.length;
  let i = 0;
  let line = 1;
  let col = 1;
  let prefix = '';
  let depth = 0;
  let atLineStart = true;

  const peek = (k = 0) => source[i + k] ?? '';
  const adv = () => {
    if (i >= n) return '';
    const u = source.charCodeAt(i);
    const c = source[i++]!;
    if (u === 10) {
      line++;
      col = 1;
      atLineStart = true;
    } else if (u < 0xdc00 || u > 0xdfff) col++;
    return c;
  };
  const skipString = () => {
    const q = peek();
    const triple = peek(1) === q && peek(2) === q;
    adv();
    if (triple) {
      adv();
      adv();
      while (i < n && !(peek() === q && peek(1) === q && peek(2) === q)) {
        if (q === '"' && peek() === '\\') adv();
        adv();
      }
      adv();
      adv();
      adv();
      while (peek() === q) adv(); // up to two extra quotes belong to the content
      return;
    }
    while (i < n && peek() !== q && peek() !== '\n') {
      if (q === '"' && peek() === '\\') adv();
      adv();
    }
    adv();
  };
  const readKeyPart = (): string => {
    const c = peek();
    if (c === '"' || c === "'") {
      const start = i;
      skipString();
      const raw = source.slice(start + 1, i - 1);
      return c === '"' ? raw.replace(/\\(.)/g, '$1') : raw;
    }
    let s = '';
    while (/[A-Za-z0-9_-]/.test(peek())) s += adv();
    return s;
  };
  const skipSpaces = () => {
    while (peek() === ' ' || peek() === '\t') adv();
  };
  const readDottedKey = (): string[] => {
    const parts: string[] = [];
    for (;;) {
      skipSpaces();
      parts.push(readKeyPart());
      skipSpaces();
      if (peek() === '.') adv();
      else return parts;
    }
  };

  while (i < n) {
    const c = peek();
    if (c === '\n') {
      adv();
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      adv();
      continue;
    }
    if (c === '#') {
      while (i < n && peek() !== '\n') adv();
      continue;
    }
    if (c === '"' || c === "'") {
      if (depth === 0 && atLineStart) {
        // a quoted key at the start of a line
        const kl = line;
        const kc = col;
        atLineStart = false;
        const parts = readDottedKey();
        recordKey(parts, kl, kc);
        continue;
      }
      skipString();
      continue;
    }
    if (depth === 0 && atLineStart && c === '[') {
      const hl = line;
      const hc = col;
      const isArray = peek(1) === '[';
      adv();
      if (isArray) adv();
      const name = readDottedKey().join('.');
      adv();
      if (isArray) adv();
      atLineStart = false;
      if (isArray) {
        const n = arrayCounts.get(name) ?? 0;
        arrayCounts.set(name, n + 1);
        prefix = `${name}[${n}]`;
      } else prefix = name;
      out.set(prefix, { line: hl, col: hc, valueLine: hl, valueCol: hc });
      continue;
    }
    if (depth === 0 && atLineStart && /[A-Za-z0-9_-]/.test(c)) {
      const kl = line;
      const kc = col;
      atLineStart = false;
      const parts = readDottedKey();
      recordKey(parts, kl, kc);
      continue;
    }
    atLineStart = false;
    if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
    adv();
  }
  return out;

  function recordKey(parts: string[], kl: number, kc: number): void {
    skipSpaces();
    if (peek() === '=') adv();
    skipSpaces();
    const full = (prefix ? `${prefix}.` : '') + parts.join('.');
    out.set(full, { line: kl, col: kc, valueLine: line, valueCol: col });
  }
}
