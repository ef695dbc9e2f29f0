/**
 * Client credentials: `{ server, token }` in `$PICLOUD_CONFIG` or `$XDG_CONFIG_HOME/picloud/credentials.json`
 * (default `~/.config/picloud/credentials.json`), written with mode 600 in a mode-700 directory.
 * `PICLOUD_URL` and `PICLOUD_TOKEN` in the environment take precedence (CI, scripts).
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface Credentials {
  server: string;
  token: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export function credentialsPath(env: NodeJS.ProcessEnv): string {
  if (env.PICLOUD_CONFIG) return path.resolve(env.PICLOUD_CONFIG);
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'picloud', 'credentials.json');
}

export async function readCredentialsFile(env: NodeJS.ProcessEnv): Promise<Partial<Credentials>> {
  try {
    const raw = JSON.parse(await readFile(credentialsPath(env), 'utf8')) as Partial<Credentials>;
    return {
      ...(typeof raw.server === 'string' ? { server: raw.server } : {}),
      ...(typeof raw.token === 'string' ? { token: raw.token } : {}),
    };
  } catch {
    return {};
  }
}

/** The credentials to use, or null when not logged in. */
export async function loadCredentials(env: NodeJS.ProcessEnv): Promise<Credentials | null> {
  const file = await readCredentialsFile(env);
  const server = env.PICLOUD_URL || file.server || DEFAULT_SERVER;
  const token = env.PICLOUD_TOKEN || file.token;
  return token ? { server: normalizeServer(server), token } : null;
}

export async function saveCredentials(env: NodeJS.ProcessEnv, c: Credentials): Promise<string> {
  const p = credentialsPath(env);
  await mkdir(path.dirname(p), { recursive: true, mode: 0o700 });
  const tmp = `${p}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(c, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, p);
  return p;
}

export function normalizeServer(s: string): string {
  const withScheme = /^https?:\/\//i.test(s) ? s : `http://${s}`;
  return withScheme.replace(/\/+$/, '');
}
