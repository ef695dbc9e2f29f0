/**
 * The Node twin of the hook shim (`picloud hook pre-receive`, used where curl is missing) speaks the same protocol:
 * a push through it deploys, and a bad push through it is rejected with the same diagnostics.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs, commitAll, makeRepo, push, remoteUrl, tempDir, writeFiles } from '../helpers/git.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/bin.js');
let srv: TestServer;

beforeAll(async () => {
  const hooks = tempDir('picloud-hooks-');
  writeFileSync(path.join(hooks, 'pre-receive'), `#!/bin/sh\nexec "${BIN}" hook pre-receive\n`);
  chmodSync(path.join(hooks, 'pre-receive'), 0o755);
  srv = await startTestServer({ ingress: false, hooksDir: hooks });
});
afterAll(async () => {
  await srv?.close();
  cleanupTempDirs();
});

describe('picloud hook pre-receive', () => {
  it('(hook) deploys a good push and rejects a bad one with its diagnostics', async () => {
    const repo = await makeRepo({ fixture: 'hello' });
    const url = remoteUrl(srv.url, 'nodehook', srv.token);
    const ok = await push(repo, url, ['main']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/remote: -----> Released v1 /);
    writeFiles(repo, { 'hello.rhai': 'fn handle(ctx) {\n  let = 2;\n}\n' });
    await commitAll(repo, 'bad');
    const bad = await push(repo, url, ['main']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/remote: hello\.rhai:2:7: /);
    expect(bad.stderr).toContain('(pre-receive hook declined)');
  });
});
