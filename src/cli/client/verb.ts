/**
 * What every client verb shares: its definition (usage, flags, whether it needs credentials, run), the app and
 * branch it acts on, and the runner that parses, authenticates, calls and maps errors to exit codes
 * (sysexits: 0 ok, 1 failure incl. API errors, 64 usage, 70 internal). The verbs live in src/cli/commands/ by
 * resource (client.ts: apps, releases, config, logs, tokens; kv.ts; app-info.ts).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs, UsageError, type FlagSpec, type Parsed } from './args.ts';
import { loadCredentials, type Credentials } from './credentials.ts';
import { ApiError } from './http.ts';
import { err, EXIT, type CliIO } from './io.ts';

export interface VerbDef {
  usage: string;
  summary: string;
  spec: FlagSpec;
  /** needs credentials */
  auth: boolean;
  run(p: Parsed, ctx: VerbCtx): Promise<number>;
}

export interface VerbCtx {
  io: CliIO;
  env: NodeJS.ProcessEnv;
  creds: Credentials;
}

export type Verb = (argv: string[], io: CliIO) => Promise<number>;

export const APP: FlagSpec['values'] = { app: 'a' };
export const BRANCH: FlagSpec['values'] = { branch: 'b' };
export const JSON_FLAG: FlagSpec['bools'] = { json: null, help: 'h' };

/** The app of the `picloud` git remote of `cwd`, or null. */
export function remoteApp(cwd: string): string | null {
  const r = spawnSync('git', ['config', '--get', 'remote.picloud.url'], { cwd, encoding: 'utf8' });
  const m = r.status === 0 ? /\/git\/([a-z][a-z0-9-]*)\.git\/?\s*$/.exec(r.stdout) : null;
  return m ? m[1]! : null;
}

/** The app: -a, else $PICLOUD_APP, else the `picloud` git remote of the working directory. */
export function appOf(p: Parsed, ctx: VerbCtx): string {
  const a = p.flags.app;
  if (typeof a === 'string' && a) return a;
  if (ctx.env.PICLOUD_APP) return ctx.env.PICLOUD_APP;
  const r = remoteApp(ctx.io.cwd ?? process.cwd());
  if (r) return r;
  throw new UsageError('no app given: use -a APP (or run inside a repo with a "picloud" git remote)');
}

/** A verb that names one app: `-a APP` or the first positional (apps:create NAME), never both different. */
export function appArg(p: Parsed): string {
  const flag = typeof p.flags.app === 'string' ? p.flags.app : undefined;
  const pos = p.positionals[0];
  if (flag && pos && flag !== pos) throw new UsageError(`two different apps given: -a ${flag} and ${pos}`);
  const name = flag ?? pos;
  if (!name) throw new UsageError('missing app NAME (or -a NAME)');
  noPositionals(p, flag && !pos ? 0 : 1);
  return name;
}

export const branchOf = (p: Parsed): string | undefined => (typeof p.flags.branch === 'string' ? p.flags.branch : undefined);
export const enc = encodeURIComponent;

export function noPositionals(p: Parsed, max = 0): void {
  if (p.positionals.length > max) throw new UsageError(`unexpected argument ${p.positionals[max]}`);
}

export function verbHelp(def: VerbDef): string {
  return `${def.usage}\n\n  ${def.summary}\n`;
}

/** Run one verb of `verbs`: parse, authenticate, call the API, print. */
export async function runVerb(verbs: Record<string, VerbDef>, name: string, argv: string[], io: CliIO): Promise<number> {
  const def = Object.hasOwn(verbs, name) ? verbs[name] : undefined;
  if (!def) {
    err(io, `picloud: unknown command ${name}`);
    return EXIT.USAGE;
  }
  const env = io.env ?? process.env;
  try {
    const p = parseArgs(argv, def.spec);
    if (p.flags.help) {
      io.stdout.write(verbHelp(def));
      return EXIT.OK;
    }
    let creds: Credentials | null = null;
    if (def.auth) {
      creds = await loadCredentials(env);
      if (!creds) {
        err(io, 'picloud: not logged in. Run `picloud login --server URL --token TOKEN` (or set PICLOUD_URL and PICLOUD_TOKEN).');
        return EXIT.FAILURE;
      }
    }
    return await def.run(p, { io, env, creds: creds ?? { server: '', token: '' } });
  } catch (e) {
    if (e instanceof UsageError) {
      err(io, `picloud ${name}: ${e.message}`);
      err(io, `usage: ${def.usage}`);
      return EXIT.USAGE;
    }
    if (e instanceof ApiError) {
      const hint = e.status === 401 ? ' (run `picloud login` again)' : '';
      err(io, `picloud ${name}: ${e.message}${e.code && e.status ? ` [${e.code}]` : ''}${hint}`);
      return EXIT.FAILURE;
    }
    err(io, `picloud ${name}: internal error: ${(e as Error)?.message ?? String(e)}`);
    return EXIT.INTERNAL;
  }
}

/** verb name → command, for src/cli/main.ts */
export function commandsOf(verbs: Record<string, VerbDef>): Record<string, Verb> {
  return Object.fromEntries(Object.keys(verbs).map((n) => [n, (argv: string[], io: CliIO) => runVerb(verbs, n, argv, io)]));
}
