/**
 * Rhai tokens (src/tokenizer.rs `Token`).
 *
 * A token's kind `t` is its literal syntax for symbols and keywords (`'+='`, `'while'`, `'#{'` …), with two
 * exceptions: unary operators are `'u+'` / `'u-'` (Rhai `UnaryPlus` / `UnaryMinus`, displayed as `+` / `-`), and
 * value-carrying tokens use a word kind: `int`, `float`, `ident`, `char`, `str`, `interp` (a string segment
 * ending in `${`), `reserved` (a reserved keyword/symbol, or a disabled one), `lexerr` and `eof`.
 */

export type SymbolKind =
  | '{' | '}' | '(' | ')' | '[' | ']' | '()'
  | '+' | 'u+' | '-' | 'u-' | '*' | '/' | '%' | '**' | '<<' | '>>'
  | ';' | ':' | '::' | '=>' | '_' | ',' | '.' | '?.' | '??' | '?[' | '..' | '..=' | '#{' | '='
  | '<' | '>' | '<=' | '>=' | '==' | '!=' | '!' | '|' | '||' | '^' | '&' | '&&'
  | '+=' | '-=' | '*=' | '/=' | '<<=' | '>>=' | '&=' | '|=' | '^=' | '%=' | '**=';

export type KeywordKind =
  | 'true' | 'false' | 'let' | 'const' | 'if' | 'else' | 'switch' | 'do' | 'while' | 'until' | 'loop' | 'for'
  | 'in' | '!in' | 'fn' | 'continue' | 'break' | 'return' | 'throw' | 'try' | 'catch' | 'private' | 'import'
  | 'export' | 'as';

export type ValueKind = 'int' | 'float' | 'ident' | 'char' | 'str' | 'interp' | 'reserved' | 'lexerr' | 'eof';

export type TokenKind = SymbolKind | KeywordKind | ValueKind;

export interface Token {
  t: TokenKind;
  /** UTF-16 offset of the token start (for a negative number literal: the `-`) */
  pos: number;
  /** UTF-16 offset just past the token */
  end: number;
  /** ident/reserved: the name; str/interp: decoded text; char: the char; lexerr: the Rhai message */
  s?: string;
  /** int: the value (number if safe integer, else decimal string); float: the value */
  n?: number | string;
  /** lexerr: ParseErrorType code, e.g. "BadInput/MalformedEscapeSequence" */
  code?: string;
}

/** Identifier-like words that are tokens (`Token::lookup_symbol_from_syntax` for words). */
export const KEYWORDS: ReadonlySet<string> = new Set<string>([
  'true', 'false', 'let', 'const', 'if', 'else', 'switch', 'do', 'while', 'until', 'loop', 'for', 'in',
  'fn', 'continue', 'break', 'return', 'throw', 'try', 'catch', 'private', 'import', 'export', 'as', '_',
]);

/**
 * Reserved keywords and symbols (`is_reserved_keyword_or_symbol` in src/tokenizer.rs):
 * value = [callable as a function, callable in method style].
 */
export const RESERVED: ReadonlyMap<string, readonly [boolean, boolean]> = new Map<string, readonly [boolean, boolean]>([
  ['?', [false, false]], ['use', [false, false]], ['case', [false, false]], ['async', [false, false]],
  ['public', [false, false]], ['package', [false, false]], ['super', [false, false]], ['#', [false, false]],
  ['var', [false, false]], ['protected', [false, false]], ['spawn', [false, false]], ['shared', [false, false]],
  ['is', [false, false]], ['===', [false, false]], ['sync', [false, false]], ['curry', [true, true]],
  ['static', [false, false]], ['default', [false, false]], ['!==', [false, false]], ['is_shared', [true, true]],
  ['print', [true, false]], ['#!', [false, false]], ['this', [false, false]], ['is_def_var', [true, false]],
  ['thread', [false, false]], ['is_def_fn', [true, false]], ['yield', [false, false]], ['new', [false, false]],
  ['call', [true, true]], ['match', [false, false]], ['~', [false, false]], ['!.', [false, false]],
  ['eval', [true, false]], ['await', [false, false]], [':=', [false, false]], ['...', [false, false]],
  ['null', [false, false]], ['debug', [true, false]], ['@', [false, false]], ['type_of', [true, true]],
  ['with', [false, false]], ['<-', [false, false]], ['void', [false, false]], ['--', [false, false]],
  ['nil', [false, false]], ['<|', [false, false]], ['$', [false, false]], ['->', [false, false]],
  ['|>', [false, false]], ['module', [false, false]], ['Fn', [true, false]], ['::<', [false, false]],
  ['++', [false, false]], [':;', [false, false]], ['*)', [false, false]], ['(*', [false, false]],
  ['go', [false, false]], ['goto', [false, false]],
]);

