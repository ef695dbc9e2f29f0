/**
 * lang_core.rs: `type_of` (also a core special form), `is_def_fn`, `parse_json`, `take`.
 * Not provided: `exit` (needs an engine-level exit signal), `tag`/`set_tag` (values carry no tag),
 * `get_fn_metadata_list` (needs script-function metadata).
 * `sleep` is deliberately NOT provided (sandbox). `Fn`, `call`, `curry`, `is_def_var`, `is_shared`, `eval`
 * are special forms of the core.
 */
import type { Package } from '../runtime/native.ts';
import { RFloat, intFromBig, typeName, type Value } from '../runtime/value.ts';
import { RhaiError } from '../runtime/errors.ts';

function jsonError(msg: string): RhaiError {
  return new RhaiError('ErrorRuntime', `Invalid JSON: ${msg}`, { thrown: `Invalid JSON: ${msg}` });
}

/** Parse JSON into Rhai values: objects -> maps, integers -> i64 (floats when beyond i64), null -> (). */
export function parseJson(text: string): Value {
  let i = 0;
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const value = (): Value => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const m = new Map<string, Value>();
      ws();
      if (text[i] === '}') {
        i++;
        return m;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw jsonError(`expected a string key at position ${i}`);
        const k = str();
        ws();
        if (text[i] !== ':') throw jsonError(`expected ':' at position ${i}`);
        i++;
        m.set(k, value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return m;
        }
        throw jsonError(`expected ',' or '}' at position ${i}`);
      }
    }
    if (c === '[') {
      i++;
      const a: Value[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return a;
        }
        throw jsonError(`expected ',' or ']' at position ${i}`);
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return undefined;
    }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) throw jsonError(`unexpected character at position ${i}`);
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      if (Number.isSafeInteger(n)) return n;
      const b = intFromBig(BigInt(m[0]));
      return b === null ? new RFloat(n) : b;
    }
    return new RFloat(Number(m[0]));
  };
  const str = (): string => {
    const start = i;
    i++;
    let out = '';
    for (;;) {
      if (i >= text.length) throw jsonError(`unterminated string at position ${start}`);
      const ch = text[i]!;
      if (ch === '"') {
        i++;
        return out;
      }
      if (ch === '\\') {
        const e = text[i + 1];
        const map: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in map) {
          out += map[e];
          i += 2;
        } else if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw jsonError(`bad escape at position ${i}`);
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else throw jsonError(`bad escape at position ${i}`);
        continue;
      }
      out += ch;
      i++;
    }
  };
  const v = value();
  ws();
  if (i < text.length) throw jsonError(`trailing characters at position ${i}`);
  return v;
}

export const corePackage: Package = (r) => {
  r.fn('type_of', ['any'], (_c, [x]) => typeName(x));
  r.fn('is_def_fn', ['string', 'int'], (c, [name, n]) => c.hasFn(name as string, Number(n)));
  r.fn('parse_json', ['string'], (_c, [s]) => parseJson(s as string));
  // take(x): return the value and leave () behind (the core rejects it on constants: non-pure).
  r.fn('take', ['any'], (_c, args) => {
    const v = args[0];
    args[0] = undefined;
    return v;
  }, { pure: false });
};
