/**
 * One invocation-log row and its line in PostgreSQL's COPY text format, for the batched COPY in invocations.ts.
 * Pure (no imports): executor threads serialise rows with it without loading the PostgreSQL client.
 */
export interface InvocationRow {
  appId: number;
  app: string;
  branch: string;
  releaseId: number | null;
  trigger: 'http' | 'schedule' | 'queue';
  route: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  operations: number;
  cold: boolean;
  logs: unknown[];
  error: string | null;
  /** when the invocation started (unix ms); stored as created_at */
  at: number;
}

/** The columns of a COPY line, in order (invocations.ts names them in its COPY statement). */
export const INVOCATION_COPY_COLUMNS = 'app_id, branch, release_id, trigger, route, method, path, status, duration_ms, operations, cold, logs, error, created_at';

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text PostgreSQL can store: NUL (which a text or jsonb value cannot hold) and lone UTF-16 surrogates (which have
 * no UTF-8 form) become U+FFFD. A script's print or error text must never fail a whole log batch.
 */
export function storableText(s: string): string {
  const wf = s.isWellFormed() ? s : s.toWellFormed();
  return wf.includes('\0') ? wf.replaceAll('\0', '\uFFFD') : wf;
}

/** One field in COPY text format: storable, with backslash, newline, carriage return and tab escaped. */
function copyField(s: string): string {
  const t = storableText(s);
  return /[\\\n\r\t]/.test(t) ? t.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]!) : t;
}

/** the second whose ISO text is cached, and that text without its milliseconds and `Z` */
let isoSecond = NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()` with the text up to the second reused within that second (rows of one batch mostly
 * share it): toISOString was about a third of a row's serialisation.
 */
export function isoTime(ms: number): string {
  const t = Math.floor(ms);
  const sec = Math.floor(t / 1000);
  if (sec !== isoSecond) {
    const full = new Date(sec * 1000).toISOString();
    isoPrefix = full.slice(0, full.length - 4);
    isoSecond = sec;
  }
  const m = t - sec * 1000;
  return `${isoPrefix}${m < 10 ? '00' : m < 100 ? '0' : ''}${m}Z`;
}

/**
 * The log lines as JSON PostgreSQL can store. JSON.stringify writes a NUL or a lone surrogate as a `\u` escape, so
 * text without any `\u` is storable as is; only other text is serialised again with storableText applied (a
 * replacer function made every row with log lines several times slower).
 */
function logsJson(logs: unknown[]): string {
  if (logs.length === 0) return '[]';
  const json = JSON.stringify(logs);
  if (!json.includes('\\u')) return json;
  return JSON.stringify(logs, (_k, v: unknown) => (typeof v === 'string' ? storableText(v) : v));
}

/**
 * One row as a COPY text line (columns INVOCATION_COPY_COLUMNS, no trailing newline). The line holds no raw newline
 * (escaped), so lines can be joined with '\n'; it does hold tabs (the column separator).
 */
export function invocationRowCopy(r: InvocationRow): string {
  return `${r.appId}\t${copyField(r.branch)}\t${r.releaseId === null ? '\\N' : r.releaseId}\t${r.trigger}\t${copyField(r.route)}\t${copyField(r.method)}\t${
    copyField(r.path)}\t${r.status}\t${r.durationMs}\t${r.operations}\t${r.cold ? 't' : 'f'}\t${copyField(logsJson(r.logs))}\t${
    r.error === null ? '\\N' : copyField(r.error)}\t${isoTime(r.at)}`;
}
