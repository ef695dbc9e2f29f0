/**
 * The dashboard in real headless Chromium (playwright-core + Debian's /usr/bin/chromium), plus its security
 * properties over plain HTTP: session cookie flags, CSRF, cross-origin refusal, HTML escaping; and /metrics.
 * The browser part skips with a note when Chromium is not installed (`apt-get install -y chromium`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/common/config.ts';
import { silentLogger } from '../../src/common/log.ts';
import { apiPlugin } from '../../src/manager/api.ts';
import { dashboardPlugin } from '../../src/manager/dashboard.ts';
import { metricsPlugin } from '../../src/manager/metrics.ts';
import { CHROMIUM, haveChromium, launchChromium } from '../helpers/browser.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';
import { fixtureInvocation, fixtureRelease, fixtureToken, rollbackForTests } from '../helpers/fixtures.ts';
import { missing } from '../helpers/needs.ts';

const skip = missing(CHROMIUM, haveChromium, 'apt-get install -y chromium');

const XSS = '<img src=x onerror=alert(1)>';
const XSS_BRANCH = '"><script>alert(2)</script>';

let db: TestDatabase;
let srv: FastifyInstance;
let base: string;
let admin: string;
let home: string;
let shopId = 0;

async function login(): Promise<string> {
  const r = await srv.inject({ method: 'POST', url: '/login', payload: `token=${admin}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  return String(r.headers['set-cookie']).split(';')[0]!;
}

beforeAll(async () => {
  db = await createTestDatabase();
  home = await mkdtemp(path.join(os.tmpdir(), 'picloud-dash-'));
  admin = await fixtureToken(db.pool, 'admin');
  const config = loadConfig({ PICLOUD_HOME: home, PICLOUD_DOMAIN: 'localhost' });
  const opts = { config, pool: db.pool, log: silentLogger, rollback: (await rollbackForTests()).fn, plane: { stats: () => ({ queueDepth: 2, workers: { busy: 1 } }) } };
  srv = Fastify({ forceCloseConnections: true });
  await srv.register(apiPlugin, opts);
  await srv.register(dashboardPlugin, opts);
  await srv.register(metricsPlugin, opts);
  base = await srv.listen({ port: 0, host: '127.0.0.1' });
  const v1 = await fixtureRelease(db.pool, {
    app: 'shop',
    description: 'Deploy first',
    routes: [{ path: '/hello/:name', function: 'hello', script: 'hello.rhai' }],
    schedules: [{ cron: '*/5 * * * *', script: 'tick.rhai', function: 'tick' }],
    env: { GREETING: 'hi' },
  });
  shopId = v1.appId;
  await fixtureRelease(db.pool, { app: 'shop', description: 'Deploy second', routes: [{ path: '/hello/:name', script: 'hello.rhai' }, { path: '/orders', methods: ['GET', 'POST'], script: 'orders.rhai' }] });
  await fixtureRelease(db.pool, { app: 'shop', branch: 'feature/cart', routes: [{ path: '/cart' }] });
  await fixtureRelease(db.pool, { app: 'shop', branch: XSS_BRANCH, routes: [{ path: '/x' }] });
  await fixtureRelease(db.pool, { app: 'blog' });
  await fixtureInvocation(db.pool, { appId: shopId, status: 200, path: '/hello/ana', durationMs: 3.2, logs: [{ level: 'print', msg: 'hello ana' }] });
  await fixtureInvocation(db.pool, { appId: shopId, status: 500, path: `/hello/${XSS}`, durationMs: 7.9, error: `Runtime error: ${XSS} (line 3, position 5)`, logs: [{ level: 'debug', msg: XSS }] });
  await fixtureInvocation(db.pool, { appId: shopId, status: 404, path: '/nope', durationMs: 0.4 });
});

