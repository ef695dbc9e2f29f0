/**
 * The orchestrator's side of the direct lanes (lanes.ts is the transport): which lane an invocation goes on, the
 * FIFO of those waiting for a lane's credit, the replies that come back on a lane, a lane that closes, and the
 * spill to the Redis lists for executors that hold no lane here. redis-lists.ts owns the pending invocations (their
 * deadlines and results) and hands an invocation here while a lane is open.
 */
import type { Redis } from 'ioredis';
import type { LaneListen } from '../common/config.ts';
import type { Logger } from '../common/log.ts';
import { errorResult, type InvocationResult } from './jobs.ts';
import { startLaneServer, type Lane } from './lanes.ts';

/**
 * While some executor processes hold no lane to this orchestrator, an invocation that has waited this long for a
 * lane's credit goes to the shared list, where they (and any other executor with room) take it.
 */
const SPILL_AFTER_MS = 10;

/** What routing needs to know of (and sets on) a pending invocation. */
export interface LanePending {
  executor: string | null;
  since: number;
  onLane: boolean;
}

export interface LaneRoutingOptions {
  listen: LaneListen;
  redis: Redis;
  prefix: string;
  log: Logger;
  /** the invocations still pending, by id (owned by the caller) */
  pending: ReadonlyMap<string, LanePending>;
  /** answer a pending invocation (an error of the lane's) */
  answer(id: string, r: InvocationResult): void;
  /** an executor's result for a pending invocation */
  settle(id: string, r: InvocationResult): void;
  /** a reply on a lane: decoded, or null when the line is not a result */
  decode(line: string): { id: string; result: InvocationResult } | null;
  /** a waiting invocation goes to the Redis lists after all (no lane left, or spilled) */
  toLists(id: string, raw: string): void;
}

export interface LaneRouting {
  /** an executor holds a lane here */
  open(): boolean;
  /** send a pending invocation's wire text on the lane with the most room, or queue it for the next credit */
  send(id: string, raw: string): void;
  stats(): { lanes: number; direct: number; waiting: number; spilledToLists: number; without: number };
  close(): Promise<void>;
}

export async function startLaneRouting(o: LaneRoutingOptions): Promise<LaneRouting> {
  let direct = 0;
  let spilledToLists = 0;
  let closed = false;
  // invocations waiting for a lane's credit (FIFO; those answered meanwhile, at their deadline, are skipped when
  // their turn comes)
  let waiting: { id: string; raw: string; at: number }[] = [];
  let from = 0;
  const compact = () => {
    if (from === waiting.length) {
      waiting = [];
      from = 0;
    } else if (from > 1024) {
      waiting = waiting.slice(from);
      from = 0;
    }
  };

  const sendOn = (lane: Lane, id: string, raw: string) => {
    const p = o.pending.get(id);
    if (!p) return;
    p.executor = lane.executor;
    p.since = performance.now();
    p.onLane = true;
    lane.inFlight.add(id);
    direct++;
    server.send(lane, raw);
  };
  const drain = () => {
    while (from < waiting.length) {
      const w = waiting[from]!;
      if (!o.pending.has(w.id)) {
        from++;
        continue;
      }
      const lane = server.pick();
      if (!lane) break;
      from++;
      sendOn(lane, w.id, w.raw);
    }
    compact();
  };

  // what has waited SPILL_AFTER_MS for a credit goes to the lists while some executors hold no lane here
  let spillTimer: NodeJS.Timeout | null = null;
  const spill = () => {
    spillTimer = null;
    const old = performance.now() - SPILL_AFTER_MS;
    while (from < waiting.length && waiting[from]!.at <= old) {
      const w = waiting[from++]!;
      if (!o.pending.has(w.id)) continue;
      spilledToLists++;
      o.toLists(w.id, w.raw);
    }
    compact();
    armSpill();
  };
  const armSpill = () => {
    if (spillTimer || closed || from === waiting.length || server.without() === 0) return;
    spillTimer = setTimeout(spill, Math.max(1, waiting[from]!.at + SPILL_AFTER_MS - performance.now()));
  };

  const server = await startLaneServer({
    listen: o.listen, redis: o.redis, prefix: o.prefix, log: o.log,
    onLine(lane, line) {
      const m = o.decode(line);
      if (!m) return;
      lane.inFlight.delete(m.id);
      o.settle(m.id, m.result);
      if (from < waiting.length) drain();
    },
    onClose(lane) {
      if (lane.inFlight.size) o.log.warn({ executor: lane.executor, inFlight: lane.inFlight.size }, 'lane to an executor closed: its invocations answer 502');
      for (const id of lane.inFlight) o.answer(id, errorResult(502, 'The executor running this invocation stopped answering (its connection closed: it crashed or was killed)'));
      lane.inFlight.clear();
      // no lane left: what waits goes to the shared list, where any executor can take it
      if (server.lanes() === 0) {
        for (let i = from; i < waiting.length; i++) if (o.pending.has(waiting[i]!.id)) o.toLists(waiting[i]!.id, waiting[i]!.raw);
        waiting = [];
        from = 0;
      }
    },
    onRoom: () => drain(),
  });

  return {
    open: () => server.lanes() > 0,
    send(id, raw) {
      const lane = from === waiting.length ? server.pick() : null;
      if (lane) sendOn(lane, id, raw);
      else {
        waiting.push({ id, raw, at: performance.now() });
        armSpill();
      }
    },
    stats: () => ({ lanes: server.lanes(), direct, waiting: waiting.length - from, spilledToLists, without: server.without() }),
    async close() {
      closed = true;
      if (spillTimer) clearTimeout(spillTimer);
      await server.close();
    },
  };
}
