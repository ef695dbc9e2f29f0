/**
 * Names and public URLs of apps and previews (architecture.md §3, §4).
 * URLs follow the request when it came in on the platform domain (e.g. through Caddy as
 * `https://pi.example.org`): same scheme (X-Forwarded-Proto) and port as the request, so the dashboard and the
 * CLI show what users can actually open. Otherwise they use the server's own host and port.
 */
import type { Config } from '../common/config.ts';

import { branchSlug } from '../common/names.ts';

export { branchSlug, isValidAppName } from '../common/names.ts';

/** The host label of (app, branch): `app` for production, `<slug>--app` for a preview. */
export const hostLabel = (app: string, branch: string, production: boolean): string =>
  production ? app : `${branchSlug(branch)}--${app}`;

/** Scheme and port seen by the client, when the request was addressed to the platform domain. */
export interface PublicOrigin {
  scheme: 'http' | 'https';
  /** null = the scheme's default port */
  port: number | null;
}

/** The public origin of a request on the platform domain (Host = domain[:port]), else undefined. */
export function publicOrigin(config: Config, host: string | undefined, forwardedProto: string | string[] | undefined): PublicOrigin | undefined {
  const m = /^([a-z0-9.-]+)(?::(\d{1,5}))?$/.exec((host ?? '').toLowerCase());
  if (!m || m[1] !== config.domain) return undefined;
  const proto = (Array.isArray(forwardedProto) ? forwardedProto[0] : forwardedProto)?.split(',')[0]?.trim();
  const scheme = proto === 'https' ? 'https' : 'http';
  const port = m[2] ? Number(m[2]) : null;
  return { scheme, port: port === (scheme === 'https' ? 443 : 80) ? null : port };
}

function base(config: Config, origin: PublicOrigin | undefined, hostName?: string): string {
  if (origin) return `${origin.scheme}://${hostName ?? config.domain}${origin.port === null ? '' : `:${origin.port}`}`;
  const h = hostName ?? (config.host === '0.0.0.0' || config.host === '::' ? config.domain : config.host);
  return `http://${h}${config.port === 80 ? '' : `:${config.port}`}`;
}

/** Host-form and path-form URLs of a deployed branch. */
export function branchUrls(config: Config, app: string, branch: string, production: boolean, origin?: PublicOrigin): { host: string; path: string } {
  const label = hostLabel(app, branch, production);
  return { host: `${base(config, origin, `${label}.${config.domain}`)}/`, path: `${base(config, origin)}/apps/${label}/` };
}

/** The git remote of an app. */
export const gitUrl = (config: Config, app: string, origin?: PublicOrigin): string => `${base(config, origin)}/git/${app}.git`;