/** Rhai `is_valid_identifier` (v1.25 / book rule): an ASCII letter must come before any digit. */
export function isValidIdentifier(name: string): boolean {
  let firstAlpha = false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 95 /* _ */) continue;
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
      firstAlpha = true;
      continue;
    }
    if (!firstAlpha) return false;
    if (c >= 48 && c <= 57) continue;
    return false;
  }
  return firstAlpha;
}

/** Rhai `is_valid_function_name`. */
export function isValidFunctionName(name: string): boolean {
  return isValidIdentifier(name) && !RESERVED.has(name) && !KEYWORDS.has(name);
}

/** Binary operator precedence (`Token::precedence`); 0 = not a binary operator. */
export function precedence(t: TokenKind): number {
  switch (t) {
    case '||':
    case '^':
    case '|':
      return 30;
    case '&&':
    case '&':
      return 60;
    case '==':
    case '!=':
      return 90;
    case 'in':
    case '!in':
      return 110;
    case '<':
    case '<=':
    case '>':
    case '>=':
      return 130;
    case '??':
      return 135;
    case '..':
    case '..=':
      return 140;
    case '+':
    case '-':
      return 150;
    case '/':
    case '*':
    case '%':
      return 180;
    case '**':
      return 190;
    case '<<':
    case '>>':
      return 210;
    default:
      return 0;
  }
}

/** Tokens after which a `+`/`-` is unary (`Token::is_next_unary`). */
const NEXT_UNARY: ReadonlySet<string> = new Set<string>([
  ';', ':', ',', '??', '..', '..=', '{', '(', '[', '+', '+=', 'u+', '-', '-=', 'u-', '*', '*=', '/', '/=',
  '%', '%=', '**', '**=', '<<', '<<=', '>>', '>>=', '=', '==', '!=', '<', '>', '!', '<=', '>=', '|', '&',
  'if', 'while', 'until', 'in', '!in', '&&', '&=', '||', '|=', '^', '^=', 'return', 'throw', '?[', 'lexerr',
]);

export function isNextUnary(t: TokenKind): boolean {
  return NEXT_UNARY.has(t);
}

/** Is this token kind a literal symbol/keyword (has a fixed syntax)? */
export function isLiteralKind(t: TokenKind): boolean {
  switch (t) {
    case 'int':
    case 'float':
    case 'ident':
    case 'char':
    case 'str':
    case 'interp':
    case 'reserved':
    case 'lexerr':
    case 'eof':
      return false;
    default:
      return true;
  }
}

/** Literal syntax of a literal token kind (`Token::literal_syntax`). */
export function literalSyntax(t: TokenKind): string {
  if (t === 'u+') return '+';
  if (t === 'u-') return '-';
  return t;
}

/** Standard keywords (`Token::is_standard_keyword`). */
export function isStandardKeyword(t: TokenKind): boolean {
  switch (t) {
    case 'fn':
    case 'private':
    case 'import':
    case 'export':
    case 'as':
    case 'true':
    case 'false':
    case 'let':
    case 'const':
    case 'if':
    case 'else':
    case 'do':
    case 'while':
    case 'until':
    case 'loop':
    case 'for':
    case 'in':
    case 'continue':
    case 'break':
    case 'return':
    case 'throw':
    case 'try':
    case 'catch':
      return true;
    default:
      return false;
  }
}

export function isOpAssignment(t: TokenKind): boolean {
  switch (t) {
    case '+=':
    case '-=':
    case '*=':
    case '/=':
    case '<<=':
    case '>>=':
    case '%=':
    case '**=':
    case '&=':
    case '|=':
    case '^=':
      return true;
    default:
      return false;
  }
}

/** Rust-style display of an f64 (Rhai `FloatWrapper` Display), used in token display text. */
export function displayFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return '0.0';
  const abs = Math.abs(x);
  if (abs > 10000000000000.0 || abs < 0.0000000000001) {
    // Rust `{:e}`: shortest mantissa, exponent without '+'
    const [m, e] = x.toExponential().split('e');
    return `${m}e${e!.startsWith('+') ? e!.slice(1) : e}`;
  }
  const s = String(x);
  if (s.includes('e')) {
    // JS uses exponent for < 1e-6; Rust prints plain decimals here
    return x.toFixed(20).replace(/0+$/, '').replace(/\.$/, '.0');
  }
  return Number.isInteger(x) ? `${s}.0` : s;
}

/** Display text of a token (Rhai `impl Display for Token`), used in "Unexpected '…'" messages. */
export function tokenText(tok: Token): string {
  switch (tok.t) {
    case 'int':
      return String(tok.n);
    case 'float':
      return displayFloat(tok.n as number);
    case 'str':
      return `"${tok.s}"`;
    case 'interp':
      return 'string';
    case 'char':
    case 'ident':
    case 'reserved':
    case 'lexerr':
      return tok.s ?? '';
    case 'eof':
      return '{EOF}';
    default:
      return literalSyntax(tok.t);
  }
}
