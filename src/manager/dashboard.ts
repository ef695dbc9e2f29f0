/**
 * The dashboard: server-rendered HTML on the bare host (architecture.md §4, §7). No build step, inline CSS,
 * usable without JavaScript; a small nonce'd script adds live updates (new invocations over server-sent events,
 * request rate refreshed every 15 s).
 *
 *   GET  /login, POST /login           sign in with an API token → session cookie (HttpOnly, SameSite=Strict)
 *   POST /logout
 *   GET  /                             apps
 *   POST /ui/apps                      create an app
 *   GET  /ui/apps/:app?branch=         branches/previews, releases (rollback buttons), routes, schedules, config keys,
 *                                      request rate, recent invocations with logs and errors
 *   POST /ui/apps/:app/rollback        {version, branch}
 *   GET  /ui/apps/:app/stats?branch=   JSON rate for the live view
 *   GET  /ui/apps/:app/events?branch=  SSE of new invocations (rendered rows)
 *
 * Sessions live in memory (the manager is a single process); the cookie holds a random id, never the token.
 * Every POST form carries the session's CSRF token, and cross-origin POSTs are refused (Origin check).
 * Everything user-controlled is escaped (html.ts); a strict Content-Security-Policy backs that up.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../common/errors.ts';
import { listConfigVars } from '../db/config-vars.ts';
import { retryJobs } from '../db/jobs.ts';
import { jobsCard, runsHtml, scheduleRuns } from './dashboard-jobs.ts';
import {
  createApp,
  findApp,
  getRelease,
  invocationRate,
  listApps,
  listInvocations,
  listReleases,
  listRoutes,
  listSchedules,
  liveReleaseId,
  type AppRow,
  type InvocationView,
  type RateStats,
} from '../db/dashboard.ts';
import { appDetail, performRollback } from './api-apps.ts';
import type { ApiPluginOptions } from './api.ts';
import { verifierFor, type Principal } from './auth.ts';
import { ago, esc, html, ms, type Html } from './html.ts';
import { holdSseStream } from './sse.ts';
import { InvocationHub } from './invocation-hub.ts';
import { branchUrls, gitUrl, isValidAppName, publicOrigin } from './urls.ts';

/** The same dependencies as the API plugin (server.ts passes one object to both). */
export type DashboardPluginOptions = ApiPluginOptions;

const COOKIE = 'picloud_session';
/** invocations per page on the app page */
const PAGE = 30;
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 1000;

interface Session {
  id: string;
  token: string;
  csrf: string;
  expires: number;
  flash?: { kind: 'ok' | 'error'; text: string };
}

