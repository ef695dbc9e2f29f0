/**
 * JSON text from clients, read safely: a depth limit checked by a linear scan before parsing (recursive code after
 * JSON.parse — conversion, stringify — would overflow the stack on a 500,000-deep body), and plain JSON.parse, so
 * `__proto__` and `constructor` are ordinary keys (own properties), never a prototype.
 */
import { AppError } from './errors.ts';

/** The deepest nesting of arrays/objects a request body (or `json::parse`) may have. */
export const JSON_MAX_DEPTH = 256;

/** Whether JSON text nests at most `max` levels (a linear scan: no recursion, strings skipped). */
export function jsonDepthWithin(text: string, max: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // skip the string, honouring backslash escapes
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92) i++;
        else if (d === 34) break;
      }
    } else if (c === 91 || c === 123) {
      if (++depth > max) return false;
    } else if (c === 93 || c === 125) depth--;
  }
  return true;
}

/** Parse a request body for the API: 400 BAD_REQUEST when it is not JSON or nests deeper than JSON_MAX_DEPTH. */
export function parseClientJson(text: string): unknown {
  if (!jsonDepthWithin(text, JSON_MAX_DEPTH)) throw new AppError('BAD_REQUEST', `the JSON body nests deeper than ${JSON_MAX_DEPTH} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError('BAD_REQUEST', 'the body is not valid JSON');
  }
}
