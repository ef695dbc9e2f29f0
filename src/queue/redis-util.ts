/**
 * Redis plumbing shared by the transports (BullMQ for durable work, plain lists for the HTTP path): connections,
 * bounded waits on calls that may never settle while Redis is gone, rate-limited warnings, and a blocking-pop
 * loop that survives reconnects.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../common/log.ts';

export function redisConnection(url: string, autoPipeline = false): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, enableAutoPipelining: autoPipeline });
  r.on('error', () => {}); // reconnects by itself; errors surface on commands
  return r;
}

/** `p`, or `fallback` after `ms` (for Redis calls that may never settle while the server is gone). */
export function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((res) => { timer = setTimeout(() => res(fallback), ms); });
  return Promise.race([p.catch(() => fallback), t]).finally(() => clearTimeout(timer));
}

/** Logs a repeated warning at most once per `everyMs` (with how many were suppressed). */
export function rateLimitedWarn(log: Logger, msg: string, everyMs = 30_000): (err: unknown) => void {
  let last = 0;
  let suppressed = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < everyMs) {
      suppressed++;
      return;
    }
    log.warn({ err, suppressed }, msg);
    last = now;
    suppressed = 0;
  };
}

/** Seconds a blocking pop waits server-side; the client-side watchdog allows this + 3 s. */
export const BLOCK_SECONDS = 30;

export interface BlockingReaderOptions {
  redisUrl: string;
  key: string;
  /** elements to take per pop (a function: the room left now; 0 = wait for room) */
  count: number | (() => number);
  /** resolves when there is room again (called when count() is 0) */
  waitForRoom?: () => Promise<void>;
  log: Logger;
  onItems: (items: string[]) => void;
}

/**
 * `BLMPOP <BLOCK_SECONDS> 1 key RIGHT COUNT n` in a loop on its own connection (FIFO with LPUSH). A pop is run
 * under a watchdog: ioredis re-sends or orphans a blocking command interrupted by a reconnect, so it can hang
 * forever; a pop that outlives its server-side timeout, or whose connection was lost under it, is abandoned with
 * its connection and a fresh one is used.
 */
export function startBlockingReader(o: BlockingReaderOptions): { close(): void } {
  let closed = false;
  const fresh = () => {
    const r = redisConnection(o.redisUrl);
    const back = new Promise<void>((res) => r.once('close', () => r.once('ready', () => res())));
    return { r, back };
  };
  let blocking = fresh();
  const STUCK = Symbol('stuck');
  const warn = rateLimitedWarn(o.log, `blocking read of ${o.key} failed; retrying`);
  const pop = async (n: number): Promise<string[]> => {
    const { r, back } = blocking;
    const cmd = (r.call('BLMPOP', BLOCK_SECONDS, 1, o.key, 'RIGHT', 'COUNT', n) as Promise<[string, string[]] | null>).then((x) => (x ? x[1] : []));
    cmd.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<typeof STUCK>((res) => { timer = setTimeout(() => res(STUCK), (BLOCK_SECONDS + 3) * 1000); });
    try {
      const got = await Promise.race([cmd, watchdog, back.then((): typeof STUCK => STUCK)]);
      if (got !== STUCK) return got;
      if (!closed && blocking.r === r) {
        blocking = fresh();
        r.disconnect();
      }
      return [];
    } finally {
      clearTimeout(timer);
    }
  };
  const loop = async () => {
    while (!closed) {
      try {
        let n = typeof o.count === 'number' ? o.count : o.count();
        if (n <= 0 && o.waitForRoom) {
          await o.waitForRoom();
          continue;
        }
        n = Math.max(1, n);
        const items = await pop(n);
        if (items.length && !closed) o.onItems(items);
      } catch (err) {
        if (closed) return;
        warn(err);
        await new Promise((res) => setTimeout(res, 500));
      }
    }
  };
  void loop();
  return {
    close() {
      closed = true;
      blocking.r.disconnect();
    },
  };
}
