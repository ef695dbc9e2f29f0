/**
 * Heroku-style client verbs against the API (architecture.md §2, style.md §3.9):
 *   login, apps, apps:create, apps:destroy, releases, rollback, config, config:set, config:unset,
 *   logs [--tail], routes, previews, tokens, tokens:create, tokens:revoke — with -a APP, -b/--branch B, --json.
 * Each verb is `(argv, io) => Promise<exit code>`; results go to stdout, errors to stderr; exit codes are
 * sysexits: 0 ok, 1 failure (incl. API errors), 64 usage, 70 internal. Never calls process.exit.
 * Config values are secrets: shown masked unless --reveal, never echoed by config:set.
 */
import { UsageError } from '../client/args.ts';
import { DEFAULT_SERVER, normalizeServer, readCredentialsFile, saveCredentials } from '../client/credentials.ts';
import { api, ApiError, q } from '../client/http.ts';
import { ago, err, EXIT, json, out, paint, table, type CliIO } from '../client/io.ts';

import { APP, appArg, appOf, BRANCH, branchOf, commandsOf, enc, JSON_FLAG, noPositionals, runVerb, type Verb, type VerbCtx, type VerbDef } from '../client/verb.ts';
import { KV_VERBS } from './kv.ts';
import { JOB_VERBS } from './jobs.ts';
import { remoteSetup } from './git-credential.ts';
import { INFO_VERBS } from './app-info.ts';

export type { CliIO } from '../client/io.ts';

const MASK = '********';

const short = (sha: string): string => sha.slice(0, 7);
const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;

/** Ask for the token on a terminal without echoing it. */
function promptHidden(io: CliIO, question: string): Promise<string> {
  const stdin = io.stdin as (NodeJS.ReadStream & { setRawMode?: (on: boolean) => unknown }) | undefined;
  if (!stdin?.isTTY || typeof stdin.setRawMode !== 'function') return Promise.resolve('');
  io.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve) => {
    let buf = '';
    const finish = (v: string): void => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      resolve(v.trim());
    };
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(buf);
        if (ch === '\u0003' || ch === '\u0004') return finish(''); // Ctrl-C, Ctrl-D
        buf = ch === '\u007f' || ch === '\b' ? buf.slice(0, -1) : buf + ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readToken(io: CliIO): Promise<string> {
  const stdin = io.stdin;
  if (!stdin) return '';
  if (stdin.isTTY) return promptHidden(io, 'API token (input hidden): ');
  let data = '';
  for await (const chunk of stdin) {
    data += chunk.toString();
    if (data.includes('\n') || data.length > 4096) break;
  }
  return data.split('\n')[0]!.trim();
}

// ---------------------------------------------------------------------------------------------- verbs

interface AppListItem {
  name: string;
  productionVersion: number | null;
  branches: number;
  lastDeployAt: string | null;
  urls: { host: string; path: string };
}
interface BranchItem {
  branch: string;
  slug: string;
  production: boolean;
  release: { version: number; commit: string; createdAt: string };
  urls: { host: string; path: string };
}
interface ReleaseItem {
  version: number;
  commit: string;
  pusher: string;
  description: string;
  createdAt: string;
  live: boolean;
}
interface InvocationItem {
  id: number;
  branch: string;
  version: number | null;
  trigger: string;
  method: string;
  path: string;
  route: string;
  status: number;
  durationMs: number;
  cold: boolean;
  logs: { level: string; msg: string }[];
  error: string | null;
  createdAt: string;
}

