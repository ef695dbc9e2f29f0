/**
 * Direct lanes: the synchronous HTTP path's fast lane between an orchestrator and the executor processes, one TCP
 * connection per (orchestrator, executor) pair, with Redis kept for what it is needed for: finding each other, the
 * liveness of executors, the fallback path and durable work (architecture.md §7 "Queue (revised)", "Direct lanes").
 *
 * Why (measured on the 2-core VM, see architecture.md "Measuring it honestly"): over Redis lists an invocation costs
 * an LPUSH and a BLMPOP each way, parsed by ioredis in two processes and served by Redis: a relay doing nothing
 * else reached 47–50 % of the fastify ceiling over lists and 68–79 % over direct sockets, and the `redis` bench case
 * sat at 25 % over lists against a 35 % goal. Here an invocation is one line written on a socket each way.
 *
 * - The orchestrator listens (`PICLOUD_LANES`, default 127.0.0.1 on a free port) and registers
 *   `<id> <host:port> <token> <hostname> <features>` in the sorted set `<prefix>:lanes` (score: when the entry lapses; refreshed every
 *   10 s, removed on close). When its entry is new to the set (its start, or Redis lost it), it publishes its id on
 *   `<prefix>:lanes:announce`.
 * - Each executor process reads that set when an announcement arrives (a subscriber connection: waiting costs
 *   nothing), when that connection is (re)established, soon after one of its lanes closes, and otherwise every 30 s
 *   (every 2 s while a dial to a registered orchestrator has not succeeded; every 10 s while it does not dial one,
 *   to say so before that entry lapses), and dials every orchestrator it does not hold a lane to. It used to read
 *   the set every 2 s, idle or not: 30 Redis round trips a minute, and an idle executor's CPU went from 0.10–0.11
 *   to 0.05–0.07 s a minute without them (bench:idle --redis, the minute after activity's aftermath). Its
 *   first line (`PICLOUD-LANE 1 <token> <executor id> <window>`) proves it read the token from Redis (so a lane is
 *   trusted exactly as far as the Redis lists are) and grants a window: the invocations it will hold from that
 *   orchestrator at once. A reply returns its credit; `W <n>` grants a new window (an invocation waiting on
 *   kv:: or http::fetch holds no thread, and one waiting for its app's share waits for that app's threads only, so
 *   the executor makes room for more, as its list reader does).
 * - Framing: one message per line (JSON and the invocation wire format never hold a raw newline), all the messages of
 *   an event-loop turn in one write.
 * - A lane that closes (an executor killed with -9, a stopped process) fails the invocations in flight on it at once
 *   (502, "may or may not have run"), except those the executor said it holds unstarted; the executor heartbeat key
 *   still covers a peer that vanished without a close.
 * - Claims (an orchestrator that lists `claims` in its registration's fifth field; one of 0.4.5 registered four):
 *   `P <id>` from the executor, an invocation waits there unstarted (100 ms or more in its app's queue: pool.ts
 *   PARK_AFTER_MS); `C <id>`, it asks to start one, answered `K <id>` (start it) or `X <id>` (no longer pending:
 *   drop it unrun). A lane that closes sends the parked ones to another executor (lane-routing.ts) and refuses, on
 *   the executor's side, every claim not answered.
 *   An executor that stops gracefully first says `D` (draining: send nothing more), finishes what it holds, replies
 *   and closes.
 *
 * This module is the transport only (sockets, discovery, credits); redis-lists.ts owns invocations, deadlines and
 * results on both paths.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { LaneListen } from '../common/config.ts';
import type { StartGate } from './dispatch.ts';
import type { Logger } from '../common/log.ts';
import { rateLimitedWarn } from './redis-util.ts';

const MAGIC = 'PICLOUD-LANE 1';
/** the feature of an orchestrator whose lanes take claims (P, C; K, X) */
const CLAIMS = 'claims';
/** what an orchestrator's lanes understand beyond MAGIC's messages (its registration's fifth field, comma-separated) */
const FEATURES = CLAIMS;
/** a registration lapses this long after its last refresh (an orchestrator killed with -9 leaves one behind) */
const REGISTRATION_TTL_MS = 30_000;
const REFRESH_EVERY_MS = 10_000;
/** how often an executor reads the registrations without an announcement (a safety net: announcements are pub/sub) */
const DISCOVER_EVERY_MS = 30_000;
/** ... while some registered orchestrator has no lane from it (a dial failed, or it cannot dial that address) */
const RETRY_EVERY_MS = 2_000;
/** a lane that closed is looked for again this soon (its orchestrator may still be registered: a network blip) */
const REDIAL_AFTER_MS = 1_000;
const CONNECT_TIMEOUT_MS = 3_000;
/** a line longer than this (UTF-16 code units, no newline in sight) is a protocol error: the lane is closed */
const MAX_LINE_CHARS = 64 * 1024 * 1024;

