/**
 * The one HTTP server of `picloud up` (and of the integration tests): git smart HTTP (/git), the pre-receive hook
 * endpoint (/internal/hooks), health (/healthz, /readyz) and, when present, the ingress (/apps), the API (/api/v1),
 * the dashboard (/) and metrics (/metrics). Host-form app URLs (`<app>.<domain>`, `<b>--<app>.<domain>`) are
 * rewritten to the path form `/apps/<label>/...` with fastify's `rewriteUrl`, so every plugin routes by path only.
 */
import { rewriteHostUrl } from '../common/host-routing.ts';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Config } from '../common/config.ts';
import { faultInjector } from '../common/fault.ts';
import { httpServerOptions } from '../common/server-options.ts';
import type { Logger } from '../common/log.ts';
import type { Pool } from '../db/pool.ts';
import { loadEngine, type DeployEngine } from '../deploy/engine.ts';
import { HOOK_PATH, hookEndpointPlugin } from '../deploy/hook-endpoint.ts';
import { createScriptCache } from '../deploy/push.ts';
import { alignRef, reconcileRepos } from '../deploy/reconcile.ts';
import { rollbackRelease } from '../deploy/release.ts';
import { RefGuard } from '../deploy/ref-guard.ts';
import { gitPlugin } from '../git/http.ts';
import { startSpawner, stopSpawner } from '../git/spawn.ts';
import { KeyedMutex } from '../git/push-lock.ts';
import { apiPlugin } from './api.ts';
import { TokenVerifier } from './auth.ts';
import { dashboardPlugin } from './dashboard.ts';
import { InvocationHub } from './invocation-hub.ts';
import { metricsPlugin } from './metrics.ts';
import { branchUrls } from './urls.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const HOOKS_DIR = path.join(ROOT, 'hooks');
/**
 * How long a push waits for the route table to serve its release before answering anyway (with a warning in the
 * log). It normally takes milliseconds; the bound only matters on a starved machine, where 2 s left little margin.
 */
const RELEASE_LIVE_WAIT_MS = 10_000;

export interface ServerDeps {
  config: Config;
  pool: Pool;
  log: Logger;
  /** the invocation plane's ingress (from startInvocationPlane), mounted at /apps */
  ingressPlugin?: FastifyPluginAsync;
  /** for live stats in the API/dashboard, and to answer a push only once its release is served */
  plane?: { stats(): unknown; waitForRelease?(app: string, branch: string, releaseId: number | null, timeoutMs?: number): Promise<boolean> };
  /** register the API/dashboard/metrics plugins when their modules exist (default true) */
  managerPlugins?: boolean;
  /** the Rhai engine for deploys (default: src/rhai; null = reject every push that has scripts) */
  engine?: DeployEngine | null;
  /** observe pushes (tests, benchmarks) */
  onPush?(e: { app: string; start: number; end: number; ok: boolean }): void;
  /** where git finds the pre-receive hook (default: hooks/ of this checkout) */
  hooksDir?: string;
  /** the per-app push lock (tests hold it to prove that other apps do not wait) */
  pushLock?: KeyedMutex;
}

export { rewriteHostUrl };

/** Build (not start) the server; call `.listen()` on the result. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const { config, pool } = deps;
  const log = deps.log;
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    rewriteUrl: (req) => rewriteHostUrl(req.headers.host, req.url ?? '/', config.domain),
    bodyLimit: 16 * 1024 * 1024,
    ...httpServerOptions(config),
  });

  const secret = randomBytes(24).toString('hex');
  const verifier = new TokenVerifier(pool);
  app.addHook('onClose', () => verifier.close());
  const pushLock = deps.pushLock ?? new KeyedMutex();
  const portOf = (): number => {
    const a = app.server.address() as AddressInfo | null;
    return a && typeof a === 'object' ? a.port : config.port;
  };
  const loopback = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  const engine = deps.engine === undefined ? await loadEngine() : deps.engine;

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await pool.query('SELECT 1');
      return { ok: true };
    } catch {
      return reply.code(503).send({ ok: false, error: 'database unavailable', code: 'DB_UNAVAILABLE' });
    }
  });

  // git runs from a small spawner from now on, never forked from this process (git/spawn.ts)
  await startSpawner(log.child({ component: 'git' }));
  app.addHook('onClose', () => stopSpawner());
  const fault = faultInjector(config.fault);
  // before git is served: whatever a crash left between a release commit and git's ref update is repaired
  await reconcileRepos({ pool, reposDir: config.paths.repos, log: log.child({ component: 'reconcile' }) });
  const refGuard = new RefGuard(pool, log.child({ component: 'deploy' }));
  await app.register(gitPlugin, {
    afterReceivePack: async (appName, repoDir) => {
      fault?.('after-ref-update');
      await refGuard.verify(appName, repoDir);
    },
    reposDir: config.paths.repos,
    hooksDir: deps.hooksDir ?? HOOKS_DIR,
    log,
    pushLock,
    async authenticate(header) {
      const token = TokenVerifier.tokenFromHeader(header);
      const p = token ? await verifier.verify(token) : null;
      if (!p) return null;
      // the pusher recorded is the token's own name: the basic-auth user name is free-form and proves nothing
      return { name: p.name, mayPush: p.role !== 'read' };
    },
    hookEnv: () => ({
      PICLOUD_HOOK_URL: `http://${loopback.includes(':') ? `[${loopback}]` : loopback}:${portOf()}${HOOK_PATH}`,
      PICLOUD_HOOK_SECRET: secret,
    }),
  });

  await app.register(hookEndpointPlugin, {
    pool,
    log,
    secret,
    reposDir: config.paths.repos,
    engine,
    cache: engine ? createScriptCache(pool, engine) : null,
    onPush: deps.onPush,
    refGuard,
    fault,
    waitForRelease: deps.plane?.waitForRelease ? (a, b, id) => deps.plane!.waitForRelease!(a, b, id, RELEASE_LIVE_WAIT_MS) : undefined,
    // the port the server listens on (PORT=0 picks one)
    urls: (appName, branch, production) => branchUrls({ ...config, port: portOf() }, appName, branch, production),
  });

  if (deps.ingressPlugin) await app.register(deps.ingressPlugin);

  if (deps.managerPlugins !== false) {
    // one LISTEN connection for the API's log tail and the dashboard's live view
    const hub = new InvocationHub(pool, log.child({ component: 'invocation-hub' }));
    app.addHook('onClose', () => hub.close());
    // a rollback moves git's ref too, under the push lock, so git and the live release keep agreeing
    const rollback = async (p: Pool, args: { app: string; branch: string; version: number; pusher: string }) => {
      const unlock = await pushLock.acquire(args.app);
      try {
        const release = await rollbackRelease(p, args, { log });
        if (!(await alignRef(config.paths.repos, args.app, args.branch, release.commitSha))) {
          log.warn({ app: args.app, branch: args.branch, commit: release.commitSha }, "rolled back, but git's ref could not follow");
        }
        return release;
      } finally {
        unlock();
      }
    };
    const common = { config, pool, log, plane: deps.plane, verifier, hub, rollback };
    await app.register(apiPlugin, common);
    await app.register(dashboardPlugin, common);
    await app.register(metricsPlugin, common);
  }
  return app as unknown as FastifyInstance;
}