const VERBS: Record<string, VerbDef> = {
  login: {
    usage: 'picloud login [--server URL] [--token TOKEN]   (else PICLOUD_TOKEN, a pipe on stdin, or a prompt)',
    summary: 'store the server URL and an API token',
    spec: { values: { server: 's', token: 't' }, bools: JSON_FLAG },
    auth: false,
    async run(p, ctx) {
      noPositionals(p);
      const file = await readCredentialsFile(ctx.env);
      const server = normalizeServer(
        (typeof p.flags.server === 'string' && p.flags.server) || ctx.env.PICLOUD_URL || file.server || DEFAULT_SERVER,
      );
      const token = (typeof p.flags.token === 'string' && p.flags.token) || ctx.env.PICLOUD_TOKEN || (await readToken(ctx.io));
      if (!token) throw new UsageError('no token: use --token TOKEN, PICLOUD_TOKEN, or pipe it on stdin (first start prints it; see $PICLOUD_HOME/admin-token)');
      const who = await api<{ name: string; role: string }>({ server, token }, 'GET', '/whoami');
      const where = await saveCredentials(ctx.env, { server, token });
      if (p.flags.json) json(ctx.io, { server, name: who.name, role: who.role, credentials: where });
      else {
        out(ctx.io, `Logged in to ${server} as ${who.name} (${who.role}).`);
        err(ctx.io, `Credentials saved to ${where}`);
      }
      return EXIT.OK;
    },
  },

  apps: {
    usage: 'picloud apps [--json]',
    summary: 'list apps',
    spec: { values: {}, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const { apps } = await api<{ apps: AppListItem[] }>(ctx.creds, 'GET', '/apps');
      if (p.flags.json) { json(ctx.io, apps); return EXIT.OK; }
      if (!apps.length) {
        out(ctx.io, 'No apps yet. Create one with `picloud apps:create NAME` or just `git push` to /git/NAME.git.');
        return EXIT.OK;
      }
      const rows = apps.map((a) => [a.name, a.productionVersion ? `v${a.productionVersion}` : '-', String(a.branches), ago(a.lastDeployAt), a.urls.host]);
      out(ctx.io, table(['NAME', 'RELEASE', 'BRANCHES', 'DEPLOYED', 'URL'], rows, paint(ctx.io)));
      return EXIT.OK;
    },
  },

  'apps:create': {
    usage: 'picloud apps:create NAME | -a NAME [--json]',
    summary: 'create an empty app and print how to add its git remote',
    spec: { values: { ...APP }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      const name = appArg(p);
      const { app } = await api<{ app: { name: string; gitUrl: string } }>(ctx.creds, 'POST', '/apps', { name });
      if (p.flags.json) { json(ctx.io, app); return EXIT.OK; }
      out(ctx.io, `Created ${app.name}. In its git repository:`);
      for (const l of remoteSetup(app.gitUrl)) out(ctx.io, `  ${l}`);
      err(ctx.io, 'The credential helper hands git the token of `picloud login`, so no token is stored in .git/config.');
      return EXIT.OK;
    },
  },

  'apps:destroy': {
    usage: 'picloud apps:destroy NAME | -a NAME --confirm NAME [--json]',
    summary: 'delete an app, its releases, config, KV data, logs and repository',
    spec: { values: { confirm: null, ...APP }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      const name = appArg(p);
      if (p.flags.confirm !== name) {
        throw new UsageError(`this deletes ${name} and all its data; to proceed, run: picloud apps:destroy ${name} --confirm ${name}`);
      }
      const r = await api<{ destroyed: string; branches: string[] }>(ctx.creds, 'DELETE', `/apps/${enc(name)}`);
      if (p.flags.json) { json(ctx.io, r); return EXIT.OK; }
      out(ctx.io, `Destroyed ${r.destroyed}${r.branches.length ? ` (live branches removed: ${r.branches.join(', ')})` : ''}.`);
      return EXIT.OK;
    },
  },

  releases: {
    usage: 'picloud releases -a APP [--branch B] [-n N] [--json]',
    summary: 'list releases of a branch (production by default)',
    spec: { values: { ...APP, ...BRANCH, num: 'n' }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const app = appOf(p, ctx);
      const r = await api<{ branch: string; releases: ReleaseItem[] }>(
        ctx.creds,
        'GET',
        `/apps/${enc(app)}/releases${q({ branch: branchOf(p), limit: typeof p.flags.num === 'string' ? p.flags.num : undefined })}`,
      );
      if (p.flags.json) { json(ctx.io, r.releases); return EXIT.OK; }
      out(ctx.io, `=== ${app} releases (${r.branch})`);
      if (!r.releases.length) { out(ctx.io, 'No releases yet.'); return EXIT.OK; }
      const pt = paint(ctx.io);
      const rows = r.releases.map((x) => [
        `v${x.version}`,
        x.live ? pt.green('live') : '',
        short(x.commit),
        x.description,
        x.pusher || '-',
        ago(x.createdAt),
      ]);
      out(ctx.io, table(['VERSION', '', 'COMMIT', 'DESCRIPTION', 'BY', 'WHEN'], rows, pt));
      return EXIT.OK;
    },
  },

  rollback: {
    usage: 'picloud rollback -a APP vN [--branch B] [--json]',
    summary: 'release an earlier version again (code, config, routes and schedules)',
    spec: { values: { ...APP, ...BRANCH }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      const v = p.positionals[0];
      if (!v) throw new UsageError('missing the version to roll back to, e.g. v3');
      if (!/^v?[1-9]\d*$/i.test(v)) throw new UsageError(`not a release version: ${v} (use e.g. v3)`);
      noPositionals(p, 1);
      const app = appOf(p, ctx);
      const r = await api<{
        branch: string;
        release: { version: number; commit: string };
        restored: { from: number; commit: string; scripts: number; routes: number; schedules: number; envKeys: string[] };
      }>(ctx.creds, 'POST', `/apps/${enc(app)}/rollback`, { version: v, ...(branchOf(p) ? { branch: branchOf(p) } : {}) });
      if (p.flags.json) { json(ctx.io, r); return EXIT.OK; }
      const s = r.restored;
      out(ctx.io, `Rolled back ${app} (${r.branch}) to v${s.from}: released v${r.release.version} (${short(r.release.commit)}).`);
      out(
        ctx.io,
        `Restored ${plural(s.scripts, 'script')}, ${plural(s.routes, 'route')}, ${plural(s.schedules, 'schedule')}` +
          `${s.envKeys.length ? `, env ${s.envKeys.join(', ')}` : ''}. Config vars set with config:set are unchanged.`,
      );
      return EXIT.OK;
    },
  },

  config: {
    usage: 'picloud config -a APP [--branch B] [--reveal] [--json]',
    summary: 'show config vars (picloud.toml [env] overlaid with config:set overrides)',
    spec: { values: { ...APP, ...BRANCH }, bools: { ...JSON_FLAG, reveal: null } },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const app = appOf(p, ctx);
      const reveal = p.flags.reveal === true;
      // values reach the client only with --reveal (an admin token); a read token gets names and 403 on --reveal
      type Vars = Record<string, string | null>;
      const r = await api<{ branch: string; vars: Vars; releaseEnv: Vars; effective: Vars }>(
        ctx.creds,
        'GET',
        `/apps/${enc(app)}/config${q({ branch: branchOf(p), reveal: reveal ? '1' : undefined })}`,
      );
      const show = (v: string | null): string => (reveal && v !== null ? v : MASK);
      if (p.flags.json) {
        const mask = (o: Vars) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, show(v)]));
        { json(ctx.io, { branch: r.branch, vars: mask(r.vars), releaseEnv: mask(r.releaseEnv), effective: mask(r.effective) }); return EXIT.OK; }
      }
      out(ctx.io, `=== ${app} config vars (${r.branch})`);
      const keys = Object.keys(r.effective).sort();
      if (!keys.length) { out(ctx.io, 'No config vars.'); return EXIT.OK; }
      const rows = keys.map((k) => [k, show(r.effective[k]!), k in r.vars ? 'config:set' : 'picloud.toml']);
      out(ctx.io, table(['KEY', 'VALUE', 'SOURCE'], rows, paint(ctx.io)));
      if (!reveal) err(ctx.io, 'Values are masked; add --reveal to show them.');
      return EXIT.OK;
    },
  },

  'config:set': {
    usage: 'picloud config:set -a APP KEY=VALUE... [--branch B] [--json]',
    summary: 'set config overrides (take effect for new invocations)',
    spec: { values: { ...APP, ...BRANCH }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      if (!p.positionals.length) throw new UsageError('give at least one KEY=VALUE');
      const vars: Record<string, string> = {};
      for (const kv of p.positionals) {
        const i = kv.indexOf('=');
        if (i <= 0) throw new UsageError(`expected KEY=VALUE, got ${JSON.stringify(kv.length > 40 ? `${kv.slice(0, 40)}…` : kv)}`);
        const key = kv.slice(0, i);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`invalid key ${JSON.stringify(key)}: use letters, digits and _ (not first)`);
        vars[key] = kv.slice(i + 1);
      }
      const app = appOf(p, ctx);
      const r = await api<{ branch: string }>(ctx.creds, 'PUT', `/apps/${enc(app)}/config${q({ branch: branchOf(p) })}`, vars);
      const keys = Object.keys(vars);
      if (p.flags.json) { json(ctx.io, { app, branch: r.branch, set: keys }); return EXIT.OK; }
      out(ctx.io, `Set ${keys.join(', ')} on ${app} (${r.branch}); new invocations see the change.`);
      return EXIT.OK;
    },
  },

  'config:unset': {
    usage: 'picloud config:unset -a APP KEY... [--branch B] [--json]',
    summary: 'remove config overrides',
    spec: { values: { ...APP, ...BRANCH }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      if (!p.positionals.length) throw new UsageError('give at least one KEY');
      for (const k of p.positionals) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new UsageError(`invalid key ${JSON.stringify(k)}`);
      const app = appOf(p, ctx);
      const r = await api<{ branch: string; removed: string[] }>(
        ctx.creds,
        'DELETE',
        `/apps/${enc(app)}/config${q({ branch: branchOf(p), keys: p.positionals.join(',') })}`,
      );
      if (p.flags.json) { json(ctx.io, { app, branch: r.branch, removed: r.removed }); return EXIT.OK; }
      const missing = p.positionals.filter((k) => !r.removed.includes(k));
      if (r.removed.length) out(ctx.io, `Unset ${r.removed.join(', ')} on ${app} (${r.branch}).`);
      if (missing.length) err(ctx.io, `Not set (nothing to remove): ${missing.join(', ')}`);
      return EXIT.OK;
    },
  },

  logs: {
    usage: 'picloud logs -a APP [--tail] [--branch B] [--status 5xx|error|404] [-n N] [--json]',
    summary: 'show recent invocations with their logs; --tail streams new ones',
    spec: { values: { ...APP, ...BRANCH, status: null, num: 'n' }, bools: { ...JSON_FLAG, tail: 't' } },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const app = appOf(p, ctx);
      const n = typeof p.flags.num === 'string' ? p.flags.num : '20';
      if (!/^\d+$/.test(n)) throw new UsageError('-n needs a number');
      const status = typeof p.flags.status === 'string' ? p.flags.status : undefined;
      const r = await api<{ invocations: InvocationItem[] }>(
        ctx.creds,
        'GET',
        `/apps/${enc(app)}/invocations${q({ branch: branchOf(p), status, limit: n })}`,
      );
      const print = (i: InvocationItem): void => {
        if (p.flags.json) {
          ctx.io.stdout.write(`${JSON.stringify(i)}\n`);
          return;
        }
        out(ctx.io, formatInvocation(i, paint(ctx.io)));
      };
      const recent = r.invocations.reverse();
      recent.forEach(print);
      if (!p.flags.tail) return EXIT.OK;
      const lastId = recent.at(-1)?.id ?? 0;
      await tail(ctx, app, { branch: branchOf(p), status }, lastId, print);
      return EXIT.OK;
    },
  },

  routes: {
    usage: 'picloud routes -a APP [--branch B] [--json]',
    summary: 'routes and schedules of the live release',
    spec: { values: { ...APP, ...BRANCH }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const app = appOf(p, ctx);
      const r = await api<{
        branch: string;
        release: { version: number; commit: string } | null;
        routes: { methods: string[]; path: string; script: string; function: string | null }[];
        schedules: { cron: string; script: string; function: string | null }[];
      }>(ctx.creds, 'GET', `/apps/${enc(app)}/routes${q({ branch: branchOf(p) })}`);
      if (p.flags.json) { json(ctx.io, r); return EXIT.OK; }
      if (!r.release) { out(ctx.io, `${app} has no live release on ${r.branch}.`); return EXIT.OK; }
      const pt = paint(ctx.io);
      out(ctx.io, `=== ${app} routes (${r.branch}, v${r.release.version})`);
      out(ctx.io, table(['METHOD', 'PATH', 'SCRIPT', 'FUNCTION'], r.routes.map((x) => [x.methods.join(','), x.path, x.script, x.function ?? '-']), pt));
      if (r.schedules.length) {
        out(ctx.io);
        out(ctx.io, `=== ${app} schedules (UTC)`);
        out(ctx.io, table(['CRON', 'SCRIPT', 'FUNCTION'], r.schedules.map((x) => [x.cron, x.script, x.function ?? '-']), pt));
      }
      return EXIT.OK;
    },
  },

  previews: {
    usage: 'picloud previews -a APP [--json]',
    summary: 'live preview branches and their URLs',
    spec: { values: { ...APP }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const app = appOf(p, ctx);
      const r = await api<{ previews: BranchItem[] }>(ctx.creds, 'GET', `/apps/${enc(app)}/previews`);
      if (p.flags.json) { json(ctx.io, r.previews); return EXIT.OK; }
      if (!r.previews.length) { out(ctx.io, `${app} has no previews. Push a branch other than production to create one.`); return EXIT.OK; }
      const rows = r.previews.map((b) => [b.branch, `v${b.release.version}`, short(b.release.commit), ago(b.release.createdAt), b.urls.host]);
      out(ctx.io, table(['BRANCH', 'RELEASE', 'COMMIT', 'DEPLOYED', 'URL'], rows, paint(ctx.io)));
      return EXIT.OK;
    },
  },
};

