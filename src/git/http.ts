/**
 * Git smart HTTP at `/git/<app>.git/...`, served by git's own `git http-backend` (CGI), one run per request
 * (through spawn.ts; stack-notes.md §1). Our auth runs on EVERY request (info/refs, git-receive-pack,
 * git-upload-pack): HTTP basic, password = API token; anything else is 401 with a `WWW-Authenticate` challenge.
 *
 * - A repository exists only once a token that may push has pushed to it: the `git-receive-pack` POST of a
 *   deploy/admin token creates it (`git init --bare -b main`), and removes it again when that first push leaves it
 *   without a ref (rejected). Until then the receive-pack advertisement comes from one shared empty repository
 *   (`.picloud-empty.git`, never pushed to), and every other request for the name answers 404.
 * - `info/refs` needs exactly one `service` parameter naming a git service (else 400): we and git read the same one.
 * - The pusher passed to the hook (REMOTE_USER) is the token's own name, never the free-form basic-auth user.
 * - Hooks are set centrally: `core.hooksPath` through `GIT_CONFIG_*` in the CGI env, never in a repo's config.
 * - The hook learns the pusher and how to reach this server (URL + per-start secret) from the same env.
 * - A `git-receive-pack` POST holds the app's push lock for its whole duration (see push-lock.ts).
 */
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../common/log.ts';
import { ensureRepo, EMPTY_REPO, hasRefs, isValidAppName, removeRepo, repoExists, repoPath } from './repos.ts';
import type { KeyedMutex } from './push-lock.ts';
import { spawnGit } from './spawn.ts';

export interface GitAuthResult {
  /** the token's own name, recorded as the pusher of a release */
  name: string;
  /** false for read-only tokens: they may fetch and clone, never push */
  mayPush: boolean;
}

export interface GitPluginOptions {
  reposDir: string;
  hooksDir: string;
  log: Logger;
  /** verify the Authorization header; null = refuse */
  authenticate(header: string | undefined): Promise<GitAuthResult | null>;
  pushLock: KeyedMutex;
  /** extra env for the hook (PICLOUD_HOOK_URL, PICLOUD_HOOK_SECRET) */
  hookEnv(): Record<string, string>;
  /** called when a git-receive-pack request has ended, still holding the app's push lock */
  afterReceivePack?(app: string, repoDir: string): Promise<void>;
}

/** Largest pack a single push may send (history included; the tree limit is PUSH_LIMITS.maxTotalBytes). */
export const MAX_PACK_BYTES = 256 * 1024 * 1024;

const ROUTE_RE = /^\/git\/([^/]+)\.git(\/.*)$/;
const SERVICES = new Set(['/info/refs', '/git-receive-pack', '/git-upload-pack', '/HEAD']);
const SERVICE_PARAMS = new Set(['git-upload-pack', 'git-receive-pack']);

function deny(reply: FastifyReply, status: number, message: string): FastifyReply {
  if (status === 401) reply.header('WWW-Authenticate', 'Basic realm="picloud"');
  return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
}

