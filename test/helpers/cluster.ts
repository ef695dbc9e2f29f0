/**
 * Real cluster processes for integration tests: free loopback ports, role processes of the compiled platform
 * (`node … dist/cli/main.js <role>`, what `npm start` runs; build dist first) with their output kept for failure
 * messages, and a Redis database of the test's own (the roles have no key-prefix flag, so they share one with the
 * default prefix; its keys are deleted afterwards).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { redisConnection } from '../../src/queue/bullmq.ts';
import { TEST_REDIS_URL } from './db.ts';
import { waitFor } from './releases.ts';
import { ROOT, startArgs } from './start.ts';

export interface Proc {
  name: string;
  proc: ChildProcess;
  out: () => string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export const alive = (p: Proc) => p.proc.exitCode === null && p.proc.signalCode === null;

/** The processes of one test file: start them, describe them, stop them all. */
export class Cluster {
  readonly procs: Proc[] = [];
  constructor(
    /** HOME and PICLOUD_HOME parent of the roles */
    private readonly dir: string,
    /** environment of every role (DATABASE_URL, REDIS_URL, …) */
    private readonly env: () => NodeJS.ProcessEnv,
  ) {}

  /** Start a process, keep its output. */
  start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): Proc {
    const proc = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => (out = (out + b.toString('utf8')).slice(-20_000)));
    proc.stderr!.on('data', (b: Buffer) => (out = (out + b.toString('utf8')).slice(-20_000)));
    const p = { name, proc, out: () => out };
    this.procs.push(p);
    return p;
  }

  /** A role of the compiled platform. */
  role(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    return this.start(name, process.execPath, [...startArgs().slice(0, -1), ...args], {
      PATH: process.env.PATH, HOME: this.dir, PICLOUD_HOME: path.join(this.dir, 'home'), HOST: '127.0.0.1',
      PICLOUD_LOG_LEVEL: 'warn', ...this.env(), ...env,
    });
  }

  /** `picloud manager --port 0`; resolves with the port it listens on. */
  async manager(env: NodeJS.ProcessEnv = {}): Promise<{ proc: Proc; port: number }> {
    const proc = this.role('manager', ['manager', '--port', '0'], env);
    let port = 0;
    await waitFor(() => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(proc.out());
      if (m) port = Number(m[1]);
      if (!m && !alive(proc)) throw new Error(`manager did not start:\n${this.diag()}`);
      return port > 0;
    }, 60_000, `manager up\n${this.diag()}`);
    return { proc, port };
  }

  diag(): string {
    return this.procs.map((p) => `--- ${p.name} (${alive(p) ? 'running' : `exited ${p.proc.exitCode ?? p.proc.signalCode}`})\n${p.out().slice(-2000)}`).join('\n');
  }

  /** SIGKILL every process, delete the Redis database's `picloud:` keys and the database, remove the directory. */
  async close(redisUrl: string | null, db: { drop(): Promise<void> } | undefined): Promise<void> {
    for (const p of this.procs) if (alive(p)) p.proc.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => (alive(p) ? new Promise((r) => p.proc.once('exit', r)) : null)));
    if (redisUrl) await dropRedisKeys(redisUrl);
    await db?.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis database index (1..15) holding no `picloud:` key, as a URL; null when none is free. */
export async function freeRedisDb(): Promise<string | null> {
  const base = redisConnection(TEST_REDIS_URL);
  try {
    for (const n of [...Array.from({ length: 15 }, (_, i) => i + 1)].sort(() => Math.random() - 0.5)) {
      await base.select(n);
      if ((await base.scan('0', 'MATCH', 'picloud:*', 'COUNT', 1000))[1].length === 0 && (await base.dbsize()) < 1000) {
        const u = new URL(TEST_REDIS_URL);
        u.pathname = `/${n}`;
        return u.toString();
      }
    }
    return null;
  } finally {
    base.disconnect();
  }
}

/** Delete the `picloud:` keys of a test's Redis database. */
export async function dropRedisKeys(redisUrl: string): Promise<void> {
  const r = redisConnection(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', 'picloud:*', 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
