/**
 * The `import` statements of a script, found with the lexer alone (no parse): the deploy step resolves every module
 * path within the pushed tree before anything runs (architecture.md §6). An `import` keyword is always the start of
 * an import statement in Rhai, so the token after it is the path expression: a string literal, or something computed
 * at run time (`path: null`), which cannot be resolved ahead of time.
 */
import { tokenize } from './lexer.ts';
import { lineCol } from './source.ts';

export interface ImportRef {
  /** the literal module path (`"lib/util"` → `lib/util`), or null when the path is not a plain string literal */
  path: string | null;
  /** UTF-16 offset of the `import` keyword */
  offset: number;
  line: number;
  position: number;
}

/** Every `import` of `source`, in source order (a lexical error ends the scan: the compile reports it). */
export function scanImports(source: string): ImportRef[] {
  if (!source.includes('import')) return [];
  const toks = tokenize(source);
  const out: ImportRef[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.t !== 'import') continue;
    const p = toks[i + 1];
    const after = toks[i + 2];
    const literal = p !== undefined && p.t === 'str' && after !== undefined && (after.t === 'as' || after.t === ';' || after.t === 'eof' || after.t === '}');
    const lc = lineCol(source, t.pos);
    out.push({ path: literal ? p.s! : null, offset: t.pos, line: lc.line, position: lc.position });
  }
  return out;
}
