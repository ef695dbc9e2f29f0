/** Names and public URLs of apps and previews (architecture.md §3, §4). */
import type { Config } from '../common/config.ts';

/** App names: `^[a-z][a-z0-9-]{0,30}$` without `--`. */
export const isValidAppName = (name: string): boolean => /^[a-z][a-z0-9-]{0,30}$/.test(name) && !name.includes('--');

/** A branch as it appears in host names: lower-cased, runs outside [a-z0-9] → '-'. */
export const branchSlug = (branch: string): string => branch.toLowerCase().replace(/[^a-z0-9]+/g, '-');

/** The host label of (app, branch): `app` for production, `<slug>--app` for a preview. */
export const hostLabel = (app: string, branch: string, production: boolean): string =>
  production ? app : `${branchSlug(branch)}--${app}`;

function displayHost(config: Config): string {
  return config.host === '0.0.0.0' || config.host === '::' ? config.domain : config.host;
}

const portSuffix = (port: number): string => (port === 80 ? '' : `:${port}`);

/** Host-form and path-form URLs of a deployed branch. */
export function branchUrls(config: Config, app: string, branch: string, production: boolean): { host: string; path: string } {
  const label = hostLabel(app, branch, production);
  return {
    host: `http://${label}.${config.domain}${portSuffix(config.port)}/`,
    path: `http://${displayHost(config)}${portSuffix(config.port)}/apps/${label}/`,
  };
}

/** The git remote of an app. */
export const gitUrl = (config: Config, app: string): string =>
  `http://${displayHost(config)}${portSuffix(config.port)}/git/${app}.git`;
