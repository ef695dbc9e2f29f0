/** The I/O a CLI command gets: results to stdout, diagnostics to stderr, colour only on a TTY (style.md §3.9). */
export interface CliIO {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  /** environment (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** for `login` reading a token from a pipe */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** aborts long-running verbs (`logs --tail`); without it they stop on SIGINT */
  signal?: AbortSignal;
  /** working directory for inferring the app from the git remote (default process.cwd()) */
  cwd?: string;
}

/** sysexits (style.md §3.5.8) */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 64, INTERNAL: 70 } as const;

export function out(io: CliIO, s = ''): void {
  io.stdout.write(`${s}\n`);
}
export function err(io: CliIO, s: string): void {
  io.stderr.write(`${s}\n`);
}
export function json(io: CliIO, v: unknown): void {
  io.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

export interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
}

/** ANSI styles when stdout is a TTY and NO_COLOR is unset; identity otherwise. */
export function paint(io: CliIO): Paint {
  const on = !!io.stdout.isTTY && !(io.env ?? process.env).NO_COLOR;
  const w = (a: number, b: number) => (s: string) => (on ? `\x1b[${a}m${s}\x1b[${b}m` : s);
  return { bold: w(1, 22), dim: w(2, 22), green: w(32, 39), red: w(31, 39), yellow: w(33, 39) };
}

/** Visible width (ANSI escapes do not count). */
// oxlint-disable-next-line no-control-regex -- matching ANSI escapes is the point
const width = (s: string): number => [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;

/** A plain aligned table: columns separated by two spaces, header first; trailing spaces trimmed. */
export function table(headers: string[], rows: string[][], p?: Paint): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ''))));
  const line = (r: string[]) =>
    r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ').trimEnd();
  const head = line(headers);
  return [p ? p.bold(head) : head, ...rows.map(line)].join('\n');
}

/** "3 minutes ago" style age of an ISO time. */
export function ago(isoTime: string | null, now = Date.now()): string {
  if (!isoTime) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(isoTime)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
