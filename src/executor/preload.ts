/**
 * A node's side of the preload handshake (db/preload.ts, deploy/preload.ts): one connection LISTENs on
 * 'picloud_preload' and is counted as a node; each request's programs are loaded and compiled in every executor
 * thread of this process, then confirmed with 'picloud_preloaded'. Reconnects after a lost connection (a release
 * switched meanwhile starts cold here; nothing else depends on it).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../common/log.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import { notifyPreloaded, PRELOAD_CHANNEL, registerPreloadNode, type PreloadRequest } from '../db/preload.ts';

export class Preloader {
  readonly node = randomUUID();
  private client: PoolClient | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    /** load and compile these programs in every thread */
    private readonly preload: (hashes: string[]) => Promise<unknown>,
  ) {}

  /** connected and listening for preload requests (readiness) */
  get listening(): boolean {
    return this.client !== null;
  }

  async start(): Promise<void> {
    if (this.closed) return;
    let c: PoolClient | null = null;
    try {
      c = await this.pool.connect();
      const client = c;
      client.on('notification', (m) => {
        if (m.channel !== PRELOAD_CHANNEL || !m.payload) return;
        let req: PreloadRequest;
        try {
          req = JSON.parse(m.payload) as PreloadRequest;
        } catch {
          return;
        }
        if (typeof req.id !== 'string' || !Array.isArray(req.hashes)) return;
        void this.serve(req);
      });
      client.on('error', (err) => {
        if (this.closed) return;
        this.log.warn({ err }, 'preload LISTEN connection lost; reconnecting');
        this.drop(client, err);
        this.schedule();
      });
      await registerPreloadNode(client);
      this.client = client;
    } catch (err) {
      if (c) this.drop(c, err as Error);
      if (this.closed) return;
      this.log.warn({ err }, 'preload: cannot LISTEN; retrying');
      this.schedule();
    }
  }

  private async serve(req: PreloadRequest): Promise<void> {
    try {
      await this.preload(req.hashes.filter((h): h is string => typeof h === 'string'));
    } catch (err) {
      this.log.warn({ err }, 'preload failed; confirming anyway (the release starts cold here)');
    }
    if (!this.closed) await notifyPreloaded(this.pool, req.id, this.node).catch((err: unknown) => this.log.warn({ err }, 'preload: cannot confirm'));
  }

  private readonly released = new WeakSet<PoolClient>();

  private drop(c: PoolClient, err?: Error): void {
    if (this.released.has(c)) return;
    this.released.add(c);
    c.removeAllListeners('notification');
    c.removeAllListeners('error');
    if (this.client === c) this.client = null;
    // a LISTEN connection named as a node is never reused
    c.release(err ?? true);
  }

  private schedule(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.start();
    }, 1000);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    if (c) this.drop(c);
  }
}
