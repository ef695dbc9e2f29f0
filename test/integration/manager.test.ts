/** `picloud manager` (cluster role) started in-process against real PostgreSQL and Redis, then stopped. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { managerCommand } from '../../src/cli/commands/manager.ts';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../helpers/db.ts';

let db: TestDatabase;
let home: string;

beforeAll(async () => {
  db = await createTestDatabase();
  home = await mkdtemp(path.join(os.tmpdir(), 'picloud-mgr-'));
});
afterAll(async () => {
  await db?.drop();
  if (home) await rm(home, { recursive: true, force: true });
});

describe('manager command', () => {
  it('(manager) refuses to start without DATABASE_URL and REDIS_URL', async () => {
    let err = '';
    const code = await managerCommand([], { stdout: { write: () => 0 }, stderr: { write: (s: string) => (err += s) }, env: { PICLOUD_HOME: home } });
    expect(code).toBe(64);
    expect(err).toMatch(/needs DATABASE_URL and REDIS_URL/);
  });

  it('(manager) serves git, API, dashboard and metrics without ingress, and stops on abort', async () => {
    let out = '';
    const ac = new AbortController();
    const running = managerCommand(['--port', '0'], {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: () => 0 },
      env: { PICLOUD_HOME: home, DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, PICLOUD_LOG_LEVEL: 'silent' },
      signal: ac.signal,
    });
    try {
      await expect.poll(() => /listening on (http:\/\/\S+) /.exec(out)?.[1], { timeout: 20_000 }).toBeTruthy();
      const base = /listening on (http:\/\/\S+) /.exec(out)![1]!;
      const token = (await readFile(path.join(home, 'admin-token'), 'utf8')).trim();
      expect(out).toContain(token);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const apps = await fetch(`${base}/api/v1/apps`, { headers: { authorization: `Bearer ${token}` } });
      expect(apps.status).toBe(200);
      expect(await apps.json()).toEqual({ apps: [] });
      const dash = await fetch(`${base}/`, { redirect: 'manual' });
      expect(dash.status).toBe(303);
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      expect(metrics).toMatch(/^picloud_plane_schedules 0$/m);
      const git = await fetch(`${base}/git/x.git/info/refs?service=git-receive-pack`);
      expect(git.status).toBe(401);
      expect((await fetch(`${base}/apps/x/`)).status).toBe(404);
    } finally {
      ac.abort();
      expect(await running).toBe(0);
    }
  });
});
