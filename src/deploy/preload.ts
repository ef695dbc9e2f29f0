/**
 * Preload before the switch (issue 11, "no cold start"): a release switch is prepare → preload → switch live.
 * The new release's programs are stored first (the AST cache is content-addressed: storing them early changes
 * nothing that is live); then every node with executor threads is asked to load and compile them in each thread
 * (db/preload.ts has the handshake); the switch waits for all of them, at most PRELOAD_WAIT_MS, so a slow or hung
 * node never blocks a deploy (it starts that release cold instead). Then the usual one-transaction switch.
 */
import { randomUUID } from 'node:crypto';
import { PRELOAD_WAIT_MS } from '../common/config.ts';
import type { Logger } from '../common/log.ts';
import type { Pool } from '../db/pool.ts';
import { countPreloadNodes, notifyPreload, PRELOAD_CHUNK, PRELOADED_CHANNEL } from '../db/preload.ts';

export interface PreloadOutcome {
  /** nodes asked (connected nodes with executor threads) */
  nodes: number;
  /** nodes that confirmed every chunk within the wait */
  ready: number;
  ms: number;
}

/** Ask every node to load and compile these programs; resolves when all confirmed, or after `timeoutMs`. */
export async function preloadOnNodes(pool: Pool, hashes: string[], o: { timeoutMs?: number; log?: Logger } = {}): Promise<PreloadOutcome> {
  const t0 = performance.now();
  const unique = [...new Set(hashes)];
  if (unique.length === 0) return { nodes: 0, ready: 0, ms: 0 };
  const c = await pool.connect();
  const acks = new Map<string, Set<string>>();
  let wake: (() => void) | null = null;
  const onNotification = (m: { channel: string; payload?: string }) => {
    if (m.channel !== PRELOADED_CHANNEL || !m.payload) return;
    try {
      const p = JSON.parse(m.payload) as { id?: unknown; node?: unknown };
      if (typeof p.id === 'string' && typeof p.node === 'string') acks.get(p.id)?.add(p.node);
    } catch {
      return;
    }
    wake?.();
  };
  let broken = false;
  const onError = () => {
    broken = true;
    wake?.();
  };
  c.on('notification', onNotification);
  c.on('error', onError);
  let nodes = 0;
  try {
    await c.query(`LISTEN ${PRELOADED_CHANNEL}`);
    nodes = await countPreloadNodes(c);
    if (nodes === 0) return { nodes, ready: 0, ms: performance.now() - t0 };
    for (let i = 0; i < unique.length; i += PRELOAD_CHUNK) {
      const id = randomUUID();
      acks.set(id, new Set());
      await notifyPreload(c, { id, hashes: unique.slice(i, i + PRELOAD_CHUNK) });
    }
    const ready = (): number => {
      let n = Infinity;
      for (const s of acks.values()) n = Math.min(n, s.size);
      return n;
    };
    const deadline = t0 + (o.timeoutMs ?? PRELOAD_WAIT_MS);
    while (ready() < nodes && !broken) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await new Promise<void>((res) => {
        const timer = setTimeout(res, left);
        wake = () => {
          clearTimeout(timer);
          res();
        };
      });
      wake = null;
    }
    const out = { nodes, ready: Math.min(ready(), nodes), ms: performance.now() - t0 };
    if (out.ready < nodes) o.log?.warn({ ...out, scripts: unique.length }, 'release preload: not every node confirmed in time; those start it cold');
    return out;
  } catch (err) {
    o.log?.warn({ err }, 'release preload failed; the release starts cold');
    return { nodes, ready: 0, ms: performance.now() - t0 };
  } finally {
    c.removeListener('notification', onNotification);
    c.removeListener('error', onError);
    if (broken) c.release(true);
    else {
      await c.query(`UNLISTEN ${PRELOADED_CHANNEL}`).catch(() => {});
      c.release();
    }
  }
}
