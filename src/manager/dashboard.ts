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
 * Sessions, CSRF and the page answer: dashboard-session.ts; the look: dashboard-view.ts; the app page's cards:
 * dashboard-app.ts (and dashboard-jobs.ts). Everything user-controlled is escaped (html.ts); a strict
 * Content-Security-Policy backs that up.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../common/errors.ts';
import { createApp, findApp, invocationRate, listApps, type AppRow } from '../db/dashboard.ts';
import { retryJobs } from '../db/jobs.ts';
import { performRollback, type RollbackFn } from './api-apps.ts';
import type { ApiPluginOptions } from './api.ts';
import { verifierFor, type TokenVerifier } from './auth.ts';
import { appPage } from './dashboard-app.ts';
import type { Flash } from '../db/sessions.ts';
import { COOKIE, dashboardSessions, SESSION_TTL_MS, type DashboardSessions, type SignedIn } from './dashboard-session.ts';
import { invocationRow, LIVE_SCRIPT, sparkline } from './dashboard-view.ts';
import { ago, html, ms } from './html.ts';
import { holdSseStream } from './sse.ts';
import { InvocationHub } from './invocation-hub.ts';
import { branchUrls, gitUrl, isValidAppName, publicOrigin, type PublicOrigin } from './urls.ts';

/** The same dependencies as the API plugin (server.ts passes one object to both). */
export type DashboardPluginOptions = ApiPluginOptions;

const branchParam = (app: AppRow, q: unknown): string => {
  const b = (q as { branch?: string }).branch;
  return typeof b === 'string' && b && b.length <= 255 ? b : app.productionBranch;
};

/** What the dashboard's route groups share (one per plugin instance). */
interface DashboardContext {
  config: DashboardPluginOptions['config'];
  pool: DashboardPluginOptions['pool'];
  log: DashboardPluginOptions['log'];
  verifier: TokenVerifier;
  web: DashboardSessions;
  originOf(req: FastifyRequest): PublicOrigin | undefined;
}

export const dashboardPlugin: FastifyPluginAsync<DashboardPluginOptions> = async (fastify, opts) => {
  const { config, pool } = opts;
  const verifier = verifierFor(fastify, pool, opts.verifier);
  const ctx: DashboardContext = {
    config,
    pool,
    log: opts.log.child({ component: 'dashboard' }),
    verifier,
    web: dashboardSessions(pool),
    originOf: (req) => publicOrigin(config, req.headers.host, req.headers['x-forwarded-proto']),
  };

  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  fastify.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-frame-options', 'DENY');
    return payload;
  });

  signInRoutes(fastify, ctx);
  appPageRoutes(fastify, ctx, opts.rollback);
  liveRoutes(fastify, ctx, opts);
};

