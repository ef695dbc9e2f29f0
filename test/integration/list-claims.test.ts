/**
 * The executor's side of claims on the Redis lists (src/queue/redis-lists.ts ListClaims) against the real Redis: a
 * park sets `<prefix>:park:<id>` to the executor's id (the parks of one turn in one pipeline), a claim takes the key
 * (GETDEL) and starts the invocation when it finds its own id or nothing (Redis lost the key), not when an orchestrator
 * swapped it for `taken-back` (it sent the invocation elsewhere: the answer is not sent either) or another executor
 * parked it; two claims of one id share one GETDEL and a task claimed again after it was granted is granted again, a
 * claim that comes before its park was sent wins without any key, and a parked task that ends unclaimed has its key
 * deleted (a stale key would let an orchestrator take a later run of that id for an unstarted one). The whole path
 * with real executor processes: redis-lists.test.ts (kill -9, graceful stop).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ListClaims } from '../../src/queue/redis-lists.ts';
import { redisConnection } from '../../src/queue/redis-util.ts';
import { TEST_REDIS_URL } from '../helpers/db.ts';
import { waitFor } from '../helpers/releases.ts';

describe('claims on the Redis lists (ListClaims)', () => {
  const prefix = `pctest-claims-${randomBytes(4).toString('hex')}`;
  const redis = redisConnection(TEST_REDIS_URL);
  const claims = new ListClaims(redis, prefix, 'exec-1');
  const key = (id: string) => `${prefix}:park:${id}`;
  const sent = () => new Promise((r) => setImmediate(r));
  /** park `id` and wait until its key is in Redis */
  const parked = async (id: string) => {
    claims.park(id);
    await sent();
    await waitFor(async () => (await redis.exists(key(id))) === 1, 2000, `park key ${id}`);
  };
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it("should set a park key, and start the invocation only when the key still holds its id", async () => {
    claims.park('a');
    claims.park('b');
    await sent();
    await waitFor(async () => (await redis.exists(key('a'), key('b'))) === 2, 2000, 'park keys');
    expect(await redis.get(key('a'))).toBe('exec-1');
    expect(await redis.pttl(key('a'))).toBeGreaterThan(60_000);
    expect(await claims.claim('a')).toBe(true);
    expect(await redis.exists(key('a'))).toBe(0);
    expect(claims.ended('a')).toBe(true);
    // the orchestrator of a vanished executor swapped b's key first (failVanished): b goes elsewhere, its answer is
    // not sent
    expect(await redis.call('SET', key('b'), 'taken-back', 'PX', '60000', 'GET')).toBe('exec-1');
    expect(await claims.claim('b')).toBe(false);
    expect(claims.ended('b')).toBe(false);
  });

  it('should start an invocation whose park key Redis lost, and not one another executor parked', async () => {
    await parked('g');
    await redis.del(key('g')); // as a Redis restarted without its data
    expect(await claims.claim('g')).toBe(true);
    expect(claims.ended('g')).toBe(true);
    await parked('h');
    await redis.set(key('h'), 'exec-2'); // sent elsewhere and parked there meanwhile
    expect(await claims.claim('h')).toBe(false);
    expect(claims.ended('h')).toBe(false);
  });

  it('should share one GETDEL between two claims of one id, and grant a task claimed again after it was granted', async () => {
    await parked('c');
    const [x, y] = await Promise.all([claims.claim('c'), claims.claim('c')]);
    expect([x, y]).toEqual([true, true]);
    // its thread was retired before it started: it is claimed again from its app's queue
    expect(await claims.claim('c')).toBe(true);
    expect(claims.ended('c')).toBe(true);
  });

  it('should grant a claim that comes before its park was sent, without any key', async () => {
    claims.park('d');
    expect(await claims.claim('d')).toBe(true);
    await sent();
    await new Promise((r) => setTimeout(r, 50));
    expect(await redis.exists(key('d'))).toBe(0);
    expect(claims.ended('d')).toBe(true);
  });

  it('should delete the key of a parked invocation that ends unclaimed (handed back, out of time)', async () => {
    await parked('e');
    expect(claims.ended('e')).toBe(true);
    await waitFor(async () => (await redis.exists(key('e'))) === 0, 2000, 'park key deleted');
    // an invocation never parked leaves nothing to delete and its answer goes out
    expect(claims.ended('f')).toBe(true);
  });
});
