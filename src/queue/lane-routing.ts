/**
 * The orchestrator's side of the direct lanes (lanes.ts is the transport): which lane an invocation goes on, the
 * per-app FIFOs of those waiting for a lane's credit, the replies that come back on a lane, a lane that closes, and the
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
  /**
   * send a pending invocation that never ran (its lane closed while it was parked) to another executor: true when
   * sent (false: no longer pending, or answered instead because it was sent again too often)
   */
  sendAgain(id: string): boolean;
  /** a reply on a lane: decoded, or null when the line is not a result */
  decode(line: string): { id: string; result: InvocationResult } | null;
  /** a waiting invocation goes to the Redis lists after all (no lane left, or spilled) */
  toLists(id: string, raw: string): void;
}

export interface LaneRouting {
  /** an executor holds a lane here */
  open(): boolean;
  /** send a pending invocation's wire text on the lane with the most room, or queue it (in its app's FIFO) for a credit */
  send(id: string, raw: string, app: number): void;
  stats(): { lanes: number; direct: number; waiting: number; spilledToLists: number; without: number; sentAgain: number };
  close(): Promise<void>;
}

/** One invocation waiting for a lane's credit. */
interface Waiting {
  id: string;
  raw: string;
  at: number;
}

/**
 * The invocations waiting for a lane's credit: one FIFO per app, served round-robin (as the executor pool serves its
 * app queues), so an app whose invocations flood in waits behind its own, not every other app behind it.
 * Invocations answered meanwhile (at their deadline) are skipped when their turn comes.
 */
export class AppFifos {
  /** by app, in round-robin order: the app served last goes to the back */
  private apps = new Map<number, { items: Waiting[]; from: number }>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(app: number, w: Waiting): void {
    let q = this.apps.get(app);
    if (!q) this.apps.set(app, (q = { items: [], from: 0 }));
    q.items.push(w);
    this.count++;
  }

  /**
   * Take waiting invocations round-robin over the apps while `take` accepts them (it returns false when there is no
   * room left: that invocation stays first in its app's FIFO). `live` filters those answered meanwhile.
   */
  serve(live: (w: Waiting) => boolean, take: (w: Waiting) => boolean): void {
    let progress = true;
    while (progress && this.count > 0) {
      progress = false;
      for (const [app, q] of [...this.apps]) {
        const w = this.head(app, q, live);
        if (!w) continue;
        if (!take(w)) return;
        this.shift(app, q);
        // round-robin: the app goes to the back
        this.apps.delete(app);
        if (q.from < q.items.length) this.apps.set(app, q);
        progress = true;
      }
    }
  }

  /** Remove and hand to `f` every live invocation that has waited since `before` or earlier (each app's oldest first). */
  takeOlder(before: number, live: (w: Waiting) => boolean, f: (w: Waiting) => void): void {
    for (const [app, q] of [...this.apps]) {
      for (let w = this.head(app, q, live); w && w.at <= before; w = this.head(app, q, live)) {
        this.shift(app, q);
        f(w);
      }
    }
  }

  /** When the oldest live head waited from (performance.now() time), or null when none waits. */
  oldest(live: (w: Waiting) => boolean): number | null {
    let at: number | null = null;
    for (const [app, q] of [...this.apps]) {
      const w = this.head(app, q, live);
      if (w && (at === null || w.at < at)) at = w.at;
    }
    return at;
  }

  /** Remove everything; returns what was waiting, oldest first per app. */
  clear(): Waiting[] {
    const out: Waiting[] = [];
    for (const q of this.apps.values()) for (let i = q.from; i < q.items.length; i++) out.push(q.items[i]!);
    this.apps.clear();
    this.count = 0;
    return out;
  }

  /** The app's first live invocation (dropping answered ones), or null (and the app is forgotten). */
  private head(app: number, q: { items: Waiting[]; from: number }, live: (w: Waiting) => boolean): Waiting | null {
    while (q.from < q.items.length && !live(q.items[q.from]!)) this.shift(app, q);
    return q.from < q.items.length ? q.items[q.from]! : null;
  }

  private shift(app: number, q: { items: Waiting[]; from: number }): void {
    q.from++;
    this.count--;
    if (q.from === q.items.length) this.apps.delete(app);
    else if (q.from > 1024) {
      q.items = q.items.slice(q.from);
      q.from = 0;
    }
  }
}