VERBS.tokens = {
  usage: 'picloud tokens [--json]',
  summary: 'list API tokens (names and roles; admin only)',
  spec: { values: {}, bools: JSON_FLAG },
  auth: true,
  async run(p, ctx) {
    noPositionals(p);
    const { tokens } = await api<{ tokens: { id: number; name: string; role: string; createdAt: string; lastUsedAt: string | null }[] }>(ctx.creds, 'GET', '/tokens');
    if (p.flags.json) {
      json(ctx.io, tokens);
      return EXIT.OK;
    }
    out(ctx.io, table(['ID', 'NAME', 'ROLE', 'CREATED'], tokens.map((t) => [String(t.id), t.name, t.role, ago(t.createdAt)]), paint(ctx.io)));
    return EXIT.OK;
  },
};

VERBS['tokens:create'] = {
  usage: 'picloud tokens:create NAME [--role admin|read] [--json]',
  summary: 'create a named API token (shown once; admin only)',
  spec: { values: { role: null }, bools: JSON_FLAG },
  auth: true,
  async run(p, ctx) {
    const name = p.positionals[0];
    if (!name) throw new UsageError('missing token NAME');
    noPositionals(p, 1);
    const role = typeof p.flags.role === 'string' ? p.flags.role : undefined;
    const r = await api<{ name: string; role: string; token: string }>(ctx.creds, 'POST', '/tokens', { name, ...(role ? { role } : {}) });
    if (p.flags.json) {
      json(ctx.io, r);
      return EXIT.OK;
    }
    out(ctx.io, r.token);
    err(ctx.io, `Created token "${r.name}" (${r.role}). It is shown only now; store it safely.`);
    return EXIT.OK;
  },
};