/** GET/POST /login, POST /logout. */
function signInRoutes(fastify: FastifyInstance, ctx: DashboardContext): void {
  const { log, verifier } = ctx;
  const { sendPage, secureCookie, start, end, current, sameOrigin, checkPost } = ctx.web;

  const loginPage = (error?: string) => html`<div class="login card"><h1>Sign in</h1>
    <p class="muted">Use an API token. The first start of <code>picloud up</code> printed the admin token and stored it in
    <code>$PICLOUD_HOME/admin-token</code>.</p>
    ${error ? html`<div class="flash error">${error}</div>` : ''}
    <form method="post" action="/login"><p><input type="password" name="token" id="token" placeholder="pc_…" autocomplete="current-password" required autofocus></p>
    <p><input type="submit" value="Sign in"></p></form></div>`;

  fastify.get('/login', async (req, reply) => {
    if (await current(req)) return reply.redirect('/', 303);
    return sendPage(reply, 200, 'Sign in', loginPage());
  });

  fastify.post('/login', async (req, reply) => {
    if (!sameOrigin(req)) return sendPage(reply, 403, 'Sign in', loginPage('Cross-site sign-in refused.'));
    const token = String((req.body as Record<string, string> | null)?.token ?? '').trim();
    const principal = token ? await verifier.verify(token) : null;
    if (!principal) {
      log.info({ ip: req.ip }, 'dashboard sign-in refused');
      return sendPage(reply, 401, 'Sign in', loginPage('That token is not valid.'));
    }
    const s = await start(principal);
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
    await end(cur.session);
    reply.header('set-cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return reply.redirect('/login', 303);
  });
}

/** The apps list, creating an app, the app page and its forms (rollback, retry of dead letters). */
function appPageRoutes(fastify: FastifyInstance, ctx: DashboardContext, rollback: RollbackFn | undefined): void {
  const { config, pool, log, originOf } = ctx;
  const { sendPage, checkPost, requireLogin, flash, takeFlash } = ctx.web;

  fastify.get('/', async (req, reply) => {
    const cur = await requireLogin(req, reply);
    if (!cur) return reply;
    const apps = await listApps(pool);
    const origin = originOf(req);
    const rows = apps.map(
      (a) => html`<tr><td><a href="/ui/apps/${encodeURIComponent(a.name)}"><b>${a.name}</b></a></td>
        <td>${a.productionVersion ? html`<span class="pill live">v${a.productionVersion}</span>` : html`<span class="muted">not deployed</span>`}</td>
        <td>${a.branches > 1 ? `${a.branches - 1} preview${a.branches === 2 ? '' : 's'}` : html`<span class="muted">—</span>`}</td>
        <td class="muted">${ago(a.lastDeployAt)}</td>
        <td>${a.productionVersion ? html`<a href="${branchUrls(config, a.name, a.productionBranch, true, origin).host}">${branchUrls(config, a.name, a.productionBranch, true, origin).host}</a>` : html`<code class="muted">git push …/git/${a.name}.git</code>`}</td></tr>`,
    );
    const canWrite = cur.principal.role === 'admin';
    const body = html`${await takeFlash(cur.session)}<h1>Apps</h1>
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
    return sendPage(reply, 200, 'Apps', body, cur);
  });

  fastify.post('/ui/apps', async (req, reply) => {
    const cur = await checkPost(req, reply);
    if (!cur) return reply;
    const name = String((req.body as Record<string, string>).name ?? '').trim();
    let f: Flash;
    if (cur.principal.role !== 'admin') f = { kind: 'error', text: 'Your token may only read.' };
    else if (!isValidAppName(name)) f = { kind: 'error', text: `Invalid app name "${name}": use a-z, 0-9 and -, starting with a letter.` };
    else if (!(await createApp(pool, name))) f = { kind: 'error', text: `An app named ${name} exists.` };
    else {
      log.info({ app: name, by: cur.principal.name }, 'app created');
      f = { kind: 'ok', text: `Created ${name}. Deploy with: git remote add picloud ${gitUrl(config, name, originOf(req))}` };
    }
    await flash(cur.session, f);
    return reply.redirect('/', 303);
  });

  const appOr404 = async (reply: FastifyReply, cur: SignedIn, name: string) => {
    const app = isValidAppName(name) ? await findApp(pool, name) : null;
    if (!app) sendPage(reply, 404, 'Not found', html`<div class="card"><h1>No app named “${name}”</h1><p><a href="/">All apps</a></p></div>`, cur);
    return app;
  };

  fastify.get<{ Params: { app: string } }>('/ui/apps/:app', async (req, reply) => {
    const cur = await requireLogin(req, reply);
    if (!cur) return reply;
    const app = await appOr404(reply, cur, req.params.app);
    if (!app) return reply;
    const q = req.query as { status?: string; before?: string };
    const body = await appPage(config, pool, app, cur, {
      branch: branchParam(app, req.query),
      statusFilter: q.status === 'error' || q.status === '5xx' ? q.status : '',
      before: q.before && /^\d{1,15}$/.test(q.before) ? Number(q.before) : undefined,
    }, originOf(req));
    return sendPage(reply, 200, app.name, html`${await takeFlash(cur.session)}${body}`, { ...cur, script: LIVE_SCRIPT });
  });

  /** An app page's form post: session and CSRF checked, the app found (else answered), its branch and page URL. */
  const appPost = async (req: FastifyRequest<{ Params: { app: string } }>, reply: FastifyReply) => {
    const cur = await checkPost(req, reply);
    if (!cur) return null;
    const app = await appOr404(reply, cur, req.params.app);
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
    let f: Flash;
    if (cur.principal.role !== 'admin') f = { kind: 'error', text: 'Your token may only read.' };
    else if (Number.isNaN(version)) f = { kind: 'error', text: 'Invalid version.' };
    else {
      try {
        const r = await performRollback(pool, rollback, app, branch, version, cur.principal.name);
        const s = r.restored;
        log.info({ app: app.name, branch, from: version, release: r.release.version, by: cur.principal.name }, 'rolled back');
        f = {
          kind: 'ok',
          text: `Rolled back to v${s.from}: released v${r.release.version} (${r.release.commit.slice(0, 7)}) with ${s.scripts} script(s), ${s.routes} route(s), ${s.schedules} schedule(s).`,
        };
      } catch (err) {
        if (!isAppError(err)) log.error({ err }, 'dashboard rollback failed');
        f = { kind: 'error', text: isAppError(err) ? err.message : 'Rollback failed (internal error).' };
      }
    }
    await flash(cur.session, f);
    return reply.redirect(back, 303);
  });

  fastify.post<{ Params: { app: string } }>('/ui/apps/:app/jobs/retry', async (req, reply) => {
    const p = await appPost(req, reply);
    if (!p) return reply;
    const { cur, app, form, branch, back } = p;
    if (cur.principal.role !== 'admin') await flash(cur.session, { kind: 'error', text: 'Your token may only read.' });
    else {
      const ids = await retryJobs(pool, { appId: app.id, branch, queue: typeof form.queue === 'string' && form.queue ? form.queue : undefined });
      log.info({ app: app.name, branch, jobs: ids.length, by: cur.principal.name }, 'dead letters retried');
      await flash(cur.session, { kind: 'ok', text: `Retrying ${ids.length} failed job(s).` });
    }
    return reply.redirect(back, 303);
  });
}

/** The app page's live view: GET /ui/apps/:app/stats (JSON) and /ui/apps/:app/events (server-sent events). */
function liveRoutes(fastify: FastifyInstance, ctx: DashboardContext, opts: DashboardPluginOptions): void {
  const { pool, log } = ctx;
  const { current } = ctx.web;
  const hub = opts.hub ?? new InvocationHub(pool, opts.log.child({ component: 'invocation-hub' }));
  const streams = new Set<FastifyReply>();
  fastify.addHook('preClose', async () => {
    for (const r of streams) r.raw.end();
    streams.clear();
  });
  fastify.addHook('onClose', async () => {
    if (!opts.hub) await hub.close();
  });

  /** A live-view request's app, or null once answered (401 JSON without a session, 404 JSON without the app). */
  const liveApp = async (req: FastifyRequest<{ Params: { app: string } }>, reply: FastifyReply): Promise<AppRow | null> => {
    if (!(await current(req))) {
      reply.code(401).send(new AppError('AUTH_REQUIRED', 'sign in first').toJSON());
      return null;
    }
    const app = isValidAppName(req.params.app) ? await findApp(pool, req.params.app) : null;
    if (!app) reply.code(404).send({ error: 'no such app', code: 'APP_NOT_FOUND' });
    return app;
  };

  fastify.get<{ Params: { app: string } }>('/ui/apps/:app/stats', async (req, reply) => {
    const app = await liveApp(req, reply);
    if (!app) return reply;
    const r = await invocationRate(pool, app.id);
    return {
      ...r,
      avgDurationText: r.avgDurationMs5Minutes === null ? '—' : ms(r.avgDurationMs5Minutes),
      sparkline: sparkline(r.perMinute).value,
      plane: opts.plane ? safeStats(opts.plane) : undefined,
    };
  });

  fastify.get<{ Params: { app: string } }>('/ui/apps/:app/events', async (req, reply) => {
    const app = await liveApp(req, reply);
    if (!app) return reply;
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
}

function safeStats(plane: { stats(): unknown }): unknown {
  try {
    return plane.stats();
  } catch {
    return undefined;
  }
}
