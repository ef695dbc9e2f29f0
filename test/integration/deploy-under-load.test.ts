/**
 * Zero failed requests while 20 pushes alternate two releases of an app under steady load: real `git push`
 * through the server (push pipeline → release switch → NOTIFY → route table), requests through the ingress
 * of the embedded mode. After each push returns, the next request already sees the pushed release.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, commitAll, makeRepo, push, remoteUrl, writeFiles } from '../helpers/git.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const TOML = `[[routes]]\npath = "/v"\nscript = "v.rhai"\n`;

describe('deploy under load', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s?.close();
    cleanupTempDirs();
  });

  it('should answer every request with 200 from one release or the other while 20 pushes alternate them', async () => {
    const dir = await makeRepo({ files: { 'picloud.toml': TOML, 'v.rhai': '"A"' } });
    const shaA = await commitAll(dir, 'A');
    writeFiles(dir, { 'v.rhai': '"B"' });
    const shaB = await commitAll(dir, 'B');
    const url = remoteUrl(s.url, 'loadapp', s.token);
    const first = await push(dir, url, [`${shaA}:refs/heads/main`], { force: true });
    expect(first.code, first.stderr).toBe(0);

    let stop = false;
    const seen = { A: 0, B: 0 };
    const failures: string[] = [];
    const worker = async () => {
      while (!stop) {
        try {
          const r = await fetch(`${s.url}/apps/loadapp/v`);
          const body = await r.text();
          if (r.status !== 200 || (body !== 'A' && body !== 'B')) failures.push(`${r.status} ${body.slice(0, 200)}`);
          else seen[body]++;
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const load = Array.from({ length: 4 }, worker);
    const stale: string[] = [];
    for (let i = 0; i < 20; i++) {
      const [sha, want] = i % 2 === 0 ? [shaB, 'B'] : [shaA, 'A'];
      const r = await push(dir, url, [`${sha}:refs/heads/main`], { force: true });
      expect(r.code, r.stderr).toBe(0);
      const now = await (await fetch(`${s.url}/apps/loadapp/v`)).text();
      if (now !== want) stale.push(`push ${i}: expected ${want}, got ${now}`);
    }
    stop = true;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(stale).toEqual([]);
    expect(seen.A).toBeGreaterThan(0);
    expect(seen.B).toBeGreaterThan(0);
  });
});