VERBS['tokens:revoke'] = {
  usage: 'picloud tokens:revoke ID [--json]',
  summary: 'delete an API token (stops working within 30 s; the last admin token cannot be deleted)',
  spec: { values: {}, bools: JSON_FLAG },
  auth: true,
  async run(p, ctx) {
    const id = p.positionals[0];
    if (!id || !/^\d+$/.test(id)) throw new UsageError('give the token ID (see `picloud tokens`)');
    noPositionals(p, 1);
    const r = await api<{ deleted: number; name: string }>(ctx.creds, 'DELETE', `/tokens/${id}`);
    if (p.flags.json) {
      json(ctx.io, r);
      return EXIT.OK;
    }
    out(ctx.io, `Revoked token ${r.deleted} (${r.name}).`);
    return EXIT.OK;
  },
};

/** One line per invocation, then its log lines and error indented. */
export function formatInvocation(i: InvocationItem, pt = paint({ stdout: { write: () => 0 }, stderr: { write: () => 0 } })): string {
  const st = i.status >= 500 ? pt.red(String(i.status)) : i.status >= 400 ? pt.yellow(String(i.status)) : pt.green(String(i.status));
  const what = i.trigger === 'schedule' ? `cron ${i.route}` : `${i.method} ${i.path}`;
  const lines = [
    `${pt.dim(i.createdAt)} ${i.branch}${i.version ? ` v${i.version}` : ''} ${what} ${st} ${i.durationMs.toFixed(1)}ms${i.cold ? ' cold' : ''}`,
  ];
  // a multi-line message keeps its later lines under its first, not at the left margin
  const indent = (s: string) => s.replace(/\r?\n/g, '\n    ');
  for (const l of i.logs) lines.push(`  ${l.level}: ${indent(l.msg)}`);
  if (i.error) lines.push(`  ${pt.red('error')}: ${indent(i.error)}`);
  return lines.join('\n');
}

