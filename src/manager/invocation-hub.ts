/**
 * Fan-out of new invocations to live subscribers (`logs --tail` SSE, dashboard live view).
 * One dedicated PostgreSQL connection LISTENs on 'picloud_invocations' (migration 0003) while at least one
 * subscriber exists, and is released when the last one leaves: no connection and no work when nobody watches.
 * Payload {"first", "last"}: the id range one batch INSERT wrote; the rows of subscribed apps in that range are
 * read once per notification and handed to every matching subscriber.
 */
import type { Logger } from '../common/log.ts';
import type { Pool, PoolClient } from '../db/pool.ts';
import { listInvocationRange, type InvocationView } from '../db/dashboard.ts';

export interface Subscription {
  appId: number;
  branch?: string;
  onInvocation(row: InvocationView): void;
}

export class InvocationHub {
  #subs = new Set<Subscription>();
  #client: PoolClient | null = null;
  #connecting: Promise<void> | null = null;
  #closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {}

  /** Start receiving invocations of an app; resolves once LISTEN is active. Returns the unsubscribe function. */
  async subscribe(sub: Subscription): Promise<() => void> {
    this.#subs.add(sub);
    await this.#ensureListening();
    return () => {
      this.#subs.delete(sub);
      if (this.#subs.size === 0) void this.#stopListening();
    };
  }

  get subscribers(): number {
    return this.#subs.size;
  }

  async #ensureListening(): Promise<void> {
    if (this.#client || this.#closed) return;
    if (!this.#connecting) {
      this.#connecting = (async () => {
        const c = await this.pool.connect();
        c.on('notification', (msg) => {
          if (msg.channel === 'picloud_invocations' && msg.payload) void this.#dispatch(msg.payload);
        });
        c.on('error', (err) => {
          this.log.warn({ err }, 'invocation listener connection lost');
          if (this.#client === c) this.#client = null;
          c.release(err);
          // Reconnect for the remaining subscribers.
          if (this.#subs.size && !this.#closed) void this.#ensureListening().catch(() => {});
        });
        await c.query('LISTEN picloud_invocations');
        this.#client = c;
      })().finally(() => {
        this.#connecting = null;
      });
    }
    await this.#connecting;
    // Everyone may have left while the connection was being set up.
    if (this.#subs.size === 0) void this.#stopListening();
  }

  async #stopListening(): Promise<void> {
    const c = this.#client;
    if (!c || this.#subs.size) return;
    this.#client = null;
    try {
      await c.query('UNLISTEN picloud_invocations');
      c.removeAllListeners('notification');
      c.removeAllListeners('error');
      c.release();
    } catch (err) {
      c.release(err as Error);
    }
  }

  async #dispatch(payload: string): Promise<void> {
    let p: { first: number; last: number };
    try {
      p = JSON.parse(payload);
    } catch {
      return;
    }
    if (!Number.isSafeInteger(p.first) || !Number.isSafeInteger(p.last) || this.#subs.size === 0) return;
    const appIds = [...new Set([...this.#subs].map((s) => s.appId))];
    try {
      const rows = await listInvocationRange(this.pool, p.first, p.last, appIds);
      for (const { appId, row } of rows) {
        for (const s of this.#subs) {
          if (s.appId === appId && (s.branch === undefined || s.branch === row.branch)) s.onInvocation(row);
        }
      }
    } catch (err) {
      this.log.warn({ err }, 'could not read notified invocations');
    }
  }

  /** Drop every subscriber and the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#subs.clear();
    await this.#connecting?.catch(() => {});
    const c = this.#client;
    this.#client = null;
    if (c) {
      c.removeAllListeners('notification');
      c.release(true); // destroy: it still LISTENs
    }
  }
}
