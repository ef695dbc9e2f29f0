/**
 * The real Caddy in tests: whether it is installed (a test skips without it on a developer's box and fails under
 * CI, see needs.ts), and `startCaddy`: `caddy run` on a Caddyfile with a state directory of
 * its own (HOME / XDG dirs, so no test touches the user's Caddy data), the environment the Caddyfile reads, its
 * output kept for failure messages, waiting until a request through it answers; `stop()` ends it and removes the
 * directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { missing } from './needs.ts';
import { waitFor } from './releases.ts';

/** Is the `caddy` binary on PATH? */
export const haveCaddy = spawnSync('caddy', ['version'], { encoding: 'utf8' }).status === 0;

/** True when a Caddy test must skip (Caddy missing outside CI); throws under CI, where .ci/run installs it. */
export function skipWithoutCaddy(): boolean {
  return missing('caddy', haveCaddy, 'apt-get install -y caddy');
}

export interface CaddyOptions {
  /** the Caddyfile to run: a path, or a function of Caddy's state directory giving the Caddyfile's text */
  config: string | ((dir: string) => string);
  /** variables the Caddyfile reads (PICLOUD_*), added to PATH and the state directory's HOME / XDG dirs */
  env?: Record<string, string>;
  /** true once Caddy serves (a request through it) */
  ready: () => Promise<boolean>;
  /** how long to wait for `ready` (default 20 s) */
  timeoutMs?: number;
  /** what is waited for, in the timeout's message */
  what?: string;
}

export interface RunningCaddy {
  proc: ChildProcess;
  /** Caddy's state directory (removed by stop) */
  dir: string;
  /** the last 20,000 characters Caddy wrote to stdout / stderr */
  out: () => string;
  /** kill Caddy (SIGKILL by default), wait for its exit, remove its directory */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Run `caddy run` on a Caddyfile and wait until it serves. */
export async function startCaddy(o: CaddyOptions): Promise<RunningCaddy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'picloud-caddy-'));
  let config: string;
  if (typeof o.config === 'string') config = o.config;
  else {
    config = path.join(dir, 'Caddyfile');
    writeFileSync(config, o.config(dir));
  }
  const proc = spawn('caddy', ['run', '--config', config, '--adapter', 'caddyfile'], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString('utf8')).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const running = (): boolean => proc.exitCode === null && proc.signalCode === null;
  const stop = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (running()) proc.kill(signal);
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (!running()) throw new Error(`caddy exited (${proc.exitCode ?? proc.signalCode})`);
      return o.ready().catch(() => false);
    }, o.timeoutMs ?? 20_000, o.what ?? 'caddy up');
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- caddy output\n${out}`, { cause: e });
  }
  return { proc, dir, out: () => out, stop };
}
