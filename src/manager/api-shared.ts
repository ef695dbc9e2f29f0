/**
 * What the API's route modules (api-apps, api-config, api-invocations, api-tokens, api-kv, api-jobs) share: the
 * context api.ts builds once per plugin (app and branch lookups, the public origin), the principal its token check
 * attached to a request, and the rules for query parameters (each a 400 with code BAD_REQUEST, never a 500).
 */
import type { FastifyRequest } from 'fastify';
import type { Config } from '../common/config.ts';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { AppRow } from '../db/dashboard.ts';
import type { Pool } from '../db/pool.ts';
import type { Principal } from './auth.ts';
import type { PublicOrigin } from './urls.ts';

export interface AppParams {
  app: string;
}
export interface BranchQuery {
  branch?: string;
}

/** Built once by the API plugin and passed to every route module. */
export interface ApiContext {
  config: Config;
  pool: Pool;
  /** the API's logger (component "api") */
  log: Logger;
  /** the app named `name`, or APP_NOT_FOUND (404) */
  requireApp(name: string): Promise<AppRow>;
  /** `?branch=` checked (BAD_REQUEST), the production branch when absent */
  branchOf(app: AppRow, q: BranchQuery): string;
  /** the origin the client used (Host, X-Forwarded-Proto), for the URLs the API returns */
  originOf(req: FastifyRequest): PublicOrigin | undefined;
}

const principals = new WeakMap<FastifyRequest, Principal>();

/** Attach the principal the API's token check found (api.ts's onRequest hook). */
export const setPrincipal = (req: FastifyRequest, p: Principal): void => void principals.set(req, p);

/** The principal of a request that passed the token check (every route but tls-ask). */
export const principal = (req: FastifyRequest): Principal => principals.get(req)!;

export const badRequest = (message: string, data: Record<string, unknown> = {}): AppError => new AppError('BAD_REQUEST', message, data);

/** `{K: v}` → `{K: null}`: the names of config values without the values (what a read token sees). */
export const namesOnly = (o: Record<string, string>): Record<string, null> => Object.fromEntries(Object.keys(o).map((k) => [k, null]));

/** A boolean query flag: absent, 1/true or 0/false; anything else is a 400. */
export function flag(v: string | undefined, name: string): boolean {
  if (v === undefined || v === '' || v === '0' || v === 'false') return false;
  if (v === '1' || v === 'true') return true;
  throw badRequest(`${name} must be 1, true, 0 or false`);
}

/** An optional integer query parameter in min..max (digits only: `1e308`, `-1`, `0x10` are a 400, never a 500). */
export function intParam(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max)) throw badRequest(`${name} must be an integer from ${min} to ${max}`, { [name]: v });
  return n;
}

/** The invocation status filter: error (4xx and 5xx), 2xx…5xx, or one status; anything else is a 400. */
export function statusParam(v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^(error|[1-5]xx|[1-5]\d\d)$/i.test(v)) throw badRequest('status must be error, 2xx, 3xx, 4xx, 5xx or a status such as 404', { status: v });
  return v;
}

/** The largest id the API accepts (ids are bigint; beyond this they are not exact as JSON numbers anyway). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;
