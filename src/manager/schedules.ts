/**
 * Schedules from `[[schedules]]` of each live release. Two drivers behind one interface:
 *  - timers (embedded mode): one croner job per live schedule (UTC, `protect` so a slow tick never overlaps
 *    the next), each tick dispatched to the executor pool; a tick queued while a thread restarts waits in the pool.
 *  - BullMQ job schedulers (REDIS_URL): `upsertJobScheduler` per (app, branch, idx, content hash) on the invoke
 *    queue; BullMQ gives every tick its own job id (`repeat:<scheduler>:<millis>`), so a tick is not run twice,
 *    and a tick whose executor is restarting waits in Redis.
 * `replace(app, branch, specs)` swaps a branch's schedules for the new release's (called on each release switch,
 * with an empty list when the branch is removed); `replaceAll` reconciles everything (start, LISTEN reconnect, and
 * in Redis mode each Redis reconnect, since a restarted Redis may have lost every scheduler).
 */
import { createHash } from 'node:crypto';
import { Cron } from 'croner';
import type { Queue } from 'bullmq';
import type { Logger } from '../common/log.ts';
import type { Dispatcher } from '../queue/dispatch.ts';
import type { InvocationTarget } from '../queue/jobs.ts';
import type { QueueJobData } from '../queue/bullmq.ts';

export interface ScheduleSpec {
  idx: number;
  cron: string;
  target: InvocationTarget;
}

export interface ScheduleDriver {
  replace(app: string, branch: string, specs: ScheduleSpec[]): Promise<void>;
  replaceAll(all: { app: string; branch: string; specs: ScheduleSpec[] }[]): Promise<void>;
  count(): number;
  close(): Promise<void>;
}

const key = (app: string, branch: string) => `${app}\u0000${branch}`;
let tickSeq = 0;

/** In-process croner timers dispatching to `dispatcher`. */
export function createTimerSchedules(dispatcher: Dispatcher, log: Logger): ScheduleDriver {
  const byBranch = new Map<string, Cron[]>();
  const stopBranch = (k: string) => {
    for (const c of byBranch.get(k) ?? []) c.stop();
    byBranch.delete(k);
  };
  const start = (app: string, branch: string, specs: ScheduleSpec[]) => {
    const k = key(app, branch);
    stopBranch(k);
    const crons: Cron[] = [];
    for (const s of specs) {
      try {
        const c: Cron = new Cron(s.cron, { timezone: 'UTC', protect: true, catch: true }, async (self: Cron) => {
          const at = self.currentRun()?.getTime() ?? Date.now();
          const scheduledAt = Math.floor(at / 1000) * 1000;
          try {
            const r = await dispatcher.invoke({ kind: 'schedule', id: `tick-${(tickSeq++).toString(36)}`, target: s.target, cron: s.cron, scheduledAt });
            if (r.status >= 500) log.warn({ app, branch, cron: s.cron, status: r.status }, 'schedule tick failed');
          } catch (err) {
            log.warn({ err, app, branch, cron: s.cron }, 'schedule tick not dispatched');
          }
        });
        crons.push(c);
      } catch (err) {
        log.error({ err, app, branch, cron: s.cron }, 'invalid cron expression in a live release');
      }
    }
    if (crons.length) byBranch.set(k, crons);
  };
  return {
    async replace(app, branch, specs) {
      start(app, branch, specs);
    },
    async replaceAll(all) {
      for (const k of [...byBranch.keys()]) stopBranch(k);
      for (const b of all) start(b.app, b.branch, b.specs);
    },
    count: () => [...byBranch.values()].reduce((n, a) => n + a.length, 0),
    async close() {
      for (const k of [...byBranch.keys()]) stopBranch(k);
    },
  };
}

/** Scheduler id: (app, branch, idx) plus a hash of what runs, so a changed release replaces the scheduler. */
function schedulerId(app: string, branch: string, s: ScheduleSpec): string {
  const h = createHash('sha1').update(JSON.stringify([s.cron, s.target])).digest('hex').slice(0, 12);
  return `${app}|${branch}|${s.idx}|${h}`;
}

/** BullMQ job schedulers on the invoke queue. */
export function createBullmqSchedules(queue: Queue, log: Logger): ScheduleDriver {
  let n = 0;
  let chain: Promise<void> = Promise.resolve();
  const serial = (f: () => Promise<void>) => {
    const p = chain.then(f);
    chain = p.catch((err) => log.error({ err }, 'schedule update failed'));
    return p;
  };
  const existing = async () => (await queue.getJobSchedulers(0, -1)).map((s) => s.key);
  const upsert = async (app: string, branch: string, s: ScheduleSpec) => {
    const data: QueueJobData = { type: 'tick', target: s.target, cron: s.cron };
    await queue.upsertJobScheduler(schedulerId(app, branch, s), { pattern: s.cron, tz: 'UTC' }, {
      name: 'schedule',
      data,
      opts: { removeOnComplete: true, removeOnFail: { count: 100 }, attempts: 3, backoff: { type: 'fixed', delay: 1000 } },
    });
  };
  const apply = async (want: { app: string; branch: string; specs: ScheduleSpec[] }[], scope: ((id: string) => boolean) | null) => {
    const desired = new Map<string, { app: string; branch: string; s: ScheduleSpec }>();
    for (const b of want) for (const s of b.specs) desired.set(schedulerId(b.app, b.branch, s), { app: b.app, branch: b.branch, s });
    const have = await existing();
    for (const id of have) {
      if ((scope === null || scope(id)) && !desired.has(id)) await queue.removeJobScheduler(id);
    }
    for (const [id, d] of desired) {
      if (!have.includes(id)) await upsert(d.app, d.branch, d.s);
    }
    n = (await existing()).length;
  };
  return {
    replace(app, branch, specs) {
      const prefix = `${app}|${branch}|`;
      return serial(() => apply([{ app, branch, specs }], (id) => id.startsWith(prefix)));
    },
    replaceAll(all) {
      return serial(() => apply(all, null));
    },
    count: () => n,
    async close() {
      // pending updates wait on Redis; an unreachable Redis must not hold shutdown (replaceAll runs on restart)
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([chain.catch(() => {}), new Promise<void>((res) => { timer = setTimeout(res, 2000); })]);
      clearTimeout(timer);
    },
  };
}