export async function startLaneRouting(o: LaneRoutingOptions): Promise<LaneRouting> {
  let direct = 0;
  let spilledToLists = 0;
  let sentAgain = 0;
  let closed = false;
  const waiting = new AppFifos();
  const live = (w: Waiting) => o.pending.has(w.id);

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
    waiting.serve(live, (w) => {
      const lane = server.pick();
      if (!lane) return false;
      sendOn(lane, w.id, w.raw);
      return true;
    });
  };

  // what has waited SPILL_AFTER_MS for a credit goes to the lists while some executors hold no lane here
  let spillTimer: NodeJS.Timeout | null = null;
  const spill = () => {
    spillTimer = null;
    waiting.takeOlder(performance.now() - SPILL_AFTER_MS, live, (w) => {
      spilledToLists++;
      o.toLists(w.id, w.raw);
    });
    armSpill();
  };
  const armSpill = () => {
    if (spillTimer || closed || waiting.size === 0 || server.without() === 0) return;
    const at = waiting.oldest(live);
    if (at === null) return;
    spillTimer = setTimeout(spill, Math.max(1, at + SPILL_AFTER_MS - performance.now()));
  };

  /**
   * `P <id>`: the executor holds an invocation of this lane unstarted (it has waited 100 ms or more in its app's
   * queue there); `C <id>`: it asks to start one, answered `K <id>` (start it: from now on its lane closing answers
   * it 502) or `X <id>` (it is no longer pending here: answered at its deadline; the executor drops it unrun).
   */
  const claims = (lane: Lane, park: boolean, id: string) => {
    if (park) {
      if (lane.inFlight.has(id)) lane.parked.add(id);
      return;
    }
    lane.parked.delete(id);
    server.send(lane, `${lane.inFlight.has(id) && o.pending.has(id) ? 'K' : 'X'} ${id}`);
  };

  const server = await startLaneServer({
    listen: o.listen, redis: o.redis, prefix: o.prefix, log: o.log,
    onLine(lane, line) {
      const c = line.charCodeAt(0);
      if ((c === 80 || c === 67) && line.charCodeAt(1) === 32) {
        claims(lane, c === 80, line.slice(2));
        return;
      }
      const m = o.decode(line);
      if (!m) return;
      lane.inFlight.delete(m.id);
      if (lane.parked.size) lane.parked.delete(m.id);
      o.settle(m.id, m.result);
      if (waiting.size) drain();
    },
    onClose(lane) {
      // what it said waits there unstarted never ran: it goes to another executor; the rest may have run
      const again = [...lane.parked].filter((id) => lane.inFlight.has(id) && o.pending.has(id));
      const held = lane.inFlight.size;
      for (const id of lane.inFlight) if (!lane.parked.has(id)) o.answer(id, errorResult(502, 'The executor running this invocation stopped answering (its connection closed: it crashed or was killed)'));
      lane.inFlight.clear();
      lane.parked.clear();
      let sent = 0;
      for (const id of again) if (o.sendAgain(id)) sent++;
      sentAgain += sent;
      if (held) o.log.warn({ executor: lane.executor, failed: held - again.length, sentAgain: sent }, 'lane to an executor closed: the invocations it had started answer 502, those it held unstarted go to another executor');
      // no lane left: what waits goes to the shared list, where any executor can take it
      if (server.lanes() === 0) for (const w of waiting.clear()) if (live(w)) o.toLists(w.id, w.raw);
    },
    onRoom: () => drain(),
  });

  return {
    open: () => server.lanes() > 0,
    send(id, raw, app) {
      const lane = waiting.size === 0 ? server.pick() : null;
      if (lane) sendOn(lane, id, raw);
      else {
        waiting.push(app, { id, raw, at: performance.now() });
        // those ahead may all have been answered meanwhile (at their deadlines): then a lane may have room
        if (waiting.size > 1) drain();
        armSpill();
      }
    },
    stats: () => ({ lanes: server.lanes(), direct, waiting: waiting.size, spilledToLists, without: server.without(), sentAgain }),
    async close() {
      closed = true;
      if (spillTimer) clearTimeout(spillTimer);
      await server.close();
    },
  };
}
