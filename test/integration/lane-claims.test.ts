/**
 * The executor's side of lane claims (src/queue/lanes.ts), against a hand-made orchestrator on a raw socket and the
 * real Redis: an executor offers a StartGate only on a lane whose orchestrator registered `claims` (one of 0.4.5
 * registered four fields and would never answer a claim), a claim asks `C <id>` once and resolves with `K`/`X`, and
 * a lane that closes resolves every unanswered claim false (the invocation is dropped unrun: its orchestrator sent it
 * elsewhere, or answers it 502). The whole path with real executor processes: lanes.test.ts (kill -9).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.ts';
import { startLaneClients, lanesKey, lineReader, type LaneClients, type LaneReply } from '../../src/queue/lanes.ts';
import { redisConnection } from '../../src/queue/redis-util.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { waitFor } from '../helpers/releases.ts';

/** An orchestrator's lane listener that records what executors say and lets the test answer. */
async function fakeOrchestrator(): Promise<{ port: number; token: string; lines: string[]; sockets: net.Socket[]; close(): void }> {
  const token = randomBytes(12).toString('base64url');
  const lines: string[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.setEncoding('utf8');
    const read = lineReader((l) => lines.push(l));
    s.on('data', (d: string) => read(d));
    s.on('error', () => {});
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: (server.address() as net.AddressInfo).port, token, lines, sockets,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('lane claims, the executor side', () => {
  const prefix = `pcclaims${randomBytes(4).toString('hex')}`;
  const redis = redisConnection(TEST_REDIS_URL);
  const clients: LaneClients[] = [];
  const orchestrators: { close(): void }[] = [];

  /** an orchestrator registered with `features` (null: the four fields of 0.4.5), and an executor that dials it */
  async function laneTo(features: string | null): Promise<{ orch: Awaited<ReturnType<typeof fakeOrchestrator>>; lane: () => LaneReply | null }> {
    // one executor and one registration at a time: an executor dials every registered orchestrator
    for (const c of clients.splice(0)) c.close();
    await redis.del(lanesKey(prefix));
    const orch = await fakeOrchestrator();
    orchestrators.push(orch);
    const member = `${randomUUID()} 127.0.0.1:${orch.port} ${orch.token} ${os.hostname()}${features === null ? '' : ` ${features}`}`;
    await redis.zadd(lanesKey(prefix), Date.now() + 60_000, member);
    let lane: LaneReply | null = null;
    const c = startLaneClients({ redis, prefix, executor: `ex-${clients.length}`, window: 4, log: silentLogger, onLine: (l) => (lane = l) });
    clients.push(c);
    await waitFor(() => orch.lines.some((l) => l.startsWith(`PICLOUD-LANE 1 ${orch.token} `)), 10_000, 'the executor greets the orchestrator');
    // an invocation line: the executor hands it to onLine with the lane it came on
    orch.sockets[0]!.write('=\tinvocation\n');
    await waitFor(() => lane !== null, 5000, 'an invocation reaches the executor');
    return { orch, lane: () => lane };
  }

  beforeAll(async () => {
    await redis.ping();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const o of orchestrators) o.close();
    await redis.del(lanesKey(prefix));
    redis.disconnect();
  });

  it('should offer no gate on a lane whose orchestrator does not take claims', async () => {
    const { lane } = await laneTo(null);
    expect(lane()!.gate).toBeNull();
  }, 30_000);

  it('should park, claim once, and start only on K', async () => {
    const { orch, lane } = await laneTo('claims');
    const gate = lane()!.gate!;
    gate.park('inv-1');
    await waitFor(() => orch.lines.includes('P inv-1'), 5000, 'P');
    const first = gate.claim('inv-1');
    const second = gate.claim('inv-1');
    await waitFor(() => orch.lines.includes('C inv-1'), 5000, 'C');
    orch.sockets.at(-1)!.write('K inv-1\n');
    expect(await Promise.all([first, second])).toEqual([true, true]);
    // asked once for both
    expect(orch.lines.filter((l) => l === 'C inv-1')).toHaveLength(1);
    const refused = gate.claim('inv-2');
    await waitFor(() => orch.lines.includes('C inv-2'), 5000, 'C');
    orch.sockets.at(-1)!.write('X inv-2\n');
    expect(await refused).toBe(false);
  }, 30_000);

  it('should refuse every unanswered claim when the lane closes, and later ones at once', async () => {
    const { orch, lane } = await laneTo('claims,later-feature');
    const l = lane()!;
    const pending = l.gate!.claim('inv-3');
    await waitFor(() => orch.lines.includes('C inv-3'), 5000, 'C');
    orch.sockets.at(-1)!.destroy();
    expect(await pending).toBe(false);
    expect(await l.gate!.claim('inv-4')).toBe(false);
  }, 30_000);
});
