/**
 * The internal endpoint behind `hooks/pre-receive`: POST /internal/hooks/pre-receive, reachable only with the
 * per-start secret the git bridge puts into the hook's environment (PICLOUD_HOOK_SECRET). The shim forwards the
 * hook's stdin as the body and its git environment (repo dir, quarantine paths, pusher) as headers; the response
 * streams the push output line by line and ends with `@@picloud-exit <code>`, which the shim turns into its exit.
 */
import { timingSafeEqual } from 'node:crypto';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from '../common/log.ts';
import { runPreReceive, parseRefUpdates, type PreReceiveDeps } from './push.ts';
import type { RefGuard } from './ref-guard.ts';

export const HOOK_PATH = '/internal/hooks/pre-receive';
export const EXIT_MARKER = '@@picloud-exit ';

export interface HookEndpointOptions extends Omit<PreReceiveDeps, 'log'> {
  log: Logger;
  secret: string;
  reposDir: string;
  /** waits for this push's pre-receive step before checking the refs after git-receive-pack */
  refGuard?: RefGuard;
  /** called around each push (tests and benchmarks observe serialisation and timing) */
  onPush?(e: { app: string; start: number; end: number; ok: boolean }): void;
}

const QUARANTINE_VARS = ['GIT_QUARANTINE_PATH', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES'] as const;
const header = (name: string) => `x-${name.toLowerCase().replace(/_/g, '-')}`;

export const hookEndpointPlugin: FastifyPluginAsync<HookEndpointOptions> = async (app, opts) => {
  const log = opts.log.child({ component: 'pre-receive' });
  const secret = Buffer.from(opts.secret);
  let reposReal: string | null = null;

  app.post(HOOK_PATH, async (req, reply) => {
    const given = Buffer.from(String(req.headers['x-picloud-hook-secret'] ?? ''));
    if (given.length !== secret.length || !timingSafeEqual(given, secret)) {
      return reply.code(403).type('text/plain').send('forbidden\n');
    }
    reposReal ??= realpathSync(opts.reposDir);
    const gitDir = path.resolve(String(req.headers['x-git-dir'] ?? ''));
    const m = /^([a-z][a-z0-9-]{0,30})\.git$/.exec(path.basename(gitDir));
    if (path.dirname(gitDir) !== reposReal || !m) return reply.code(400).type('text/plain').send(`not a picloud repository: ${gitDir}\n`);
    const appName = m[1]!;
    const gitEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', GIT_DIR: gitDir };
    for (const v of QUARANTINE_VARS) {
      const val = req.headers[header(v)];
      if (typeof val === 'string' && val) {
        gitEnv[v] = val
          .split(':')
          .map((p) => path.resolve(gitDir, p))
          .join(':');
      }
    }
    const body = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const pusher = String(req.headers['x-picloud-pusher'] ?? '');

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    let gone = false;
    res.once('close', () => (gone = !res.writableFinished));
    res.on('error', () => (gone = true));
    const out = (line: string) => {
      if (!gone) res.write(`${line}\n`);
    };
    const start = Date.now();
    let ok = false;
    const deps = { ...opts, aborted: () => gone };
    try {
      const run = runPreReceive(deps, { app: appName, pusher, repoDir: gitDir, updates: parseRefUpdates(body), gitEnv }, out);
      ok = await (opts.refGuard ? opts.refGuard.track(appName, run) : run);
    } catch (err) {
      log.error({ err, app: appName }, 'pre-receive failed');
      out(' !     Push rejected: internal error in the PiCloud server (see its log). The live release is unchanged.');
      ok = false;
    }
    opts.onPush?.({ app: appName, start, end: Date.now(), ok });
    // the 'before-ref-update' fault fires once git has its "accept" and is about to move the ref
    res.end(`${EXIT_MARKER}${ok ? 0 : 1}\n`, () => ok && opts.fault?.('before-ref-update'));
  });
};
