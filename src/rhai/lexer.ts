/**
 * Pull-based Rhai tokenizer (src/tokenizer.rs `get_next_token_inner` + `TokenIterator::next`).
 *
 * The parser asks for one token at a time with `next()`. Lexical errors are returned as `lexerr` tokens
 * (Rhai `Token::LexError`) carrying the Rhai code and message; the parser turns them into diagnostics.
 * Interpolated back-tick strings: a segment ending in `${` is an `interp` token; after the parser has consumed
 * the `}` that closes the interpolated block it calls `resumeText()` and the next token is the rest of the string
 * (`str` when it ends with the back-tick, `interp` when another `${` follows).
 *
 * Rhai quirks kept on purpose: a `-` directly before a digit where a unary operator may stand is part of the
 * number literal (so `-0x10` is "Invalid number: 'x10'", as in Rhai); `''` and `( )` are errors; `"…"` strings
 * have no `\0` or `\'` escape; a doubled quote inside a string is a literal quote.
 */
import { msg } from './diagnostics.ts';
import {
  KEYWORDS,
  RESERVED,
  isLiteralKind,
  isNextUnary,
  isValidIdentifier,
  literalSyntax,
  type Token,
  type TokenKind,
} from './tokens.ts';

export interface LexerOptions {
  /** max string literal length in UTF-8 bytes, 0 = unlimited */
  maxStringSize?: number;
  /** disabled keywords/symbols */
  disabled?: ReadonlySet<string>;
}

const EMPTY: ReadonlySet<string> = new Set();

function isIdStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isIdContinue(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}
function isAsciiAlpha(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
/** Rust `char::is_whitespace` (Unicode White_Space). */
function isUnicodeWhitespace(c: number): boolean {
  return (
    (c >= 9 && c <= 13) ||
    c === 32 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}
function utf8Len(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

const MAX_U64 = 18446744073709551615n;
const TWO_64 = 18446744073709551616n;
const MAX_I64 = 9223372036854775807n;
const MIN_I64 = -9223372036854775808n;

/** Canonical JS form of an i64: number when safe, else decimal string. */
function intValue(b: bigint): number | string {
  return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b.toString();
}

const IMPROPER: Readonly<Record<string, string>> = {
  '===': "'===' is not a valid operator. This is not JavaScript! Should it be '=='?",
  '!==': "'!==' is not a valid operator. This is not JavaScript! Should it be '!='?",
  '->': "'->' is not a valid symbol. This is not C or C++!",
  '<-': "'<-' is not a valid symbol. This is not Go! Should it be '<='?",
  ':=': "':=' is not a valid assignment operator. This is not Go or Pascal! Should it be simply '='?",
  ':;': "':;' is not a valid symbol. Should it be '::'?",
  '::<': "'::<>' is not a valid symbol. This is not Rust! Should it be '::'?",
  '(*': "'(* .. *)' is not a valid comment format. This is not Pascal! Should it be '/* .. */'?",
  '*)': "'(* .. *)' is not a valid comment format. This is not Pascal! Should it be '/* .. */'?",
  '# {': "'#' is not a valid symbol. Should it be '#{'?",
};

export class Lexer {
  private i: number;
  private readonly src: string;
  private readonly len: number;
  private readonly maxStr: number;
  private readonly disabled: ReadonlySet<string>;
  /** Rhai `next_token_cannot_be_unary` */
  private noUnary = false;
  /** the parser asked to continue a back-tick string */
  private inText = false;
  /** offset where the current line starts (for the line-continuation column rule) */
  private lineStart = 0;
  /** memo of column(): offset `colAt` on the line starting at `colLine` has column `colVal` */
  private colLine = -1;
  private colAt = 0;
  private colVal = 1;

  constructor(src: string, opts: LexerOptions = {}, start = 0) {
    this.src = src;
    this.len = src.length;
    this.i = start;
    this.maxStr = opts.maxStringSize ?? 0;
    this.disabled = opts.disabled ?? EMPTY;
    const nl = start > 0 ? src.lastIndexOf('\n', start - 1) : -1;
    this.lineStart = nl + 1;
  }

  /** Continue lexing the text of an interpolated back-tick string after its `${ … }` block. */
  resumeText(): void {
    this.inText = true;
  }

  next(): Token {
    let tok: Token;
    if (this.inText) {
      this.inText = false;
      tok = this.stringLiteral(this.i, this.i, 96, true, false, true, this.i);
    } else {
      tok = this.inner();
    }
    this.noUnary = !isNextUnary(tok.t);
    return this.post(tok);
  }

  /** TokenIterator post-processing: reserved symbols with special messages, disabled symbols. */
  private post(tok: Token): Token {
    if (tok.t === 'reserved') {
      const s = tok.s!;
      const improper = IMPROPER[s];
      if (improper !== undefined) return this.err(tok, 'BadInput/ImproperSymbol', msg.improperSymbol(s, improper));
      if (this.disabled.has(s)) {
        const d = `reserved ${isValidIdentifier(s) ? 'keyword' : 'symbol'} '${s}' is disabled`;
        return this.err(tok, 'BadInput/ImproperSymbol', d);
      }
      return tok;
    }
    if (this.disabled.size > 0 && isLiteralKind(tok.t)) {
      const syn = literalSyntax(tok.t);
      if (this.disabled.has(syn)) return { t: 'reserved', pos: tok.pos, end: tok.end, s: syn };
    }
    return tok;
  }

  private err(at: { pos: number; end: number }, code: string, message: string): Token {
    return { t: 'lexerr', pos: at.pos, end: at.end, code, s: message };
  }

  private sym(t: TokenKind, pos: number, len: number): Token {
    this.i = pos + len;
    return { t, pos, end: pos + len };
  }

  /**
   * The next token: skips whitespace and comments, and folds a `-` before a digit into a negative number literal
   * where a unary minus may stand; literals, operators and punctuation are `punct`'s, identifiers `identifier`'s.
   */
  private inner(): Token {
    const src = this.src;
    let negated = -1;
    while (this.i < this.len) {
      const start = this.i;
      const c = src.charCodeAt(start);
      const cc = start + 1 < this.len ? src.charCodeAt(start + 1) : 0;

      if (isDigit(c)) return this.number(negated >= 0 ? negated : start, start, negated >= 0);

      switch (c) {
        case 10: // \n
          this.i++;
          this.lineStart = this.i;
          continue;
        case 32:
        case 9:
        case 13:
        case 12:
          this.i++;
          continue;
        case 45: // - before a digit: a negative number literal where a unary minus may stand
          if (isDigit(cc) && !this.noUnary) {
            negated = start;
            this.i++;
            continue;
          }
          break;
        case 47: // /
          if (cc === 47) {
            // line comment
            let j = start + 2;
            while (j < this.len) {
              const d = src.charCodeAt(j);
              if (d === 10 || d === 13) break;
              j++;
            }
            if (j < this.len) {
              if (src.charCodeAt(j) === 13 && j + 1 < this.len && src.charCodeAt(j + 1) === 10) j++;
              j++;
              this.lineStart = j;
            }
            this.i = j;
            continue;
          }
          if (cc === 42) {
            // block comment, nests; an unterminated one runs to the end of input
            let level = 1;
            let j = start + 2;
            while (j < this.len && level > 0) {
              const d = src.charCodeAt(j);
              if (d === 47 && j + 1 < this.len && src.charCodeAt(j + 1) === 42) {
                level++;
                j += 2;
              } else if (d === 42 && j + 1 < this.len && src.charCodeAt(j + 1) === 47) {
                level--;
                j += 2;
              } else {
                if (d === 10) this.lineStart = j + 1;
                j++;
              }
            }
            this.i = j;
            continue;
          }
          break;
      }

      const tok = this.punct(c, cc, start);
      if (tok) return tok;
      if (isIdStart(c)) return this.identifier(start);

      // anything else is unexpected
      const cp = src.codePointAt(start)!;
      const w = cp > 0xffff ? 2 : 1;
      this.i = start + w;
      return this.err({ pos: start, end: start + w }, 'BadInput/UnexpectedInput', msg.unexpectedInput(String.fromCodePoint(cp)));
    }
    return { t: 'eof', pos: this.len, end: this.len };
  }

  /** The token that starts with `c` (then `cc`) at `start`: string and char literals, operators, punctuation; null for anything else. */
  private punct(c: number, cc: number, start: number): Token | null {
    const src = this.src;
    switch (c) {
      case 34: // "
        this.i++;
        return this.stringLiteral(start, start + 1, 34, false, true, false, start);
      case 96: // `
        return this.backtickString(start);
      case 35: // #
        return this.hash(cc, start);
      case 39: // '
        if (cc === 39) {
          this.i = start + 1;
          return this.err({ pos: start, end: start + 2 }, 'BadInput/MalformedChar', msg.malformedChar(''));
        }
        this.i++;
        return this.charLiteral(start);
      case 123:
        return this.sym('{', start, 1);
      case 125:
        return this.sym('}', start, 1);
      case 40: // (
        if (cc === 41) return this.sym('()', start, 2);
        if (cc === 42) return this.reserved('(*', start, 2);
        return this.sym('(', start, 1);
      case 41:
        return this.sym(')', start, 1);
      case 91:
        return this.sym('[', start, 1);
      case 93:
        return this.sym(']', start, 1);
      case 43: // +
        if (cc === 61) return this.sym('+=', start, 2);
        if (cc === 43) return this.reserved('++', start, 2);
        return this.sym(this.noUnary ? '+' : 'u+', start, 1);
      case 42: // *
        if (cc === 41) return this.reserved('*)', start, 2);
        if (cc === 61) return this.sym('*=', start, 2);
        if (cc === 42) {
          if (start + 2 < this.len && src.charCodeAt(start + 2) === 61) return this.sym('**=', start, 3);
          return this.sym('**', start, 2);
        }
        return this.sym('*', start, 1);
      case 45: // -
        if (isDigit(cc)) return this.sym('-', start, 1);
        if (cc === 61) return this.sym('-=', start, 2);
        if (cc === 62) return this.reserved('->', start, 2);
        if (cc === 45) return this.reserved('--', start, 2);
        return this.sym(this.noUnary ? '-' : 'u-', start, 1);
      case 47: // / (comments are skipped before)
        if (cc === 61) return this.sym('/=', start, 2);
        return this.sym('/', start, 1);
      case 59:
        return this.sym(';', start, 1);
      case 44:
        return this.sym(',', start, 1);
      case 46: // .
        if (cc === 46) {
          const c3 = start + 2 < this.len ? src.charCodeAt(start + 2) : 0;
          if (c3 === 46) return this.reserved('...', start, 3);
          if (c3 === 61) return this.sym('..=', start, 3);
          return this.sym('..', start, 2);
        }
        return this.sym('.', start, 1);
      case 61: // =
        if (cc === 61) {
          if (start + 2 < this.len && src.charCodeAt(start + 2) === 61) return this.reserved('===', start, 3);
          return this.sym('==', start, 2);
        }
        if (cc === 62) return this.sym('=>', start, 2);
        return this.sym('=', start, 1);
      case 58: // :
        if (cc === 58) {
          if (start + 2 < this.len && src.charCodeAt(start + 2) === 60) return this.reserved('::<', start, 3);
          return this.sym('::', start, 2);
        }
        if (cc === 61) return this.reserved(':=', start, 2);
        if (cc === 59) return this.reserved(':;', start, 2);
        return this.sym(':', start, 1);
      case 60: // <
        if (cc === 61) return this.sym('<=', start, 2);
        if (cc === 45) return this.reserved('<-', start, 2);
        if (cc === 60) {
          if (start + 2 < this.len && src.charCodeAt(start + 2) === 61) return this.sym('<<=', start, 3);
          return this.sym('<<', start, 2);
        }
        if (cc === 124) return this.reserved('<|', start, 2);
        return this.sym('<', start, 1);
      case 62: // >
        if (cc === 61) return this.sym('>=', start, 2);
        if (cc === 62) {
          if (start + 2 < this.len && src.charCodeAt(start + 2) === 61) return this.sym('>>=', start, 3);
          return this.sym('>>', start, 2);
        }
        return this.sym('>', start, 1);
      case 33: // !
        if (cc === 105 && start + 2 < this.len && src.charCodeAt(start + 2) === 110) {
          const c4 = start + 3 < this.len ? src.charCodeAt(start + 3) : 0;
          if (!isIdContinue(c4)) return this.sym('!in', start, 3);
          return this.sym('!', start, 1);
        }
        if (cc === 61) {
          if (start + 2 < this.len && src.charCodeAt(start + 2) === 61) return this.reserved('!==', start, 3);
          return this.sym('!=', start, 2);
        }
        if (cc === 46) return this.reserved('!.', start, 2);
        return this.sym('!', start, 1);
      case 124: // |
        if (cc === 124) return this.sym('||', start, 2);
        if (cc === 61) return this.sym('|=', start, 2);
        if (cc === 62) return this.reserved('|>', start, 2);
        return this.sym('|', start, 1);
      case 38: // &
        if (cc === 38) return this.sym('&&', start, 2);
        if (cc === 61) return this.sym('&=', start, 2);
        return this.sym('&', start, 1);
      case 94: // ^
        if (cc === 61) return this.sym('^=', start, 2);
        return this.sym('^', start, 1);
      case 126:
        return this.reserved('~', start, 1);
      case 37: // %
        if (cc === 61) return this.sym('%=', start, 2);
        return this.sym('%', start, 1);
      case 64:
        return this.reserved('@', start, 1);
      case 36:
        return this.reserved('$', start, 1);
      case 63: // ?
        if (cc === 46) return this.sym('?.', start, 2);
        if (cc === 63) return this.sym('??', start, 2);
        if (cc === 91) return this.sym('?[', start, 2);
        return this.reserved('?', start, 1);
    }
    return null;
  }

  /** A back-tick string (interpolated); a line break right after the opening back-tick is skipped. */
  private backtickString(start: number): Token {
    const src = this.src;
    this.i = start + 1;
    if (this.i < this.len && src.charCodeAt(this.i) === 13) {
      this.i++;
      if (this.i < this.len && src.charCodeAt(this.i) === 10) this.i++;
      this.lineStart = this.i;
    } else if (this.i < this.len && src.charCodeAt(this.i) === 10) {
      this.i++;
      this.lineStart = this.i;
    }
    return this.stringLiteral(start, this.i, 96, true, false, true, start);
  }

  /** After `#`: a raw string, `#{` (object map), or a reserved symbol. */
  private hash(cc: number, start: number): Token {
    const src = this.src;
    if (cc === 34 || cc === 35) return this.rawString(start);
    if (cc === 123) return this.sym('#{', start, 2);
    if (cc === 33) {
      this.i = start + 1;
      return { t: 'reserved', pos: start, end: start + 2, s: '#!' };
    }
    if (cc === 32) {
      if (start + 2 < this.len && src.charCodeAt(start + 2) === 123) {
        this.i = start + 3;
        return { t: 'reserved', pos: start, end: start + 3, s: '# {' };
      }
      this.i = start + 2;
      return { t: 'reserved', pos: start, end: start + 2, s: '#' };
    }
    this.i = start + 1;
    return { t: 'reserved', pos: start, end: start + 1, s: '#' };
  }

  private reserved(s: string, pos: number, len: number): Token {
    this.i = pos + len;
    return { t: 'reserved', pos, end: pos + len, s };
  }

  private identifier(start: number): Token {
    const src = this.src;
    let j = start + 1;
    while (j < this.len && isIdContinue(src.charCodeAt(j))) j++;
    this.i = j;
    const name = src.slice(start, j);
    if (KEYWORDS.has(name)) return { t: name as TokenKind, pos: start, end: j };
    if (RESERVED.has(name)) return { t: 'reserved', pos: start, end: j, s: name };
    if (!isValidIdentifier(name)) {
      return this.err({ pos: start, end: j }, 'BadInput/MalformedIdentifier', msg.malformedIdentifier(name));
    }
    return { t: 'ident', pos: start, end: j, s: name };
  }

  private number(tokPos: number, start: number, negated: boolean): Token {
    const src = this.src;
    let text = src[start]!;
    let j = start + 1;
    let radix = 0;
    let hasPeriod = false;
    let hasE = false;
    const first = src.charCodeAt(start);
    for (;;) {
      if (j >= this.len) break;
      const ch = src.charCodeAt(j);
      if (ch === 95) {
        j++;
        continue;
      }
      const valid =
        radix === 16 ? hexVal(ch) >= 0 : radix === 8 ? ch >= 48 && ch <= 55 : radix === 2 ? ch === 48 || ch === 49 : isDigit(ch);
      if (valid) {
        text += src[j];
        j++;
        continue;
      }
      if (ch === 46 && !hasPeriod && radix === 0) {
        const n = j + 1 < this.len ? src.charCodeAt(j + 1) : -1;
        if (isDigit(n)) {
          text += '.';
          j++;
          hasPeriod = true;
          continue;
        }
        if (n === 95 || n === 46 || n === -1 || isAsciiAlpha(n)) break;
        // a symbol after the period: `1.` is a float
        text += '.0';
        j++;
        hasPeriod = true;
        continue;
      }
      if ((ch === 101 || ch === 69) && !hasE && radix === 0) {
        const n = j + 1 < this.len ? src.charCodeAt(j + 1) : -1;
        if (isDigit(n)) {
          text += 'e';
          j++;
          hasE = true;
          hasPeriod = true;
          continue;
        }
        if (n === 43 || n === 45) {
          text += 'e' + src[j + 1];
          j += 2;
          hasE = true;
          hasPeriod = true;
          continue;
        }
        break;
      }
      if (first === 48 && text.length <= 1 && (ch === 120 || ch === 111 || ch === 98 || ch === 88 || ch === 79 || ch === 66)) {
        text += src[j];
        j++;
        radix = ch === 120 || ch === 88 ? 16 : ch === 111 || ch === 79 ? 8 : 2;
        continue;
      }
      break;
    }
    this.i = j;
    if (negated) text = '-' + text;
    const at = { pos: tokPos, end: j };
    if (radix !== 0) {
      const digits = text.slice(2);
      let ok = digits.length > 0;
      for (let k = 0; ok && k < digits.length; k++) {
        const d = hexVal(digits.charCodeAt(k));
        if (d < 0 || d >= radix) ok = false;
      }
      if (ok) {
        const prefix = radix === 16 ? '0x' : radix === 8 ? '0o' : '0b';
        let v = BigInt(prefix + digits);
        if (v <= MAX_U64) {
          if (v > MAX_I64) v -= TWO_64;
          return { t: 'int', pos: tokPos, end: j, n: intValue(v) };
        }
      }
      return this.err(at, 'BadInput/MalformedNumber', msg.malformedNumber(digits));
    }
    if (!hasPeriod) {
      if (text.length < 16) {
        // at most 15 digits: always a safe integer (and `-0` is 0)
        const n = Number(text);
        return { t: 'int', pos: tokPos, end: j, n: n === 0 ? 0 : n };
      }
      const v = BigInt(text);
      if (v >= MIN_I64 && v <= MAX_I64) return { t: 'int', pos: tokPos, end: j, n: intValue(v) };
    }
    if (/^-?\d+(\.\d+)?(e[+-]?\d+)?$/.test(text)) return { t: 'float', pos: tokPos, end: j, n: Number(text) };
    return this.err(at, 'BadInput/MalformedNumber', msg.malformedNumber(text));
  }

  /**
   * 1-based Rhai column of an offset on the current line. The last answer is remembered, so the calls of one line
   * (every `"…"` literal asks for its column) scan the line once in total, not once per call.
   */
  private column(offset: number): number {
    let k = this.lineStart;
    let col = 1;
    if (this.colLine === this.lineStart && this.colAt <= offset) {
      k = this.colAt;
      col = this.colVal;
    }
    for (; k < offset; k++) {
      const c = this.src.charCodeAt(k);
      if (c >= 0xd800 && c <= 0xdbff) k++;
      col++;
    }
    this.colLine = this.lineStart;
    this.colAt = k;
    this.colVal = col;
    return col;
  }

  /**
   * The string literal opened at `quotePos` ends at `j` without its closing quote. (A method, not a closure in
   * stringLiteral: a closure made per literal cost a Function.name definition each under tsx's keepNames.)
   */
  private unterminated(j: number, quotePos: number): Token {
    this.i = j;
    return this.err({ pos: quotePos, end: j }, 'BadInput/UnterminatedString', msg.unterminatedString());
  }

  /**
   * Rhai `parse_string_literal`. `tokPos` is the token position, `from` where the text starts, `quotePos` the
   * offset of the opening quote (errors are reported there).
   */
  private stringLiteral(
    tokPos: number,
    from: number,
    term: number,
    verbatim: boolean,
    continuation: boolean,
    interpolation: boolean,
    quotePos: number,
  ): Token {
    const src = this.src;
    const max = this.maxStr;
    const startCol = continuation ? this.column(quotePos) : 0;
    let out = '';
    let bytes = 0;
    let escape = false;
    let skipUntil = 0;
    let j = from;
    for (;;) {
      if (j >= this.len) return this.unterminated(j, quotePos);
      let cp = src.codePointAt(j)!;
      const cpAt = j;
      j += cp > 0xffff ? 2 : 1;

      if (interpolation && !escape) {
        if (cp === 36 && j < this.len && src.charCodeAt(j) === 123) {
          // `${` starts an interpolation; the `{` is left for the parser
          this.i = j;
          return this.checkLen(bytes, quotePos, { t: 'interp', pos: tokPos, end: j, s: out });
        }
        if (cp === 92 && j < this.len && src.charCodeAt(j) === 36) {
          if (j + 1 < this.len && src.charCodeAt(j + 1) === 123) {
            j++;
            cp = 36;
          }
        }
      }

      if (max > 0 && bytes > max) {
        this.i = j;
        return this.tooLong(quotePos, j);
      }

      if (cp === term && !escape) {
        if (j < this.len && src.charCodeAt(j) === term) {
          j++;
        } else {
          this.i = j;
          return this.checkLen(bytes, quotePos, { t: 'str', pos: tokPos, end: j, s: out });
        }
      }

      if (cp === 13 && j < this.len && src.charCodeAt(j) === 10) continue;

      if (escape) {
        switch (cp) {
          case 114: // r
            escape = false;
            out += '\r';
            bytes += 1;
            continue;
          case 110: // n
            escape = false;
            out += '\n';
            bytes += 1;
            continue;
          case 92: // \\
            escape = false;
            out += '\\';
            bytes += 1;
            continue;
          case 116: // t
            escape = false;
            out += '\t';
            bytes += 1;
            continue;
          case 120: // x
          case 117: // u
          case 85: {
            // U
            escape = false;
            let seq = '\\' + String.fromCharCode(cp);
            const n = cp === 120 ? 2 : cp === 117 ? 4 : 8;
            let v = 0;
            let last = cpAt;
            for (let k = 0; k < n; k++) {
              if (j >= this.len) {
                this.i = j;
                return this.err({ pos: last, end: j }, 'BadInput/MalformedEscapeSequence', msg.malformedEscapeSequence(seq));
              }
              const dcp = src.codePointAt(j)!;
              last = j;
              j += dcp > 0xffff ? 2 : 1;
              seq += String.fromCodePoint(dcp);
              const d = dcp < 128 ? hexVal(dcp) : -1;
              if (d < 0) {
                this.i = j;
                return this.err({ pos: last, end: j }, 'BadInput/MalformedEscapeSequence', msg.malformedEscapeSequence(seq));
              }
              v = v * 16 + d;
            }
            if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
              this.i = j;
              return this.err({ pos: last, end: j }, 'BadInput/MalformedEscapeSequence', msg.malformedEscapeSequence(seq));
            }
            out += String.fromCodePoint(v);
            bytes += utf8Len(v);
            continue;
          }
        }
        if (cp === 10 && continuation) {
          escape = false;
          this.lineStart = j;
          skipUntil = startCol + 1;
          continue;
        }
        if (cp === 10) return this.unterminated(j, quotePos);
        if (cp === term) {
          escape = false;
          out += String.fromCodePoint(cp);
          bytes += utf8Len(cp);
          continue;
        }
        this.i = j;
        return this.err(
          { pos: cpAt, end: j },
          'BadInput/MalformedEscapeSequence',
          msg.malformedEscapeSequence('\\' + String.fromCodePoint(cp)),
        );
      }

      if (cp === 92 && !verbatim) {
        escape = true;
        continue;
      }
      if (cp === 10) {
        if (verbatim) {
          this.lineStart = j;
          out += '\n';
          bytes += 1;
          continue;
        }
        j = cpAt;
        return this.unterminated(j, quotePos);
      }
      if (skipUntil > 0 && isUnicodeWhitespace(cp) && this.column(cpAt) < skipUntil) continue;
      out += cp > 0xffff ? src.slice(cpAt, j) : String.fromCharCode(cp);
      bytes += utf8Len(cp);
      skipUntil = 0;
    }
  }

  private checkLen(bytes: number, quotePos: number, tok: Token): Token {
    if (this.maxStr > 0 && bytes > this.maxStr) return this.tooLong(quotePos, tok.end);
    return tok;
  }

  private tooLong(quotePos: number, end: number): Token {
    return { t: 'lexerr', pos: quotePos, end, code: 'LiteralTooLarge', s: msg.literalTooLarge('Length of string', this.maxStr) };
  }

  /** Rhai `parse_raw_string_literal`: `#"…"#`, `##"…"##`, no escapes. */
  private rawString(start: number): Token {
    const src = this.src;
    let j = start + 1;
    let hashes = 1;
    while (j < this.len && src.charCodeAt(j) === 35) {
      hashes++;
      j++;
    }
    if (j >= this.len) {
      this.i = j;
      return this.err({ pos: start, end: j }, 'BadInput/UnterminatedString', msg.unterminatedString());
    }
    if (src.charCodeAt(j) !== 34) {
      const cp = src.codePointAt(j)!;
      this.i = j + (cp > 0xffff ? 2 : 1);
      return this.err({ pos: start, end: this.i }, 'BadInput/UnexpectedInput', msg.unexpectedInput(String.fromCodePoint(cp)));
    }
    j++;
    const bodyStart = j;
    for (;;) {
      const q = src.indexOf('"', j);
      if (q === -1) {
        this.i = this.len;
        return this.err({ pos: start, end: this.len }, 'BadInput/UnterminatedString', msg.unterminatedString());
      }
      let k = q + 1;
      let n = 0;
      while (n < hashes && k < this.len && src.charCodeAt(k) === 35) {
        n++;
        k++;
      }
      if (n === hashes) {
        const body = src.slice(bodyStart, q);
        this.i = k;
        for (let p = src.indexOf('\n', bodyStart); p !== -1 && p < q; p = src.indexOf('\n', p + 1)) this.lineStart = p + 1;
        if (this.maxStr > 0 && utf8ByteLength(body) > this.maxStr) return this.tooLong(start, k);
        return { t: 'str', pos: start, end: k, s: body };
      }
      j = q + 1;
    }
  }

  private charLiteral(start: number): Token {
    const tok = this.stringLiteral(start, start + 1, 39, false, false, false, start);
    if (tok.t !== 'str') return tok;
    const s = tok.s!;
    const cp = s.codePointAt(0);
    if (cp === undefined || s.length !== (cp > 0xffff ? 2 : 1)) {
      return this.err(tok, 'BadInput/MalformedChar', msg.malformedChar(s));
    }
    return { t: 'char', pos: start, end: tok.end, s };
  }
}

/** UTF-8 byte length of a JS string, without node: APIs. */
function utf8ByteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Tokenize a whole script (tests and tools); stops after `eof` or the first `lexerr`. */
export function tokenize(src: string, opts?: LexerOptions): Token[] {
  const lx = new Lexer(src, opts);
  const out: Token[] = [];
  for (;;) {
    const t = lx.next();
    out.push(t);
    if (t.t === 'eof' || t.t === 'lexerr') return out;
  }
}