export const gitPlugin: FastifyPluginAsync<GitPluginOptions> = async (app, opts) => {
  const log = opts.log.child({ component: 'git' });
  // git bodies are streamed to the CGI as they arrive: never let fastify buffer or parse them.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const url = new URL(req.url, 'http://x');
    const m = ROUTE_RE.exec(url.pathname);
    if (!m || !SERVICES.has(m[2]!)) return deny(reply, 404, 'not found');
    const appName = m[1]!;
    const auth = await opts.authenticate(req.headers.authorization);
    if (!auth) return deny(reply, 401, 'authentication required: use the API token as the password');
    if (!isValidAppName(appName)) {
      return deny(reply, 404, `"${appName}" is not a valid app name (^[a-z][a-z0-9-]{0,30}$, no "--")`);
    }
    const service = m[2]!;
    let query = '';
    if (service === '/info/refs') {
      // git http-backend reads the LAST `service`, URLSearchParams.get the first: accept exactly one, pass only it
      const asked = url.searchParams.getAll('service');
      if (asked.length !== 1 || !SERVICE_PARAMS.has(asked[0]!)) return deny(reply, 400, 'info/refs needs exactly one service parameter: git-upload-pack or git-receive-pack');
      query = `service=${asked[0]}`;
    }
    const isPush = service === '/git-receive-pack' || query === 'service=git-receive-pack';
    if (isPush && !auth.mayPush) return deny(reply, 403, 'this token is read-only: it may fetch, not push');
    const receivePack = service === '/git-receive-pack';
    // a push holds the app's lock from before its repository may be created until git-receive-pack has ended
    const release = receivePack ? await opts.pushLock.acquire(appName) : () => {};
    let repoDir: string;
    let created = false;
    try {
      if (receivePack) ({ dir: repoDir, created } = await ensureRepo(opts.reposDir, appName));
      else if (await repoExists(opts.reposDir, appName)) repoDir = repoPath(opts.reposDir, appName);
      // the advertisement of a repository nobody has pushed to yet, without creating one
      else if (isPush) repoDir = (await ensureRepo(opts.reposDir, EMPTY_REPO)).dir;
      else return deny(reply, 404, `no app named "${appName}" has been pushed yet`);
    } catch (err) {
      release();
      throw err;
    }
    if (!receivePack) release();
    reply.hijack();
    try {
      // the post-push check runs before the response ends, so the client never sees a state it will not keep
      const beforeEnd = receivePack
        ? async () => {
            await opts.afterReceivePack?.(appName, repoDir).catch((err: unknown) => log.error({ err, app: appName }, 'post-push check failed'));
            // the first push to this name was rejected: no repository without a valid push
            if (created && !(await hasRefs(repoDir).catch(() => true))) {
              await removeRepo(repoDir).catch((err: unknown) => log.error({ err, app: appName }, 'removing the empty repository failed'));
            }
          }
        : null;
      const pathInfo = `/${path.basename(repoDir)}${service}`;
      await runBackend(req, reply, opts, { pathInfo, query }, auth, isPush, log, beforeEnd);
    } finally {
      release();
    }
  };

  app.get('/git/*', handler);
  app.post('/git/*', handler);
};

function runBackend(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: GitPluginOptions,
  target: { pathInfo: string; query: string },
  auth: GitAuthResult,
  isPush: boolean,
  log: Logger,
  beforeEnd: (() => Promise<void>) | null,
): Promise<void> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/',
      GIT_PROJECT_ROOT: opts.reposDir,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: target.pathInfo,
      QUERY_STRING: target.query,
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: auth.name || 'picloud',
      REMOTE_ADDR: req.ip,
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_0: 'core.hooksPath',
      GIT_CONFIG_VALUE_0: opts.hooksDir,
      // a push's pack is bounded before it reaches the disk (the tree itself is checked against PUSH_LIMITS)
      GIT_CONFIG_KEY_1: 'receive.maxInputSize',
      GIT_CONFIG_VALUE_1: String(MAX_PACK_BYTES),
      ...(isPush ? opts.hookEnv() : {}),
    };
    if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
    if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
    if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);

    const res = reply.raw;
    const cgi = spawnGit(['http-backend'], { env });
    let headerBuf: Buffer | null = Buffer.alloc(0);
    let stderr = '';
    cgi.stderr.on('data', (b: Buffer) => {
      if (stderr.length < 4000) stderr += b.toString('utf8');
    });
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headerBuf === null) {
        res.write(chunk);
        return;
      }
      headerBuf = Buffer.concat([headerBuf, chunk]);
      const end = headerBuf.indexOf('\r\n\r\n');
      if (end < 0) return;
      let status = 200;
      for (const line of headerBuf.subarray(0, end).toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10) || 500;
        else res.setHeader(k, v);
      }
      res.statusCode = status;
      const rest = headerBuf.subarray(end + 4);
      headerBuf = null;
      if (rest.length) res.write(rest);
    });
    cgi.on('error', (err) => {
      log.error({ err }, 'git http-backend failed to start');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
      resolve();
    });
    cgi.on('close', async (code) => {
      if (code !== 0) log.warn({ code, stderr: stderr.trim() }, 'git http-backend exited non-zero');
      if (beforeEnd) await beforeEnd();
      if (headerBuf !== null && !res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain');
        res.write('git backend error\n');
      }
      res.end();
      resolve();
    });
    cgi.stdin.on('error', () => {});
    req.raw.on('error', () => cgi.kill());
    req.raw.pipe(cgi.stdin);
  });
}