/** Follow the SSE stream until aborted (io.signal or SIGINT); reconnects with Last-Event-ID. */
async function tail(
  ctx: VerbCtx,
  app: string,
  filter: { branch?: string; status?: string },
  lastId: number,
  print: (i: InvocationItem) => void,
): Promise<void> {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  ctx.io.signal?.addEventListener('abort', onAbort, { once: true });
  if (ctx.io.signal?.aborted) ac.abort();
  const onSigint = (): void => ac.abort();
  if (!ctx.io.signal) process.once('SIGINT', onSigint);
  const matches = (i: InvocationItem): boolean => {
    const s = filter.status?.toLowerCase();
    if (!s) return true;
    if (s === 'error') return i.status >= 400;
    if (/^[1-5]xx$/.test(s)) return Math.floor(i.status / 100) === Number(s[0]);
    return String(i.status) === s;
  };
  let seen = lastId;
  let failures = 0;
  try {
    while (!ac.signal.aborted) {
      try {
        const res = await fetch(`${ctx.creds.server}/api/v1/apps/${enc(app)}/logs${q({ tail: '1', branch: filter.branch })}`, {
          headers: { authorization: `Bearer ${ctx.creds.token}`, accept: 'text/event-stream', ...(seen ? { 'last-event-id': String(seen) } : {}) },
          signal: ac.signal,
        });
        if (!res.ok || !res.body) {
          const body = (await res.json().catch(() => null)) as { error?: string; code?: string } | null;
          throw new ApiError(body?.error ?? `HTTP ${res.status}`, res.status, body?.code ?? 'HTTP_ERROR');
        }
        failures = 0;
        const dec = new TextDecoder();
        let buf = '';
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = ev.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
            if (!data) continue;
            const inv = JSON.parse(data) as InvocationItem;
            if (inv.id <= seen) continue;
            seen = inv.id;
            if (matches(inv)) print(inv);
          }
        }
      } catch (e) {
        if (ac.signal.aborted) break;
        if (e instanceof ApiError && e.status >= 400 && e.status < 500) throw e;
        if (++failures === 1) err(ctx.io, `log stream interrupted (${(e as Error).message}); reconnecting…`);
      }
      if (!ac.signal.aborted) await new Promise((r) => setTimeout(r, Math.min(2000 * failures, 10_000) || 500));
    }
  } finally {
    ctx.io.signal?.removeEventListener('abort', onAbort);
    process.removeListener('SIGINT', onSigint);
  }
}

/** Every client verb, by resource. */
const ALL_VERBS: Record<string, VerbDef> = { ...VERBS, ...KV_VERBS, ...JOB_VERBS, ...INFO_VERBS };

/** Run one client verb: parse, authenticate, call the API, print. */
export function runClientVerb(name: string, argv: string[], io: CliIO): Promise<number> {
  return runVerb(ALL_VERBS, name, argv, io);
}

/** Dispatch table entries for src/cli/main.ts: verb name → command. */
export const clientCommands: Record<string, Verb> = commandsOf(ALL_VERBS);

/** The verbs and their usage lines (completion, help). */
export const CLIENT_VERBS: ReadonlyArray<{ name: string; usage: string; summary: string; flags: string[] }> = Object.entries(ALL_VERBS).map(([name, d]) => ({
  name,
  usage: d.usage,
  summary: d.summary,
  flags: [...Object.keys(d.spec.values), ...Object.keys(d.spec.bools)].map((f) => `--${f}`),
}));