export const lanesKey = (prefix: string) => `${prefix}:lanes`;
/** the pub/sub channel on which an orchestrator announces a new registration (message: its id) */
const announceChannel = (prefix: string) => `${prefix}:lanes:announce`;
/** executors that hold no lane to an orchestrator (sorted set, score: when the entry lapses) */
const withoutKey = (prefix: string, orch: string) => `${prefix}:lanes:without:${orch}`;
/** an executor says it has no lane to an orchestrator at most this often; the entry lapses after WITHOUT_TTL_MS */
const WITHOUT_EVERY_MS = 10_000;
const WITHOUT_TTL_MS = 30_000;

function advertisedHost(l: LaneListen): string {
  if (l.advertise) return l.advertise;
  if (l.host !== '0.0.0.0' && l.host !== '::') return l.host;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Splits a socket's text into lines (a message per line); false = protocol error (an over-long line). */
export function lineReader(onLine: (line: string) => void): (chunk: string) => boolean {
  let buf = '';
  return (chunk) => {
    let from = 0;
    let at = chunk.indexOf('\n');
    if (at < 0) {
      buf += chunk;
      return buf.length <= MAX_LINE_CHARS;
    }
    onLine(buf + chunk.slice(0, at));
    buf = '';
    from = at + 1;
    while ((at = chunk.indexOf('\n', from)) >= 0) {
      onLine(chunk.slice(from, at));
      from = at + 1;
    }
    buf = chunk.slice(from);
    return buf.length <= MAX_LINE_CHARS;
  };
}

/** Messages queued on a socket during one event-loop turn, written together at its end. */
class Outbox {
  private lines: string[] = [];
  private queued = false;
  constructor(private readonly socket: net.Socket) {}
  send(line: string): void {
    this.lines.push(line);
    if (!this.queued) {
      this.queued = true;
      setImmediate(this.flush);
    }
  }
  readonly flush = (): void => {
    this.queued = false;
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? this.lines[0]! + '\n' : this.lines.join('\n') + '\n';
    this.lines = [];
    if (!this.socket.destroyed) this.socket.write(text);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Orchestrator side

/** An executor's lane as its orchestrator sees it. */
export interface Lane {
  readonly executor: string;
  /** invocations sent on it and not answered yet, by id */
  readonly inFlight: Set<string>;
  window: number;
  /** the window of its greeting: the executor's room for running work, before any grown for work held aside */
  readonly granted: number;
  draining: boolean;
  /** invocations of `inFlight` the executor said wait there unstarted (`P`) and has not claimed (`C`) since */
  readonly parked: Set<string>;
}

export interface LaneServerOptions {
  listen: LaneListen;
  /** the Redis connection the registration is written with */
  redis: Redis;
  prefix: string;
  log: Logger;
  /** a line from an executor (a reply, see redis-lists.ts) */
  onLine: (lane: Lane, line: string) => void;
  /** a lane closed: what was in flight on it will not be answered */
  onClose: (lane: Lane) => void;
  /** a lane opened or granted room */
  onRoom: () => void;
}

export interface LaneServer {
  readonly address: string;
  /**
   * executor processes that said lately they hold no lane to this orchestrator (they cannot reach its address, or
   * run with PICLOUD_LANES=off): they take its work only from the Redis lists (read every 10 s)
   */
  without(): number;
  /** the lane with the most room, or null when none has any */
  pick(): Lane | null;
  send(lane: Lane, line: string): void;
  lanes(): number;
  close(): Promise<void>;
}

export async function startLaneServer(o: LaneServerOptions): Promise<LaneServer> {
  const id = randomUUID();
  const token = randomBytes(18).toString('base64url');
  type Open = Lane & { out: Outbox; socket: net.Socket };
  /** the open lanes (an array: pick runs per invocation) */
  let all: Open[] = [];
  let rr = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.setEncoding('utf8');
    let lane: Open | null = null;
    const hello = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT_MS);
    const read = lineReader((line) => {
      if (lane) {
        if (line === 'D') {
          lane.draining = true;
          return;
        }
        if (line.startsWith('W ')) {
          const w = Number(line.slice(2));
          if (Number.isInteger(w) && w >= 1) lane.window = w;
          o.onRoom();
          return;
        }
        o.onLine(lane, line);
        return;
      }
      const [m1, m2, t, executor, w] = line.split(' ');
      const window = Number(w);
      if (`${m1} ${m2}` !== MAGIC || t !== token || !executor || !Number.isInteger(window) || window < 1) {
        o.log.warn({ remote: socket.remoteAddress }, 'lane refused: bad greeting or token');
        socket.destroy();
        return;
      }
      clearTimeout(hello);
      lane = { executor, inFlight: new Set(), window, granted: window, draining: false, parked: new Set(), out: new Outbox(socket), socket };
      all = [...all, lane];
      o.log.debug({ executor }, 'lane open');
      o.onRoom();
    });
    socket.on('data', (chunk: string) => {
      if (!read(chunk)) {
        o.log.warn({ executor: lane?.executor }, 'lane closed: over-long message');
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(hello);
      if (!lane) return;
      const closed = lane;
      all = all.filter((l) => l !== closed);
      o.onClose(closed);
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.listen.port, o.listen.host, () => {
      server.off('error', rej);
      res();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const address = hostPort(advertisedHost(o.listen), port);
  // the fifth field lists what this orchestrator understands beyond the first protocol: `claims` (P, C; K, X), which
  // an executor uses only when it is listed (an orchestrator of 0.4.5 registered four fields)
  const member = `${id} ${address} ${token} ${os.hostname()} ${FEATURES}`;
  const key = lanesKey(o.prefix);
  const warn = rateLimitedWarn(o.log, 'lane registration failed; executors fall back to the Redis lists');
  let without = 0;
  const register = async () => {
    try {
      const now = Date.now();
      const wk = withoutKey(o.prefix, id);
      const [added, n] = await Promise.all([o.redis.zadd(key, now + REGISTRATION_TTL_MS, member), o.redis.zcount(wk, now, '+inf')]);
      // new to the set (this start, or Redis lost the set): executors read it now rather than at their next look
      if (Number(added) > 0) await o.redis.publish(announceChannel(o.prefix), id);
      if (n > 0 && without === 0) {
        o.log.warn({ address, executors: n }, 'executor processes hold no lane to this orchestrator (they cannot reach its address, or run with PICLOUD_LANES=off): invocations that wait for a lane go to them over the Redis lists; set PICLOUD_LANES to an address every executor can reach');
      }
      without = n;
    } catch (err) {
      warn(err);
    }
  };
  await register();
  const refresh = setInterval(() => void register(), REFRESH_EVERY_MS);
  refresh.unref();
  o.log.info({ address }, 'lanes listening');

  return {
    address,
    pick() {
      let best: Lane | null = null;
      let room = 0;
      const n = all.length;
      // round-robin start so equal lanes share the load. While some executors hold no lane here, a lane's window
      // grown for work held aside (waiting on I/O, or for its app's share) is not used: what exceeds the executors'
      // room for running work waits, then spills to the lists, where those executors take it too
      for (let i = 0; i < n; i++) {
        const l = all[(rr + i) % n]!;
        const r = l.draining ? 0 : (without > 0 ? Math.min(l.window, l.granted) : l.window) - l.inFlight.size;
        if (r > room) {
          room = r;
          best = l;
        }
      }
      rr++;
      return best;
    },
    send(lane, line) {
      (lane as Open).out.send(line);
    },
    lanes: () => all.length,
    without: () => without,
    async close() {
      clearInterval(refresh);
      await Promise.all([o.redis.zrem(key, member), o.redis.del(withoutKey(o.prefix, id))]).catch(() => {});
      server.close();
      for (const l of all) {
        l.out.flush();
        l.socket.end();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Executor side

/** A lane as its executor sees it: where an invocation's reply goes. */
export interface LaneReply {
  send(line: string): void;
  /**
   * the StartGate of the invocations that came on this lane, or null when its orchestrator does not take claims (then
   * a kill -9 of this process fails what it held unstarted with 502, as it did before)
   */
  gate: StartGate | null;
}

export interface LaneClientOptions {
  /** a (non-blocking) Redis connection to read the registrations with (duplicated for the announcements) */
  redis: Redis;
  prefix: string;
  executor: string;
  /** invocations this executor holds at once from one orchestrator (to begin with; see LaneClients.window) */
  window: number;
  log: Logger;
  /** an invocation line from an orchestrator */
  onLine: (lane: LaneReply, line: string) => void;
  /** dial the orchestrators (default true); false: only say it holds no lane to them (PICLOUD_LANES=off) */
  dial?: boolean;
}

export interface LaneClients {
  lanes(): number;
  /** grant every lane a new window (`W <n>`: invocations waiting on I/O hold no thread, so there is room for more) */
  window(n: number): void;
  /** say `D` on every lane (send nothing more); replies still go out until close */
  drain(): void;
  close(): void;
}

/**
 * An executor's claims on one lane: `C <id>` asked once per id (a second claim of it shares the answer), answered
 * `K <id>` (start it) or `X <id>` (do not); every claim not answered is refused once the lane closes.
 */
class LaneClaims {
  private readonly asked = new Map<string, (ok: boolean) => void>();
  private ended = false;
  constructor(private readonly out: Outbox) {}

  readonly claim = (id: string): Promise<boolean> => new Promise<boolean>((res) => {
    if (this.ended) return res(false);
    const prev = this.asked.get(id);
    if (prev) return this.asked.set(id, (ok) => (prev(ok), res(ok)));
    this.asked.set(id, res);
    this.out.send(`C ${id}`);
  });

  /** a line from the orchestrator: true when it was a claim's answer (taken here) */
  answer(line: string): boolean {
    const c = line.charCodeAt(0);
    if ((c !== 75 && c !== 88) || line.charCodeAt(1) !== 32) return false; // 'K ' / 'X '
    const id = line.slice(2);
    const f = this.asked.get(id);
    this.asked.delete(id);
    f?.(c === 75);
    return true;
  }

  close(): void {
    this.ended = true;
    for (const f of this.asked.values()) f(false);
    this.asked.clear();
  }
}

/**
 * `markWithout(orch)`: tell an orchestrator that this executor holds no lane to it (so it sends this executor's share
 * of its work over the lists), at most every WITHOUT_EVERY_MS per orchestrator.
 */
function withoutNotices(o: LaneClientOptions, warn: (err: unknown) => void): (orch: string) => void {
  /** when this executor last told each orchestrator it holds no lane to it */
  const saidWithout = new Map<string, number>();
  return (orch) => {
    const now = Date.now();
    if (now - (saidWithout.get(orch) ?? -Infinity) < WITHOUT_EVERY_MS) return;
    if (saidWithout.size > 1024) saidWithout.clear();
    saidWithout.set(orch, now);
    const k = withoutKey(o.prefix, orch);
    o.redis.multi().zadd(k, now + WITHOUT_TTL_MS, o.executor).zremrangebyscore(k, '-inf', now).pexpire(k, 2 * WITHOUT_TTL_MS).exec().catch(warn);
  };
}

export function startLaneClients(o: LaneClientOptions): LaneClients {
  const key = lanesKey(o.prefix);
  const open = new Map<string, { socket: net.Socket; out: Outbox }>();
  const dialing = new Set<string>();
  const failedOnce = new Set<string>();
  let closed = false;
  let draining = false;
  let window = o.window;
  const warn = rateLimitedWarn(o.log, 'lane discovery failed; invocations reach this executor over the Redis lists');
  const markWithout = withoutNotices(o, warn);

  const dial = (orch: string, address: string, token: string, claims: boolean) => {
    const m = /^\[?(.*?)\]?:(\d+)$/.exec(address);
    if (!m) return;
    dialing.add(orch);
    const socket = net.connect({ host: m[1]!, port: Number(m[2]) });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.setEncoding('utf8');
    const timer = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT_MS);
    const out = new Outbox(socket);
    const asked = new LaneClaims(out);
    const lane: LaneReply = {
      send: (line) => out.send(line),
      gate: claims ? { park: (id) => out.send(`P ${id}`), claim: asked.claim } : null,
    };
    const read = lineReader((line) => {
      if (!asked.answer(line)) o.onLine(lane, line);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      dialing.delete(orch);
      if (closed) return socket.destroy();
      open.set(orch, { socket, out });
      failedOnce.delete(orch);
      socket.write(`${MAGIC} ${token} ${o.executor} ${window}\n${draining ? 'D\n' : ''}`);
      o.log.debug({ orchestrator: address }, 'lane open');
    });
    socket.on('data', (chunk: string) => {
      if (!read(chunk)) socket.destroy();
    });
    socket.on('error', (err) => {
      if (open.has(orch)) return;
      markWithout(orch);
      if (!failedOnce.has(orch)) {
        failedOnce.add(orch);
        o.log.warn({ orchestrator: address, err: err.message }, 'cannot open a lane to this orchestrator; its invocations reach this executor over the Redis lists');
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      dialing.delete(orch);
      asked.close();
      if (open.get(orch)?.socket === socket) {
        open.delete(orch);
        discoverIn(REDIAL_AFTER_MS);
      } else discoverIn(RETRY_EVERY_MS);
    });
  };

  let nextRead: NodeJS.Timeout | null = null;
  let nextReadAt = 0;
  /** read the registrations in `ms` (a sooner read replaces a later one; every read arms the next) */
  const discoverIn = (ms: number) => {
    if (closed || draining) return;
    if (nextRead && nextReadAt <= Date.now() + ms) return;
    if (nextRead) clearTimeout(nextRead);
    nextReadAt = Date.now() + ms;
    nextRead = setTimeout(() => {
      nextRead = null;
      void discover();
    }, ms);
    nextRead.unref();
  };
  let reading = false;
  let again = false;
  const discover = async (): Promise<void> => {
    if (closed || draining) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    /** the next read: sooner while a registered orchestrator has no lane from this executor */
    let next = DISCOVER_EVERY_MS;
    try {
      const now = Date.now();
      const members = await o.redis.zrangebyscore(key, now, '+inf');
      for (const m of members) {
        const [orch, address, token, host, features] = m.split(' ');
        if (!orch || !address || !token || open.has(orch)) continue;
        // a loopback address is another machine's own: only an executor on that machine can dial it
        if (o.dial === false || (host !== os.hostname() && /^(127\.|\[::1\]|localhost)/.test(address))) {
          // it will not dial: it only says so again before that entry lapses
          markWithout(orch);
          next = Math.min(next, WITHOUT_EVERY_MS);
        } else {
          next = RETRY_EVERY_MS;
          if (!dialing.has(orch)) dial(orch, address, token, features?.split(',').includes(CLAIMS) === true);
        }
      }
      // registrations of orchestrators that died without removing theirs
      if (Math.random() < 0.1) await o.redis.zremrangebyscore(key, '-inf', now);
    } catch (err) {
      next = RETRY_EVERY_MS;
      warn(err);
    } finally {
      reading = false;
    }
    if (again) {
      again = false;
      return discover();
    }
    discoverIn(next);
  };
  // announcements of new registrations; on every (re)connect, a read (what was announced meanwhile is in the set)
  const sub = o.redis.duplicate();
  sub.on('error', () => {});
  sub.on('ready', () => void discover());
  sub.on('message', () => void discover());
  sub.subscribe(announceChannel(o.prefix)).catch(warn);
  void discover();

  return {
    lanes: () => open.size,
    window(n) {
      window = n;
      for (const l of open.values()) l.out.send(`W ${n}`);
    },
    drain() {
      draining = true;
      for (const l of open.values()) l.out.send('D');
    },
    close() {
      closed = true;
      if (nextRead) clearTimeout(nextRead);
      sub.disconnect();
      for (const l of open.values()) {
        l.out.flush();
        l.socket.end();
      }
      open.clear();
    },
  };
}
