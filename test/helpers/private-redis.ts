/**
 * A redis-server of a test's own on a free loopback port, so a test can stop and restart it without touching the
 * machine's shared Redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { waitFor } from './releases.ts';

export const haveRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** Start redis-server on `port` (default: no persistence; `args` replace that, e.g. AOF in a dir); resolves once it answers PING. */
export async function startRedis(port: number, args: string[] = ['--save', '', '--appendonly', 'no']): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...args], { stdio: 'ignore' });
  await waitFor(() => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 10_000, 'redis up');
  return p;
}

/** SIGKILL it and wait for its exit. */
export function stopRedis(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}
