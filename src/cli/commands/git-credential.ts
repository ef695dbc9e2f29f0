/**
 * Git credentials without a token in `.git/config`: `picloud git-credential get` is a git credential helper
 * (gitcredentials(7) protocol: key=value lines on stdin, answer on stdout) that hands git the token of
 * `picloud login` (or PICLOUD_TOKEN) for the logged-in server's origin only, and nothing for any other host.
 * `remoteSetup` prints the two commands that wire a repository to it; `tokenFileHelper` is the same idea for the
 * first start of `picloud up`, reading the admin token file with no `picloud` on PATH.
 */
import { loadCredentials } from '../client/credentials.ts';
import type { CliIO } from '../client/io.ts';

/** `http://host:port` of a URL (the key git matches `credential.<url>.helper` against). */
export function originOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The commands that add the `picloud` remote and its credential helper (run in the app's repository). */
export function remoteSetup(gitUrl: string): string[] {
  return [`git remote add picloud ${gitUrl}`, `git config ${shellQuote(`credential.${originOf(gitUrl)}.helper`)} ${shellQuote('!picloud git-credential')}`];
}

/** A credential helper that reads the token from a file (absolute path): for the first-start instructions. */
export function tokenFileHelper(origin: string, tokenFile: string): string {
  const helper = `!f() { test "$1" = get && echo username=picloud && echo "password=$(cat ${shellQuote(tokenFile)})"; }; f`;
  return `git config ${shellQuote(`credential.${origin}.helper`)} ${shellQuote(helper)}`;
}

async function readRequest(io: CliIO): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  if (!io.stdin) return m;
  let data = '';
  for await (const chunk of io.stdin) {
    data += chunk.toString();
    if (data.endsWith('\n\n') || data.length > 65536) break;
  }
  for (const line of data.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return m;
}

export async function gitCredentialCommand(argv: string[], io: CliIO): Promise<number> {
  const op = argv[0];
  if (op === '-h' || op === '--help' || !op) {
    io.stdout.write(`usage: git config credential.<server>.helper '!picloud git-credential'\n\n  A git credential helper that answers with the token of \`picloud login\` for that server only.\n`);
    return op ? 0 : 64;
  }
  if (op !== 'get') return 0; // store / erase: the token lives in picloud's own credentials file
  const req = await readRequest(io);
  const creds = await loadCredentials(io.env ?? process.env);
  if (!creds) return 0;
  const server = new URL(creds.server);
  if (req.get('protocol') !== server.protocol.slice(0, -1) || req.get('host') !== server.host) return 0;
  io.stdout.write(`username=picloud\npassword=${creds.token}\n`);
  return 0;
}
