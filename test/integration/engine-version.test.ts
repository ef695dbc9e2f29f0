/**
 * Engine versions (issue 11): an executor runs a stored program only when its own ENGINE_VERSION compiled it; a
 * program stored under another version (a rolling upgrade, an older node that deployed it) is compiled again from
 * the source it carries. The stored row is forged so that its AST and its source disagree ("old" vs "new"): the
 * answer says which of the two ran.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptHash } from '../../src/deploy/engine.ts';
import { insertScripts } from '../../src/db/scripts.ts';
import { compile, ENGINE_VERSION, programToJSON } from '../../src/rhai/index.ts';
import { startTestPlane, type TestPlane } from '../helpers/plane.ts';
import { pushRelease, waitFor } from '../helpers/releases.ts';

let tp: TestPlane;

beforeAll(async () => {
  tp = await startTestPlane('embedded', { executors: 2 });
}, 60_000);
afterAll(async () => {
  await tp?.close();
});

/** A program JSON whose AST answers `tree` while the source it carries answers `source`. */
function forged(tree: string, source: string): string {
  const a = compile(tree, { name: 'v.rhai' });
  const b = compile(source, { name: 'v.rhai' });
  if (!a.ok || !b.ok) throw new Error('fixture does not compile');
  const j = JSON.parse(programToJSON(a.program)) as { source: string };
  j.source = b.program.source;
  return JSON.stringify(j);
}

async function deployWithStoredRow(app: string, storedBy: string): Promise<string> {
  const source = `fn handle(ctx) { "new ${app}" }`;
  // the row a node of engine `storedBy` would have stored under this key, before the push reaches the cache
  await insertScripts(tp.db.pool, [{ hash: scriptHash(ENGINE_VERSION, source), engineVersion: storedBy, ast: forged(`fn handle(ctx) { "old ${app}" }`, source), bytes: source.length }]);
  await pushRelease(tp.db.pool, { app, scripts: { 'v.rhai': source }, routes: [{ path: '/v', script: 'v.rhai', function: 'handle' }] });
  await tp.plane.waitForRelease(app, 'main', 1, 5000);
  const r = await fetch(`${tp.base}/apps/${app}/v`);
  expect(r.status).toBe(200);
  return r.text();
}

describe('engine version of stored programs', () => {
  it('should compile a program stored by another engine version again from its source instead of running its AST', async () => {
    expect(await deployWithStoredRow('foreign', 'rhai-ts/0-older')).toBe('new foreign');
  });

  it('should answer why when a program stored by another engine version does not compile under this one', async () => {
    const source = 'fn handle(ctx) { "fine" }';
    // its stored source no longer parses under this engine (a syntax this version dropped, say)
    await insertScripts(tp.db.pool, [{ hash: scriptHash(ENGINE_VERSION, source), engineVersion: 'rhai-ts/0-older', ast: forged(source, 'fn handle(ctx) { "fine" }').replace('"fine\\" }', '"fine\\" (}'), bytes: source.length }]);
    const { releaseId } = await pushRelease(tp.db.pool, { app: 'broken', scripts: { 'v.rhai': source }, routes: [{ path: '/v', script: 'v.rhai', function: 'handle' }] });
    await tp.plane.waitForRelease('broken', 'main', releaseId, 5000);
    const r = await fetch(`${tp.base}/apps/broken/v`);
    // the client gets the generic 500 of an internal failure; the invocation log says why
    expect(r.status).toBe(500);
    let error = '';
    await waitFor(async () => {
      const { rows } = await tp.db.pool.query<{ error: string | null }>('SELECT error FROM invocations WHERE release_id = $1', [releaseId]);
      error = rows[0]?.error ?? '';
      return rows.length > 0;
    }, 10_000, 'the invocation row');
    expect(error).toMatch(/compiled by engine rhai-ts\/0-older and does not compile under .*push the app again/);
  });

  it('should run a program stored by its own engine version as stored', async () => {
    // the same forgery under this engine's version is trusted: the check is the version, not a recompile per load
    expect(await deployWithStoredRow('native', ENGINE_VERSION)).toBe('old native');
  });
});
