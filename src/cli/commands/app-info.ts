/**
 * `picloud info`, `picloud open`, `picloud schedules`: what an app is and where it lives (Heroku's `apps:info`,
 * `open`; the schedules of its live release).
 */
import { spawn } from 'node:child_process';
import { api, q } from '../client/http.ts';
import { ago, EXIT, json, out, paint, table } from '../client/io.ts';
import { APP, appOf, BRANCH, branchOf, enc, JSON_FLAG, noPositionals, type VerbDef } from '../client/verb.ts';

interface AppDetail {
  name: string;
  productionBranch: string;
  createdAt: string;
  gitUrl: string;
  branches: {
    branch: string;
    production: boolean;
    release: { version: number; commit: string; createdAt: string };
    urls: { host: string; path: string };
  }[];
}

const detail = async (ctx: Parameters<VerbDef['run']>[1], app: string): Promise<AppDetail> =>
  (await api<{ app: AppDetail }>(ctx.creds, 'GET', `/apps/${enc(app)}`)).app;

export const INFO_VERBS: Record<string, VerbDef> = {
  info: {
    usage: 'picloud info -a APP [--json]',
    summary: 'show an app: git URL, URLs, live release of each branch, routes and schedules',
    spec: { values: { ...APP }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const name = appOf(p, ctx);
      const app = await detail(ctx, name);
      const rs = await api<{ routes: unknown[]; schedules: unknown[] }>(ctx.creds, 'GET', `/apps/${enc(name)}/routes`);
      if (p.flags.json) {
        json(ctx.io, { ...app, routes: rs.routes.length, schedules: rs.schedules.length });
        return EXIT.OK;
      }
      const prod = app.branches.find((b) => b.production);
      const pt = paint(ctx.io);
      out(ctx.io, pt.bold(`=== ${app.name}`));
      const rows: [string, string][] = [
        ['Git URL', app.gitUrl],
        ['Production', prod ? `${app.productionBranch} v${prod.release.version} (${prod.release.commit.slice(0, 7)}, ${ago(prod.release.createdAt)})` : `${app.productionBranch} (not deployed yet)`],
        ['Web URL', prod ? prod.urls.host : '-'],
        ['Path URL', prod ? prod.urls.path : '-'],
        ['Routes', String(rs.routes.length)],
        ['Schedules', String(rs.schedules.length)],
        ['Previews', String(app.branches.filter((b) => !b.production).length)],
        ['Created', ago(app.createdAt)],
      ];
      for (const [k, v] of rows) out(ctx.io, `${`${k}:`.padEnd(12)}${v}`);
      return EXIT.OK;
    },
  },
  open: {
    usage: 'picloud open -a APP [--branch B] [--path]   (--path: the /apps/<app>/ form)',
    summary: "open the app's URL in a browser (prints it when there is none)",
    spec: { values: { ...APP, ...BRANCH }, bools: { path: null, help: 'h' } },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const name = appOf(p, ctx);
      const app = await detail(ctx, name);
      const want = branchOf(p) ?? app.productionBranch;
      const b = app.branches.find((x) => x.branch === want);
      if (!b) {
        ctx.io.stderr.write(`picloud open: ${name} has no live release on ${want}\n`);
        return EXIT.FAILURE;
      }
      const url = p.flags.path ? b.urls.path : b.urls.host;
      out(ctx.io, url);
      const env = ctx.io.env ?? process.env;
      const opener = env.BROWSER || (process.platform === 'darwin' ? 'open' : 'xdg-open');
      if (ctx.io.stdout.isTTY && !env.PICLOUD_NO_BROWSER) {
        const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
        child.on('error', () => {}); // no browser here: the URL is printed above
        child.unref();
      }
      return EXIT.OK;
    },
  },
  schedules: {
    usage: 'picloud schedules -a APP [--branch B] [--json]',
    summary: 'list the schedules of the live release',
    spec: { values: { ...APP, ...BRANCH }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const name = appOf(p, ctx);
      const r = await api<{ branch: string; release: { version: number } | null; schedules: { cron: string; script: string; function: string | null }[] }>(
        ctx.creds,
        'GET',
        `/apps/${enc(name)}/schedules${q({ branch: branchOf(p) })}`,
      );
      if (p.flags.json) {
        json(ctx.io, r.schedules);
        return EXIT.OK;
      }
      if (!r.schedules.length) {
        out(ctx.io, `${name} (${r.branch}) has no schedules${r.release ? ` in v${r.release.version}` : ''}. Declare [[schedules]] in picloud.toml.`);
        return EXIT.OK;
      }
      const rows = r.schedules.map((s) => [s.cron, s.script, s.function ?? '(whole script)']);
      out(ctx.io, table(['CRON (UTC)', 'SCRIPT', 'FUNCTION'], rows, paint(ctx.io)));
      return EXIT.OK;
    },
  },
};
