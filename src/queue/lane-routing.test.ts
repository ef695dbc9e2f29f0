import { describe, expect, it } from 'vitest';
import { AppFifos } from './lane-routing.ts';

const w = (id: string, at = 0) => ({ id, raw: `raw-${id}`, at });

describe('AppFifos', () => {
  it('should serve the apps round-robin, each in its own arrival order', () => {
    const q = new AppFifos();
    for (const id of ['a1', 'a2', 'a3', 'a4']) q.push(1, w(id));
    q.push(2, w('b1'));
    q.push(3, w('c1'));
    q.push(3, w('c2'));
    const out: string[] = [];
    q.serve(() => true, (x) => (out.push(x.id), true));
    expect(out).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3', 'a4']);
    expect(q.size).toBe(0);
  });

  it('should stop when there is no room and start the next time where the turn was', () => {
    const q = new AppFifos();
    for (const id of ['a1', 'a2', 'a3']) q.push(1, w(id));
    q.push(2, w('b1'));
    const out: string[] = [];
    let room = 1;
    const take = (x: { id: string }) => (room > 0 ? (room--, out.push(x.id), true) : false);
    q.serve(() => true, take);
    expect(out).toEqual(['a1']);
    // a newcomer waits behind the apps already waiting, not behind the flood of the first
    q.push(3, w('c1'));
    room = 2;
    q.serve(() => true, take);
    expect(out).toEqual(['a1', 'b1', 'a2']);
    room = 10;
    q.serve(() => true, take);
    expect(out).toEqual(['a1', 'b1', 'a2', 'c1', 'a3']);
  });

  it('should skip those answered meanwhile without taking room for them', () => {
    const q = new AppFifos();
    for (const id of ['a1', 'a2', 'a3']) q.push(1, w(id));
    const gone = new Set(['a1', 'a2']);
    const out: string[] = [];
    q.serve((x) => !gone.has(x.id), (x) => (out.push(x.id), true));
    expect(out).toEqual(['a3']);
    expect(q.size).toBe(0);
  });

  it("should take what waited long enough, each app's oldest first, and tell the oldest still waiting", () => {
    const q = new AppFifos();
    q.push(1, w('a1', 5));
    q.push(1, w('a2', 20));
    q.push(2, w('b1', 8));
    q.push(2, w('b2', 30));
    expect(q.oldest(() => true)).toBe(5);
    const out: string[] = [];
    q.takeOlder(10, () => true, (x) => out.push(x.id));
    expect(out).toEqual(['a1', 'b1']);
    expect(q.oldest(() => true)).toBe(20);
    expect(q.oldest((x) => x.id !== 'a2')).toBe(30);
    expect(q.clear().map((x) => x.id)).toEqual(['b2']);
    expect(q.size).toBe(0);
    expect(q.oldest(() => true)).toBeNull();
  });

  it('should keep its order across compaction of a long FIFO', () => {
    const q = new AppFifos();
    for (let i = 0; i < 3000; i++) q.push(1, w(String(i)));
    const out: string[] = [];
    q.serve(() => true, (x) => (out.length < 2500 ? (out.push(x.id), true) : false));
    q.serve(() => true, (x) => (out.push(x.id), true));
    expect(out).toEqual(Array.from({ length: 3000 }, (_, i) => String(i)));
  });
});