afterAll(async () => {
  await srv?.close();
  await db?.drop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('dashboard over HTTP', () => {
  it('should redirect to /login without a session and refuse a bad token', async () => {
    const r = await srv.inject({ url: '/' });
    expect(r.statusCode).toBe(303);
    expect(r.headers.location).toBe('/login');
    const bad = await srv.inject({ method: 'POST', url: '/login', payload: 'token=pc_bad', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(bad.statusCode).toBe(401);
    expect(bad.body).toContain('not valid');
  });

  it('should set an HttpOnly SameSite=Strict session cookie that does not contain the token', async () => {
    const r = await srv.inject({ method: 'POST', url: '/login', payload: `token=${admin}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.statusCode).toBe(303);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(/^picloud_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(cookie).not.toContain(admin);
  });

  it('should escape user-controlled text (paths, logs, errors, branch names)', async () => {
    const cookie = await login();
    const page = await srv.inject({ url: '/ui/apps/shop', headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'nonce-/);
    expect(page.body).not.toContain(XSS);
    expect(page.body).not.toContain('<script>alert(2)');
    expect(page.body.match(/<script/g)).toHaveLength(1); // only the nonce'd live script
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    const prev = await srv.inject({ url: `/ui/apps/shop?branch=${encodeURIComponent(XSS_BRANCH)}`, headers: { cookie } });
    expect(prev.body).not.toContain('<script>alert(2)');
    expect(prev.body).toContain('&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;');
  });

  it('should filter invocations by status', async () => {
    const cookie = await login();
    const errs = await srv.inject({ url: '/ui/apps/shop?status=error', headers: { cookie } });
    const rows = errs.body.split('<tbody id="invocations">')[1]!.split('</tbody>')[0]!;
    expect(rows.match(/<tr data-id=/g)).toHaveLength(2);
    expect(rows).not.toContain('/hello/ana');
    const five = await srv.inject({ url: '/ui/apps/shop?status=5xx', headers: { cookie } });
    expect(five.body.split('<tbody id="invocations">')[1]!.split('</tbody>')[0]!.match(/<tr data-id=/g)).toHaveLength(1);
  });

  it('should refuse POSTs without the CSRF token or from another origin', async () => {
    const cookie = await login();
    const form = { 'content-type': 'application/x-www-form-urlencoded', cookie };
    const noCsrf = await srv.inject({ method: 'POST', url: '/ui/apps/shop/rollback', payload: 'version=1&branch=main', headers: form });
    expect(noCsrf.statusCode).toBe(403);
    const page = await srv.inject({ url: '/ui/apps/shop', headers: { cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const cross = await srv.inject({ method: 'POST', url: '/ui/apps/shop/rollback', payload: `_csrf=${csrf}&version=1&branch=main`, headers: { ...form, origin: 'http://evil.test' } });
    expect(cross.statusCode).toBe(403);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM releases WHERE app_id = $1 AND branch = 'main'`, [shopId]);
    expect(rows[0].n).toBe(2);
  });

  it('should keep a session across a restart, end it with its token or at logout, and store neither the id nor the token', async () => {
    const token = await fixtureToken(db.pool, 'restarts', 'read');
    const signIn = await srv.inject({ method: 'POST', url: '/login', payload: `token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const id = cookie.split('=')[1]!;
    const { rows } = await db.pool.query<{ row: string }>('SELECT row_to_json(s)::text AS row FROM dashboard_sessions s');
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.row).not.toContain(id);
    for (const r of rows) expect(r.row).not.toContain(token);
    // a second server on the same database (the manager restarted): the cookie still signs in
    const again = Fastify();
    const config = loadConfig({ PICLOUD_HOME: home, PICLOUD_DOMAIN: 'localhost' });
    await again.register(dashboardPlugin, { config, pool: db.pool, log: silentLogger });
    const page = await again.inject({ url: '/', headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('restarts');
    // deleting the token ends its session at once
    await db.pool.query('DELETE FROM api_tokens WHERE name = $1', ['restarts']);
    const gone = await again.inject({ url: '/', headers: { cookie } });
    expect(gone.statusCode).toBe(303);
    expect(gone.headers.location).toBe('/login');
    await again.close();
    // logout deletes the session's row
    const mine = await login();
    const before = (await db.pool.query('SELECT 1 FROM dashboard_sessions')).rowCount!;
    const home1 = await srv.inject({ url: '/', headers: { cookie: mine } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(home1.body)![1]!;
    const out = await srv.inject({ method: 'POST', url: '/logout', payload: `_csrf=${csrf}`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: mine } });
    expect(out.statusCode).toBe(303);
    expect((await db.pool.query('SELECT 1 FROM dashboard_sessions')).rowCount).toBe(before - 1);
    expect((await srv.inject({ url: '/', headers: { cookie: mine } })).statusCode).toBe(303);
  });

  it('should show a form post\'s message once, on the page it redirects to', async () => {
    const cookie = await login();
    const page = await srv.inject({ url: '/', headers: { cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const bad = await srv.inject({ method: 'POST', url: '/ui/apps', payload: `_csrf=${csrf}&name=Bad_Name`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie } });
    expect(bad.statusCode).toBe(303);
    const shown = await srv.inject({ url: '/', headers: { cookie } });
    expect(shown.body).toContain('Invalid app name &quot;Bad_Name&quot;');
    const next = await srv.inject({ url: '/', headers: { cookie } });
    expect(next.body).not.toContain('Invalid app name');
  });

  it('should answer the live view only to a session (401 JSON without, 404 JSON for an unknown app) and a 404 page for an unknown app', async () => {
    const anon = await srv.inject({ url: '/ui/apps/shop/stats' });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().code).toBe('AUTH_REQUIRED');
    expect((await srv.inject({ url: '/ui/apps/shop/events' })).statusCode).toBe(401);
    const cookie = await login();
    const unknown = await srv.inject({ url: '/ui/apps/nope/stats', headers: { cookie } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('APP_NOT_FOUND');
    expect((await srv.inject({ url: '/ui/apps/nope/events', headers: { cookie } })).statusCode).toBe(404);
    const stats = await srv.inject({ url: '/ui/apps/shop/stats', headers: { cookie } });
    expect(stats.statusCode).toBe(200);
    const s = stats.json();
    expect(s.last5Minutes).toBeGreaterThanOrEqual(3);
    expect(s.sparkline).toMatch(/^<svg id="spark" /);
    expect(s.plane).toEqual({ queueDepth: 2, workers: { busy: 1 } });
    const page = await srv.inject({ url: '/ui/apps/nope', headers: { cookie } });
    expect(page.statusCode).toBe(404);
    expect(page.body).toContain('No app named “nope”');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'/);
  });

  it('should show each queue (depth, running, failed with its error) with a retry button, and schedules\' last runs', async () => {
    const cookie = await login();
    await db.pool.query(
      `INSERT INTO jobs (app_id, branch, queue, payload, state, attempts, max_attempts, backoff_ms, last_error)
       VALUES ($1, 'main', 'emails', '{"to":1}', 'failed', 3, 3, 1000, '500: smtp <down>'), ($1, 'main', 'emails', '1', 'pending', 0, 3, 1000, NULL)`,
      [shopId],
    );
    const page = await srv.inject({ url: '/ui/apps/shop', headers: { cookie } });
    const card = page.body.split('<table id="jobs">')[1]!.split('</table>')[0]!;
    expect(card).toContain('<td class="mono">emails</td><td>1</td><td>0</td><td>0</td>');
    expect(card).toContain('500: smtp &lt;down&gt;');
    expect(card).toContain('Retry failed');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const r = await srv.inject({ method: 'POST', url: '/ui/apps/shop/jobs/retry', payload: `_csrf=${csrf}&branch=main&queue=emails`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie } });
    expect(r.statusCode).toBe(303);
    const { rows } = await db.pool.query(`SELECT state FROM jobs WHERE app_id = $1 ORDER BY id`, [shopId]);
    expect(rows.map((x) => x.state)).toEqual(['pending', 'pending']);
    await db.pool.query(`DELETE FROM jobs WHERE app_id = $1`, [shopId]);
  });

  it('should serve Prometheus metrics to a token of any role only, unless PICLOUD_METRICS_PUBLIC=1', async () => {
    const anon = await srv.inject({ url: '/metrics' });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().code).toBe('AUTH_REQUIRED');
    expect(anon.body).not.toContain('shop');
    expect((await srv.inject({ url: '/metrics', headers: { authorization: 'Bearer pc_wrong' } })).statusCode).toBe(401);
    const reader = await fixtureToken(db.pool, 'prometheus', 'read');
    const basic = await srv.inject({ url: '/metrics', headers: { authorization: `Basic ${Buffer.from(`prometheus:${reader}`).toString('base64')}` } });
    expect(basic.statusCode).toBe(200);
    const pub = Fastify();
    await pub.register(metricsPlugin, { config: loadConfig({ PICLOUD_HOME: home, PICLOUD_METRICS_PUBLIC: '1' }), pool: db.pool, log: silentLogger });
    expect((await pub.inject({ url: '/metrics' })).statusCode).toBe(200);
    await pub.close();
    expect(() => loadConfig({ PICLOUD_METRICS_PUBLIC: 'yes' })).toThrow(/PICLOUD_METRICS_PUBLIC must be 1 or 0/);
    const r = await srv.inject({ url: '/metrics', headers: { authorization: `Bearer ${reader}` } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.body).toMatch(/^# TYPE picloud_apps gauge\npicloud_apps 2$/m);
    expect(r.body).toMatch(/^picloud_invocations_recorded\{app="shop",status="500"\} 1$/m);
    expect(r.body).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(r.body).toMatch(/^picloud_plane_workers_busy 1$/m);
    await fetch(`${base}/healthz-nope`);
    const again = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
    expect(again).toMatch(/^picloud_http_requests_total\{method="GET",status="404"\} [1-9]\d*$/m);
  });
});

describe.skipIf(skip)('dashboard in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('should log in, show the app and its releases, roll back, and stream new invocations', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${base}/`);
    expect(page.url()).toBe(`${base}/login`);
    await page.screenshot({ path: '/tmp/picloud-dashboard-login.png' });
    await page.fill('#token', admin);
    await page.click('input[type=submit]');
    await page.waitForURL(`${base}/`);
    expect(await page.locator('#apps').innerText()).toMatch(/shop\s+v2/);
    await page.screenshot({ path: '/tmp/picloud-dashboard-apps.png' });

    await page.click('text=shop');
    await page.waitForURL(`${base}/ui/apps/shop`);
    const rows = page.locator('#releases tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).innerText()).toMatch(/v2\s+live/);
    expect(await page.locator('#routes').innerText()).toContain('/orders');
    expect(await page.locator('#schedules').count()).toBe(0);
    expect(await page.locator('#invocations').innerText()).toContain('/nope');
    await page.waitForSelector('#live-state.live');

    // Rollback to v1: a new v3 appears, live, restoring v1's routes and schedules.
    await page.click('button[aria-label="Roll back to v1"]');
    await page.waitForSelector('.flash.ok');
    expect(await page.locator('.flash.ok').innerText()).toMatch(/Rolled back to v1: released v3/);
    expect(await rows.count()).toBe(3);
    expect(await rows.nth(0).innerText()).toMatch(/v3\s+live\s+[0-9a-f]{7}\s+Rollback to v1/);
    expect(await page.locator('#routes').innerText()).not.toContain('/orders');
    expect(await page.locator('#schedules').innerText()).toContain('*/5 * * * *');

    // Live view: a new invocation shows up without a reload.
    await page.waitForSelector('#live-state.live');
    const before = Number(await page.locator('#rate-1m').innerText());
    await fixtureInvocation(db.pool, { appId: shopId, status: 201, path: '/orders/live-one', durationMs: 12.5, logs: [{ level: 'print', msg: 'created order 7' }] });
    await page.waitForSelector('#invocations tr:first-child:has-text("/orders/live-one")');
    expect(Number(await page.locator('#rate-1m').innerText())).toBe(before + 1);

    // Logs and errors expand; the injected markup stays text.
    await page.locator('#invocations details').first().click();
    await page.screenshot({ path: '/tmp/picloud-dashboard.png', fullPage: true });
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);

    // Every branch with its URL.
    expect(await page.locator('#branches').innerText()).toMatch(/feature\/cart\s+v1\s+[0-9a-f]{7}\s+\S+ ago\s+http:\/\/feature-cart--shop\.localhost:8080\//);

    // Preview tab and sign-out.
    await page.click('text=feature/cart');
    expect(await page.locator('#branch').innerText()).toMatch(/Preview · feature\/cart/);
    expect(await page.locator('#branch a').first().getAttribute('href')).toBe('http://feature-cart--shop.localhost:8080/');
    await page.click('header button');
    await page.waitForURL(`${base}/login`);
    await page.goto(`${base}/`);
    expect(page.url()).toBe(`${base}/login`);
    await page.close();
  });

  it('should work without JavaScript: sign in, browse, roll back a preview', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.fill('#token', admin);
    await page.click('input[type=submit]');
    await page.waitForURL(`${base}/`);
    await page.click('text=shop');
    await page.click('#branches >> text=feature/cart');
    await fixtureRelease(db.pool, { app: 'shop', branch: 'feature/cart', routes: [{ path: '/cart2' }] });
    await page.reload();
    expect(await page.locator('#releases tbody tr').count()).toBe(2);
    await page.click('button[aria-label="Roll back to v1"]');
    await page.waitForSelector('.flash.ok');
    expect(await page.locator('#releases tbody tr').first().innerText()).toMatch(/v3\s+live\s+[0-9a-f]{7}\s+Rollback to v1/);
    expect(await page.locator('#live-state').innerText()).toBe('static');
    await context.close();
  });
});