const CSS = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f4f6f9}
a{color:#2456c7;text-decoration:none}a:hover{text-decoration:underline}
header{display:flex;align-items:center;gap:18px;padding:10px 24px;background:#19202e;color:#e8ecf3}
header .brand{font-weight:700;font-size:16px;color:#fff;letter-spacing:.2px}header .brand span{color:#7fb0ff}
header nav{flex:1}header nav a{color:#c9d3e6;margin-right:14px}header .who{color:#9aa6bd;font-size:13px}
header form{margin:0}header button{background:none;border:1px solid #445069;color:#c9d3e6;border-radius:5px;padding:3px 10px;cursor:pointer}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:4px 0 14px}h2{font-size:15px;margin:0 0 10px;color:#39425a}
.card{background:#fff;border:1px solid #dde2eb;border-radius:8px;padding:14px 16px;margin-bottom:16px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media(max-width:860px){.grid{grid-template-columns:1fr}}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #edf0f5;vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#6b7489;font-weight:600}tr:last-child td{border-bottom:0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:#6b7489}.pill{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.live{background:#e1f5e8;color:#17723a}.prev{background:#eef1ff;color:#3848a8}
.s2{background:#e1f5e8;color:#17723a}.s3{background:#e6f0ff;color:#2456c7}.s4{background:#fff3dc;color:#8a5a00}.s5{background:#fde6e6;color:#b42323}
.tabs{display:flex;gap:6px;flex-wrap:wrap;margin-bottom:14px}.tabs a{padding:5px 12px;border:1px solid #d3d9e4;border-radius:16px;background:#fff;color:#39425a}
.tabs a.on{background:#19202e;color:#fff;border-color:#19202e}
button.act,input[type=submit]{background:#2456c7;color:#fff;border:0;border-radius:5px;padding:4px 11px;cursor:pointer;font-size:13px}
button.act:hover{background:#1b46a6}
input[type=text],input[type=password]{padding:7px 9px;border:1px solid #c7cfdc;border-radius:5px;font-size:14px;min-width:260px}
.flash{padding:10px 14px;border-radius:6px;margin-bottom:16px}.flash.ok{background:#e1f5e8;color:#17723a}.flash.error{background:#fde6e6;color:#b42323}
.stats{display:flex;gap:28px;align-items:flex-end}.stat b{display:block;font-size:22px}.stat span{display:block;color:#6b7489;font-size:12px}
details summary{cursor:pointer}pre{background:#f6f8fb;border:1px solid #e6eaf1;border-radius:5px;padding:8px;margin:6px 0 0;white-space:pre-wrap;word-break:break-word;max-height:260px;overflow:auto}
.err{color:#b42323}.login{max-width:420px;margin:80px auto}.new{animation:hl 2s ease-out}@keyframes hl{from{background:#fff7c2}to{background:transparent}}
`;

const statusClass = (s: number): string => `s${Math.min(Math.max(Math.floor(s / 100), 2), 5)}`;

function page(title: string, body: Html, opts: { session?: Session; principal?: Principal; nonce: string; script?: string }): string {
  const nav = opts.session
    ? html`<nav><a href="/">Apps</a></nav><span class="who">${opts.principal?.name ?? ''}</span>
        <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${opts.session.csrf}"><button>Log out</button></form>`
    : html`<nav></nav>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · PiCloud</title><style>${CSS}</style></head>
<body><header><a class="brand" href="/">Pi<span>Cloud</span></a>${nav}</header>
<main>${body}</main>${opts.script ? `<script nonce="${opts.nonce}">${opts.script}</script>` : ''}</body></html>`;
}

function sparkline(values: number[]): Html {
  const w = 180;
  const h = 36;
  const max = Math.max(1, ...values);
  const bw = w / values.length;
  const bars = values.map((v, i) => {
    const bh = Math.max(v ? 2 : 0, Math.round((v / max) * (h - 2)));
    return html`<rect x="${(i * bw + 1).toFixed(1)}" y="${h - bh}" width="${(bw - 2).toFixed(1)}" height="${bh}" rx="1"></rect>`;
  });
  return html`<svg id="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" fill="#7fa6f0" aria-label="requests per minute, last ${values.length} minutes">${bars}</svg>`;
}

function invocationRow(i: InvocationView): Html {
  const what = i.trigger === 'schedule' ? html`<span class="muted">cron</span> <code>${i.route}</code>` : html`<code>${i.method} ${i.path}</code>`;
  const hasDetail = i.logs.length > 0 || !!i.error;
  const detail = hasDetail
    ? html`<details><summary>${i.error ? html`<span class="err">error</span>` : ''}${i.error && i.logs.length ? ' · ' : ''}${i.logs.length ? `${i.logs.length} log line${i.logs.length === 1 ? '' : 's'}` : ''}</summary>
        ${i.logs.length ? html`<pre>${i.logs.map((l) => `[${l.level}] ${l.msg}\n`).join('')}</pre>` : ''}
        ${i.error ? html`<pre class="err">${i.error}</pre>` : ''}</details>`
    : html`<span class="muted">—</span>`;
  return html`<tr data-id="${i.id}"><td class="muted" title="${i.createdAt}">${ago(i.createdAt)}</td><td>${what}</td>
    <td><span class="pill ${statusClass(i.status)}">${i.status}</span></td><td class="mono">${ms(i.durationMs)}${i.cold ? html` <span class="muted">cold</span>` : ''}</td>
    <td class="muted">${i.version ? `v${i.version}` : '—'}</td><td>${detail}</td></tr>`;
}

function rateBlock(r: RateStats): Html {
  return html`<div class="stats"><div class="stat"><b id="rate-1m">${r.lastMinute}</b><span>requests / min (current)</span></div>
    <div class="stat"><b id="rate-5m">${r.last5Minutes}</b><span>last 5 min</span></div>
    <div class="stat"><b id="err-5m">${r.errors5Minutes}</b><span>5xx, last 5 min</span></div>
    <div class="stat"><b id="avg-5m">${r.avgDurationMs5Minutes === null ? '—' : ms(r.avgDurationMs5Minutes)}</b><span>avg duration</span></div>
    <div class="stat">${sparkline(r.perMinute)}<span>per minute, last ${r.perMinute.length} min</span></div></div>`;
}

/** Progressive enhancement of the app page; reads app and branch from data attributes (never interpolated). */
const LIVE_SCRIPT = `(() => {
  const root = document.getElementById('app-page');
  if (!root) return;
  const q = '?branch=' + encodeURIComponent(root.dataset.branch);
  const base = '/ui/apps/' + encodeURIComponent(root.dataset.app);
  const tbody = document.getElementById('invocations');
  const state = document.getElementById('live-state');
  if (window.EventSource && tbody && root.dataset.live) {
    const es = new EventSource(base + '/events' + q);
    es.addEventListener('open', () => { state.textContent = 'live'; state.className = 'pill live'; });
    es.addEventListener('error', () => { state.textContent = 'reconnecting'; state.className = 'pill s4'; });
    es.addEventListener('invocation', (e) => {
      const empty = document.getElementById('no-invocations'); if (empty) empty.remove();
      const t = document.createElement('tbody'); t.innerHTML = JSON.parse(e.data).html;
      const row = t.firstElementChild; row.classList.add('new'); tbody.prepend(row);
      while (tbody.children.length > 50) tbody.lastElementChild.remove();
      for (const id of ['rate-1m', 'rate-5m']) { const n = document.getElementById(id); n.textContent = String(Number(n.textContent) + 1); }
    });
  }
  const refresh = async () => {
    try {
      const r = await fetch(base + '/stats' + q, { credentials: 'same-origin' });
      if (!r.ok) return;
      const s = await r.json();
      document.getElementById('rate-1m').textContent = s.lastMinute;
      document.getElementById('rate-5m').textContent = s.last5Minutes;
      document.getElementById('err-5m').textContent = s.errors5Minutes;
      document.getElementById('avg-5m').textContent = s.avgDurationText;
      document.getElementById('spark').outerHTML = s.sparkline;
    } catch {}
  };
  setInterval(refresh, 15000);
})();`;

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

const sameToken = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

export const dashboardPlugin: FastifyPluginAsync<DashboardPluginOptions> = async (fastify, opts) => {
  const { config, pool } = opts;
  const log = opts.log.child({ component: 'dashboard' });
  const verifier = verifierFor(fastify, pool, opts.verifier);
  const hub = opts.hub ?? new InvocationHub(pool, opts.log.child({ component: 'invocation-hub' }));
  const sessions = new Map<string, Session>();
  const streams = new Set<FastifyReply>();

  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  fastify.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-frame-options', 'DENY');
    return payload;
  });
  fastify.addHook('preClose', async () => {
    for (const r of streams) r.raw.end();
    streams.clear();
  });
  fastify.addHook('onClose', async () => {
    if (!opts.hub) await hub.close();
  });

  const nonceOf = new WeakMap<FastifyRequest, string>();
  const sendPage = (req: FastifyRequest, reply: FastifyReply, code: number, title: string, body: Html, s?: { session?: Session; principal?: Principal; script?: string }) => {
    const nonce = randomBytes(12).toString('base64');
    nonceOf.set(req, nonce);
    return reply
      .code(code)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header(
        'content-security-policy',
        `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      )
      .send(page(title, body, { ...s, nonce }));
  };

  const secureCookie = (req: FastifyRequest): boolean => req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';

  const newSession = (token: string): Session => {
    const now = Date.now();
    for (const [id, s] of sessions) if (s.expires < now) sessions.delete(id);
    while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
    const s: Session = { id: randomBytes(24).toString('base64url'), token, csrf: randomBytes(24).toString('base64url'), expires: now + SESSION_TTL_MS };
    sessions.set(s.id, s);
    return s;
  };

  /** The signed-in session and principal (the token is re-verified, so a revoked token ends the session). */
  const current = async (req: FastifyRequest): Promise<{ session: Session; principal: Principal } | null> => {
    const id = parseCookies(req.headers.cookie)[COOKIE];
    const s = id ? sessions.get(id) : undefined;
    if (!s || s.expires < Date.now()) return null;
    const principal = await verifier.verify(s.token);
    if (!principal) {
      sessions.delete(s.id);
      return null;
    }
    return { session: s, principal };
  };

  /** Refuse cross-site form posts: an Origin (when sent) must be this host. */
  const sameOrigin = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    if (!origin) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  };

  const checkPost = async (req: FastifyRequest, reply: FastifyReply) => {
    const cur = await current(req);
    if (!cur) {
      reply.redirect('/login', 303);
      return null;
    }
    const csrf = (req.body as Record<string, string> | null)?._csrf ?? '';
    if (!sameOrigin(req) || !sameToken(csrf, cur.session.csrf)) {
      sendPage(req, reply, 403, 'Forbidden', html`<div class="card"><h1>Forbidden</h1><p>The form expired or came from another site. <a href="/">Back</a></p></div>`, cur);
      return null;
    }
    return cur;
  };

  const requireLogin = async (req: FastifyRequest, reply: FastifyReply) => {
    const cur = await current(req);
    if (!cur) reply.redirect('/login', 303);
    return cur;
  };

  const takeFlash = (s: Session): Html => {
    const f = s.flash;
    s.flash = undefined;
    return f ? html`<div class="flash ${f.kind}" role="status">${f.text}</div>` : html``;
  };

  // ----------------------------------------------------------------------------------------------- login

  const loginPage = (error?: string) => html`<div class="login card"><h1>Sign in</h1>
    <p class="muted">Use an API token. The first start of <code>picloud up</code> printed the admin token and stored it in
    <code>$PICLOUD_HOME/admin-token</code>.</p>
    ${error ? html`<div class="flash error">${error}</div>` : ''}
    <form method="post" action="/login"><p><input type="password" name="token" id="token" placeholder="pc_…" autocomplete="current-password" required autofocus></p>
    <p><input type="submit" value="Sign in"></p></form></div>`;

  fastify.get('/login', async (req, reply) => {
    if (await current(req)) return reply.redirect('/', 303);
    return sendPage(req, reply, 200, 'Sign in', loginPage());
  });

  fastify.post('/login', async (req, reply) => {
    if (!sameOrigin(req)) return sendPage(req, reply, 403, 'Sign in', loginPage('Cross-site sign-in refused.'));
    const token = String((req.body as Record<string, string> | null)?.token ?? '').trim();
    const principal = token ? await verifier.verify(token) : null;
    if (!principal) {
      log.info({ ip: req.ip }, 'dashboard sign-in refused');
      return sendPage(req, reply, 401, 'Sign in', loginPage('That token is not valid.'));
    }
    const s = newSession(token);
    log.info({ name: principal.name }, 'dashboard sign-in');
    reply.header(
      'set-cookie',
      `${COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}${secureCookie(req) ? '; Secure' : ''}`,
    );
    return reply.redirect('/', 303);
  });

  fastify.post('/logout', async (req, reply) => {
    const cur = await checkPost(req, reply);
    if (!cur) return reply;
    sessions.delete(cur.session.id);
    reply.header('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return reply.redirect('/login', 303);
  });

  // ------------------------------------------------------------------------------------------------ apps

  fastify.get('/', async (req, reply) => {
    const cur = await requireLogin(req, reply);
    if (!cur) return reply;
    const apps = await listApps(pool);
    const origin = publicOrigin(config, req.headers.host, req.headers['x-forwarded-proto']);
    const rows = apps.map(
      (a) => html`<tr><td><a href="/ui/apps/${encodeURIComponent(a.name)}"><b>${a.name}</b></a></td>
        <td>${a.productionVersion ? html`<span class="pill live">v${a.productionVersion}</span>` : html`<span class="muted">not deployed</span>`}</td>
        <td>${a.branches > 1 ? `${a.branches - 1} preview${a.branches === 2 ? '' : 's'}` : html`<span class="muted">—</span>`}</td>
        <td class="muted">${ago(a.lastDeployAt)}</td>
        <td>${a.productionVersion ? html`<a href="${branchUrls(config, a.name, a.productionBranch, true, origin).host}">${branchUrls(config, a.name, a.productionBranch, true, origin).host}</a>` : html`<code class="muted">git push …/git/${a.name}.git</code>`}</td></tr>`,
    );
    const canWrite = cur.principal.role === 'admin';
    const body = html`${takeFlash(cur.session)}<h1>Apps</h1>
      <div class="card">${
        apps.length
          ? html`<table id="apps"><thead><tr><th>Name</th><th>Production</th><th>Previews</th><th>Deployed</th><th>URL</th></tr></thead><tbody>${rows}</tbody></table>`
          : html`<p class="muted">No apps yet. Push a repository with a <code>picloud.toml</code> to <code>/git/&lt;name&gt;.git</code>, or create one below.</p>`
      }</div>
      ${
        canWrite
          ? html`<div class="card"><h2>New app</h2><form method="post" action="/ui/apps"><input type="hidden" name="_csrf" value="${cur.session.csrf}">
          <input type="text" name="name" placeholder="my-app" pattern="[a-z][a-z0-9\\-]{0,30}" required> <input type="submit" value="Create"></form></div>`
          : ''
      }`;
    return sendPage(req, reply, 200, 'Apps', body, cur);
  });

  fastify.post('/ui/apps', async (req, reply) => {
    const cur = await checkPost(req, reply);
    if (!cur) return reply;
    const name = String((req.body as Record<string, string>).name ?? '').trim();
    if (cur.principal.role !== 'admin') cur.session.flash = { kind: 'error', text: 'Your token may only read.' };
    else if (!isValidAppName(name)) cur.session.flash = { kind: 'error', text: `Invalid app name "${name}": use a-z, 0-9 and -, starting with a letter.` };
    else if (!(await createApp(pool, name))) cur.session.flash = { kind: 'error', text: `An app named ${name} exists.` };
    else {
      log.info({ app: name, by: cur.principal.name }, 'app created');
      cur.session.flash = { kind: 'ok', text: `Created ${name}. Deploy with: git remote add picloud ${gitUrl(config, name, publicOrigin(config, req.headers.host, req.headers['x-forwarded-proto']))}` };
    }
    return reply.redirect('/', 303);
  });

  const appOr404 = async (req: FastifyRequest, reply: FastifyReply, cur: { session: Session; principal: Principal }, name: string) => {
    const app = isValidAppName(name) ? await findApp(pool, name) : null;
    if (!app) sendPage(req, reply, 404, 'Not found', html`<div class="card"><h1>No app named “${name}”</h1><p><a href="/">All apps</a></p></div>`, cur);
    return app;
  };
  const branchParam = (app: AppRow, q: unknown): string => {
    const b = (q as { branch?: string }).branch;
    return typeof b === 'string' && b && b.length <= 255 ? b : app.productionBranch;
  };

  fastify.get<{ Params: { app: string } }>('/ui/apps/:app', async (req, reply) => {
    const cur = await requireLogin(req, reply);
    if (!cur) return reply;
    const app = await appOr404(req, reply, cur, req.params.app);
    if (!app) return reply;
    const branch = branchParam(app, req.query);
    const q = req.query as { status?: string; before?: string };
    const statusFilter = q.status === 'error' || q.status === '5xx' ? q.status : '';
    const before = q.before && /^\d{1,15}$/.test(q.before) ? Number(q.before) : undefined;
    const detail = await appDetail(config, pool, app, publicOrigin(config, req.headers.host, req.headers['x-forwarded-proto']));
    const liveId = await liveReleaseId(pool, app.id, branch);
    const [releases, live, routes, schedules, vars, invocations, rate, runs] = await Promise.all([
      listReleases(pool, app.id, branch, 30),
      liveId === null ? null : getRelease(pool, liveId),
      liveId === null ? [] : listRoutes(pool, liveId),
      liveId === null ? [] : listSchedules(pool, liveId),
      listConfigVars(pool, app.id, branch),
      listInvocations(pool, app.id, { branch, limit: PAGE, status: statusFilter || undefined, before }),
      invocationRate(pool, app.id),
      scheduleRuns(pool, app.id, branch),
    ]);
    const current = detail.branches.find((b) => b.branch === branch);
    const enc = encodeURIComponent;
    const tabs = detail.branches.map(
      (b) => html`<a class="${b.branch === branch ? 'on' : ''}" href="/ui/apps/${enc(app.name)}?branch=${enc(b.branch)}">${b.branch}${b.production ? ' (production)' : ''}</a>`,
    );
    const canWrite = cur.principal.role === 'admin';
    const releaseRows = releases.map(
      (r) => html`<tr data-version="${r.version}"><td><b>v${r.version}</b></td>
        <td>${r.live ? html`<span class="pill live">live</span>` : ''}</td>
        <td class="mono">${r.commit.slice(0, 7)}</td><td>${r.description}</td><td class="muted">${r.pusher || '—'}</td>
        <td class="muted" title="${r.createdAt}">${ago(r.createdAt)}</td>
        <td>${
          !r.live && canWrite
            ? html`<form method="post" action="/ui/apps/${enc(app.name)}/rollback"><input type="hidden" name="_csrf" value="${cur.session.csrf}">
            <input type="hidden" name="branch" value="${branch}"><input type="hidden" name="version" value="${r.version}">
            <button class="act" type="submit" aria-label="Roll back to v${r.version}">Roll back</button></form>`
            : ''
        }</td></tr>`,
    );
    const env = (live?.config.env ?? {}) as Record<string, string>;
    const configKeys = [...new Set([...Object.keys(env), ...vars.map((v) => v.key)])].sort();
    const overridden = new Set(vars.map((v) => v.key));
    const body = html`${takeFlash(cur.session)}
      <h1 id="app-page" data-app="${app.name}" data-branch="${branch}" data-live="${statusFilter || before ? '' : '1'}">${app.name}</h1>
      <div class="tabs">${tabs.length ? tabs : html`<span class="muted">Not deployed yet: <code>git push ${detail.gitUrl} main</code></span>`}</div>
      ${
        current
          ? html`<div class="card" id="branch"><h2>${current.production ? 'Production' : 'Preview'} · ${branch}
          <span class="pill ${current.production ? 'live' : 'prev'}">v${current.release.version}</span></h2>
          <p><a href="${current.urls.host}">${current.urls.host}</a> <span class="muted">·</span> <a href="${current.urls.path}">${current.urls.path}</a></p>
          <p class="muted">Commit <span class="mono">${current.release.commit.slice(0, 7)}</span> · ${current.release.description} · ${ago(current.release.createdAt)}</p></div>`
          : releases.length
            ? html`<div class="card"><p class="muted">${branch} has no live release (preview removed).</p></div>`
            : ''
      }
      ${
        detail.branches.length > 1
          ? html`<div class="card"><h2>Branches and previews</h2><table id="branches"><thead><tr><th>Branch</th><th>Release</th><th>Deployed</th><th>URL</th></tr></thead><tbody>${detail.branches.map(
              (b) => html`<tr><td><a href="/ui/apps/${enc(app.name)}?branch=${enc(b.branch)}">${b.branch}</a>${b.production ? html` <span class="pill live">production</span>` : ''}</td>
                <td>v${b.release.version} <span class="muted mono">${b.release.commit.slice(0, 7)}</span></td><td class="muted">${ago(b.release.createdAt)}</td>
                <td><a href="${b.urls.host}">${b.urls.host}</a></td></tr>`,
            )}</tbody></table></div>`
          : ''
      }
      <div class="card"><h2>Requests <span id="live-state" class="pill s3">static</span></h2>${rateBlock(rate)}</div>
      <div class="card"><h2>Releases</h2>${
        releases.length
          ? html`<table id="releases"><thead><tr><th>Version</th><th></th><th>Commit</th><th>Description</th><th>By</th><th>When</th><th></th></tr></thead><tbody>${releaseRows}</tbody></table>`
          : html`<p class="muted">No releases on ${branch}.</p>`
      }</div>
      <div class="grid">
        <div class="card"><h2>Routes</h2>${
          routes.length
            ? html`<table id="routes"><thead><tr><th>Method</th><th>Path</th><th>Script</th></tr></thead><tbody>${routes.map(
                (r) => html`<tr><td class="mono">${r.methods.join(', ')}</td><td class="mono">${r.path}</td><td class="mono">${r.script}${r.function ? html` <span class="muted">→ ${r.function}()</span>` : ''}</td></tr>`,
              )}</tbody></table>`
            : html`<p class="muted">No routes.</p>`
        }</div>
        <div class="card"><h2>Schedules <span class="muted">(UTC)</span></h2>${
          schedules.length
            ? html`<table id="schedules"><thead><tr><th>Cron</th><th>Script</th><th>Last runs</th></tr></thead><tbody>${schedules.map(
                (s) => html`<tr><td class="mono">${s.cron}</td><td class="mono">${s.script}${s.function ? html` <span class="muted">→ ${s.function}()</span>` : ''}</td><td>${runsHtml(runs.get(s.cron))}</td></tr>`,
              )}</tbody></table>`
            : html`<p class="muted">No schedules.</p>`
        }</div>
      </div>
      ${await jobsCard(pool, { appId: app.id, app: app.name, branch, csrf: cur.session.csrf, canWrite })}
      <div class="card"><h2>Config <span class="muted">(values hidden; manage with <code>picloud config:set -a ${app.name}</code>)</span></h2>${
        configKeys.length
          ? html`<p>${configKeys.map((k) => html`<span class="pill ${overridden.has(k) ? 'prev' : 's3'} mono" title="${overridden.has(k) ? 'config:set' : 'picloud.toml'}">${k}</span> `)}</p>`
          : html`<p class="muted">No config vars.</p>`
      }</div>
      <div class="card"><h2>${before ? 'Older invocations' : 'Recent invocations'}</h2>
        <div class="tabs" id="inv-filter">${(
          [
            ['', 'All'],
            ['error', 'Errors (4xx, 5xx)'],
            ['5xx', '5xx'],
          ] as const
        ).map(
          ([v, label]) =>
            html`<a class="${statusFilter === v ? 'on' : ''}" href="/ui/apps/${enc(app.name)}?branch=${enc(branch)}${v ? `&status=${v}` : ''}">${label}</a>`,
        )}</div>
        <table><thead><tr><th>When</th><th>Request</th><th>Status</th><th>Duration</th><th>Release</th><th>Logs / errors</th></tr></thead>
        <tbody id="invocations">${invocations.length ? invocations.map(invocationRow) : html`<tr id="no-invocations"><td colspan="6" class="muted">No invocations${statusFilter ? ' matching this filter' : ' yet'}.</td></tr>`}</tbody></table>
        ${
          invocations.length === PAGE
            ? html`<p><a id="older" href="/ui/apps/${enc(app.name)}?branch=${enc(branch)}${statusFilter ? `&status=${statusFilter}` : ''}&before=${invocations.at(-1)!.id}">Older →</a></p>`
            : ''
        }</div>`;
    return sendPage(req, reply, 200, app.name, body, { ...cur, script: LIVE_SCRIPT });
  });

  /** An app page's form post: session and CSRF checked, the app found (else answered), its branch and page URL. */
  const appPost = async (req: FastifyRequest<{ Params: { app: string } }>, reply: FastifyReply) => {
    const cur = await checkPost(req, reply);
    if (!cur) return null;
    const app = await appOr404(req, reply, cur, req.params.app);
    if (!app) return null;
    const form = req.body as Record<string, string>;
    const branch = branchParam(app, form);
    return { cur, app, form, branch, back: `/ui/apps/${encodeURIComponent(app.name)}?branch=${encodeURIComponent(branch)}` };
  };

  fastify.post<{ Params: { app: string } }>('/ui/apps/:app/rollback', async (req, reply) => {
    const p = await appPost(req, reply);
    if (!p) return reply;
    const { cur, app, form, branch, back } = p;
    const version = /^[1-9]\d{0,8}$/.test(String(form.version)) ? Number(form.version) : NaN;
    if (cur.principal.role !== 'admin') cur.session.flash = { kind: 'error', text: 'Your token may only read.' };
    else if (Number.isNaN(version)) cur.session.flash = { kind: 'error', text: 'Invalid version.' };
    else {
      try {
        const r = await performRollback(pool, opts.rollback, app, branch, version, cur.principal.name);
        const s = r.restored;
        log.info({ app: app.name, branch, from: version, release: r.release.version, by: cur.principal.name }, 'rolled back');
        cur.session.flash = {
          kind: 'ok',
          text: `Rolled back to v${s.from}: released v${r.release.version} (${r.release.commit.slice(0, 7)}) with ${s.scripts} script(s), ${s.routes} route(s), ${s.schedules} schedule(s).`,
        };
      } catch (err) {
        if (!isAppError(err)) log.error({ err }, 'dashboard rollback failed');
        cur.session.flash = { kind: 'error', text: isAppError(err) ? err.message : 'Rollback failed (internal error).' };
      }
    }
    return reply.redirect(back, 303);
  });

  fastify.post<{ Params: { app: string } }>('/ui/apps/:app/jobs/retry', async (req, reply) => {
    const p = await appPost(req, reply);
    if (!p) return reply;
    const { cur, app, form, branch, back } = p;
    if (cur.principal.role !== 'admin') cur.session.flash = { kind: 'error', text: 'Your token may only read.' };
    else {
      const ids = await retryJobs(pool, { appId: app.id, branch, queue: typeof form.queue === 'string' && form.queue ? form.queue : undefined });
      log.info({ app: app.name, branch, jobs: ids.length, by: cur.principal.name }, 'dead letters retried');
      cur.session.flash = { kind: 'ok', text: `Retrying ${ids.length} failed job(s).` };
    }
    return reply.redirect(back, 303);
  });

  fastify.get<{ Params: { app: string } }>('/ui/apps/:app/stats', async (req, reply) => {
    const cur = await current(req);
    if (!cur) return reply.code(401).send(new AppError('AUTH_REQUIRED', 'sign in first').toJSON());
    const app = isValidAppName(req.params.app) ? await findApp(pool, req.params.app) : null;
    if (!app) return reply.code(404).send({ error: 'no such app', code: 'APP_NOT_FOUND' });
    const r = await invocationRate(pool, app.id);
    return {
      ...r,
      avgDurationText: r.avgDurationMs5Minutes === null ? '—' : ms(r.avgDurationMs5Minutes),
      sparkline: sparkline(r.perMinute).value,
      plane: opts.plane ? safeStats(opts.plane) : undefined,
    };
  });

  fastify.get<{ Params: { app: string } }>('/ui/apps/:app/events', async (req, reply) => {
    const cur = await current(req);
    if (!cur) return reply.code(401).send(new AppError('AUTH_REQUIRED', 'sign in first').toJSON());
    const app = isValidAppName(req.params.app) ? await findApp(pool, req.params.app) : null;
    if (!app) return reply.code(404).send({ error: 'no such app', code: 'APP_NOT_FOUND' });
    const branch = branchParam(app, req.query);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
    streams.add(reply);
    let unsubscribe: () => void;
    try {
      unsubscribe = await hub.subscribe({
        appId: app.id,
        branch,
        onInvocation: (row) => res.write(`id: ${row.id}\nevent: invocation\ndata: ${JSON.stringify({ id: row.id, html: invocationRow(row).value })}\n\n`),
      });
    } catch (err) {
      log.error({ err }, 'live view: could not LISTEN');
      streams.delete(reply);
      res.end();
      return;
    }
    res.write('retry: 3000\n: live\n\n');
    holdSseStream(req, res, () => {
      unsubscribe();
      streams.delete(reply);
    });
  });
};

function safeStats(plane: { stats(): unknown }): unknown {
  try {
    return plane.stats();
  } catch {
    return undefined;
  }
}
