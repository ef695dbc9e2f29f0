/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4), written by hand: process metrics,
 * HTTP requests served by this process (counted on the raw node server, so every plugin is included),
 * platform totals from PostgreSQL, and the invocation plane's numeric `stats()` when a plane is attached.
 * It names every app, so it needs an API token of any role (`Authorization: Bearer <token>`, or basic auth with
 * the token as password, as Prometheus' `authorization`/`basic_auth` send) unless PICLOUD_METRICS_PUBLIC=1; keep
 * it off the public vhost anyway (caddy/Caddyfile does not proxy /metrics on the public domain).
 */
import { readdir } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../common/config.ts';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { platformTotals } from '../db/dashboard.ts';
import type { Pool } from '../db/pool.ts';
import { TokenVerifier, verifierFor } from './auth.ts';

export interface MetricsPluginOptions {
  config: Config;
  pool: Pool;
  log: Logger;
  plane?: { stats(): unknown };
  verifier?: TokenVerifier;
}

type Labels = Record<string, string | number>;

/** Escape a label value (backslash, double quote, newline). */
const labelValue = (v: string | number): string => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

const fmtLabels = (l: Labels): string => {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${labelValue(v)}"`).join(',')}}` : '';
};

/** Builds one exposition: HELP/TYPE once per family, then samples. */
export class Exposition {
  #lines: string[] = [];
  #seen = new Set<string>();
  family(name: string, type: 'counter' | 'gauge', help: string): this {
    if (!this.#seen.has(name)) {
      this.#seen.add(name);
      this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    }
    return this;
  }
  sample(name: string, value: number, labels: Labels = {}): this {
    const v = Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
    this.#lines.push(`${name}${fmtLabels(labels)} ${v}`);
    return this;
  }
  toString(): string {
    return `${this.#lines.join('\n')}\n`;
  }
}

/** Numeric leaves of a stats object as [metric-name-suffix, value] (nested keys joined with _). */
export function flattenStats(o: unknown, prefix = ''): [string, number][] {
  if (typeof o === 'number' && Number.isFinite(o)) return [[prefix, o]];
  if (typeof o === 'boolean') return [[prefix, o ? 1 : 0]];
  if (!o || typeof o !== 'object' || Array.isArray(o)) return [];
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(o)) {
    const key = k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9_]/g, '_');
    out.push(...flattenStats(v, prefix ? `${prefix}_${key}` : key));
  }
  return out;
}

export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (fastify, opts) => {
  const { pool } = opts;
  const log = opts.log.child({ component: 'metrics' });
  const requests = new Map<string, { method: string; status: number; n: number }>();
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());

  const onRequest = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    res.once('finish', () => {
      const method = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/.test(req.method ?? '') ? req.method! : 'OTHER';
      const key = `${method} ${res.statusCode}`;
      const e = requests.get(key);
      if (e) e.n++;
      else requests.set(key, { method, status: res.statusCode, n: 1 });
    });
  };
  fastify.server.on('request', onRequest);
  fastify.addHook('onClose', async () => {
    fastify.server.off('request', onRequest);
  });

  const verifier = verifierFor(fastify, pool, opts.verifier);
  fastify.get('/metrics', async (req, reply) => {
    if (!opts.config.metricsPublic) {
      const token = TokenVerifier.tokenFromHeader(req.headers.authorization);
      if (!token || !(await verifier.verify(token))) {
        const e = new AppError('AUTH_REQUIRED', 'metrics need an API token (Authorization: Bearer <token>), or PICLOUD_METRICS_PUBLIC=1');
        return reply.code(401).header('www-authenticate', 'Bearer realm="picloud"').type('application/json').send(e.toJSON());
      }
    }
    const x = new Exposition();
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    x.family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.').sample('process_cpu_seconds_total', (cpu.user + cpu.system) / 1e6);
    x.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.').sample('process_resident_memory_bytes', mem.rss);
    x.family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.').sample('process_start_time_seconds', startSeconds);
    x.family('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.').sample('nodejs_heap_size_used_bytes', mem.heapUsed);
    x.family('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.').sample('nodejs_heap_size_total_bytes', mem.heapTotal);
    try {
      const fds = await readdir('/proc/self/fd');
      x.family('process_open_fds', 'gauge', 'Number of open file descriptors.').sample('process_open_fds', fds.length);
    } catch {
      /* not Linux */
    }
    x.family('picloud_build_info', 'gauge', 'PiCloud build information.').sample('picloud_build_info', 1, { node: process.version });

    x.family('picloud_http_requests_total', 'counter', 'HTTP requests answered by this process, by method and status.');
    for (const r of [...requests.values()].sort((a, b) => a.method.localeCompare(b.method) || a.status - b.status)) {
      x.sample('picloud_http_requests_total', r.n, { method: r.method, status: r.status });
    }

    try {
      const t = await platformTotals(pool);
      x.family('picloud_apps', 'gauge', 'Apps on the platform.').sample('picloud_apps', t.apps);
      x.family('picloud_releases', 'gauge', 'Releases recorded (all apps and branches).').sample('picloud_releases', t.releases);
      x.family('picloud_live_branches', 'gauge', 'Live (app, branch) pairs: production and previews.').sample('picloud_live_branches', t.liveBranches);
      x.family('picloud_invocations_recorded', 'gauge', 'Invocations in the retained log, by app and status.');
      for (const i of t.invocations) x.sample('picloud_invocations_recorded', i.n, { app: i.app, status: i.status });
      x.family('picloud_db_up', 'gauge', 'Whether PostgreSQL answered the metrics queries.').sample('picloud_db_up', 1);
    } catch (err) {
      log.warn({ err }, 'metrics: database unavailable');
      x.family('picloud_db_up', 'gauge', 'Whether PostgreSQL answered the metrics queries.').sample('picloud_db_up', 0);
    }

    if (opts.plane) {
      let stats: unknown;
      try {
        stats = opts.plane.stats();
      } catch {
        stats = undefined;
      }
      for (const [k, v] of flattenStats(stats)) {
        if (!k) continue;
        const name = `picloud_plane_${k}`;
        x.family(name, 'gauge', `Invocation plane stats(): ${k}.`).sample(name, v);
      }
    }
    return reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8').send(x.toString());
  });
};
