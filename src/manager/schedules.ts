/**
 * Schedules from `[[schedules]]` of each live release. Two drivers behind one interface:
 *  - timers (embedded mode): one timer per live schedule, next time from cron-parser (common/cron.ts: the dialect
 *    the push was validated with), each tick dispatched to the executor pool; with `overlap = false` (default) a
 *    tick due while the previous run is still running is skipped and recorded in the invocation log.
 *  - BullMQ job schedulers (REDIS_URL): `upsertJobScheduler` per (app, branch, idx, content hash) on the invoke
 *    queue; BullMQ gives every tick its own job id (`repeat:<scheduler>:<millis>`), so a tick is not run twice,
 *    and a tick whose executor is restarting waits in Redis.
 * `replace(app, branch, specs)` swaps a branch's schedules for the new release's (called on each release switch,
 * with an empty list when the branch is removed); `replaceAll` reconciles everything (start, LISTEN reconnect, and
 * in Redis mode each Redis reconnect, since a restarted Redis may have lost every scheduler).
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { nextCronTime } from '../common/cron.ts';
import type { Logger } from '../common/log.ts';
import type { InvocationRow } from '../db/invocation-row.ts';
import type { Dispatcher } from '../queue/dispatch.ts';
import type { InvocationTarget } from '../queue/jobs.ts';
import type { TickData } from '../queue/bullmq.ts';
import { FAILING_AFTER, SKIPPED_ERROR, SKIPPED_STATUS, failingRow, scheduleNoticeRow } from '../queue/schedule-rows.ts';

export interface ScheduleSpec {
  idx: number;
  cron: string;
  /** false: a tick due while the previous run of this schedule is still running is skipped and recorded */
  overlap: boolean;
  target: InvocationTarget;
}

export interface ScheduleDriver {
  replace(app: string, branch: string, specs: ScheduleSpec[]): Promise<void>;
  replaceAll(all: { app: string; branch: string; specs: ScheduleSpec[] }[]): Promise<void>;
  count(): number;
  close(): Promise<void>;
}

export { FAILING_AFTER, SKIPPED_ERROR, SKIPPED_STATUS, scheduleNoticeRow, failingRow };

const key = (app: string, branch: string) => `${app}\u0000${branch}`;
let tickSeq = 0;
/** setTimeout's maximum delay; a later tick is reached in steps */
const MAX_DELAY = 2 ** 31 - 1;

interface TimerSchedule {
  stop(): void;
}

/**
 * One schedule on in-process timers: the next occurrence from cron-parser (the dialect a push is validated with),
 * one setTimeout at a time (nothing runs between ticks), overlap handled here.
 */
function startTimer(s: ScheduleSpec, dispatcher: Dispatcher, record: (row: InvocationRow) => void, log: Logger): TimerSchedule {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let running = 0;
  let failures = 0;
  const arm = (after: number) => {
    if (stopped) return;
    const at = nextCronTime(s.cron, after);
    if (at === null) return;
    const wait = at - Date.now();
    timer = setTimeout(() => (wait > MAX_DELAY ? arm(after) : fire(at)), Math.min(Math.max(0, wait), MAX_DELAY));
  };
  const fire = (at: number) => {
    if (stopped) return;
    // the next tick from this one, so none is lost to timer drift (a tick more than a minute late is not caught up)
    arm(Math.max(at, Date.now() - 60_000));
    if (running > 0 && !s.overlap) {
      record(scheduleNoticeRow(s.target, s.cron, SKIPPED_STATUS, SKIPPED_ERROR));
      return;
    }
    running++;
    dispatcher.invoke({ kind: 'schedule', id: `tick-${(tickSeq++).toString(36)}`, target: s.target, cron: s.cron, scheduledAt: at })
      .then((r) => {
        if (r.status < 500) {
          failures = 0;
          return;
        }
        log.warn({ app: s.target.app, branch: s.target.branch, cron: s.cron, status: r.status }, 'schedule tick failed');
        if (++failures === FAILING_AFTER) record(failingRow(s.target, s.cron, r));
      })
      .catch((err: unknown) => log.warn({ err, app: s.target.app, branch: s.target.branch, cron: s.cron }, 'schedule tick not dispatched'))
      .finally(() => { running--; });
  };
  arm(Date.now());
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** In-process timers dispatching to `dispatcher`; skipped ticks and failing streaks go to `record`. */
export function createTimerSchedules(dispatcher: Dispatcher, log: Logger, record: (row: InvocationRow) => void = () => {}): ScheduleDriver {
  const byBranch = new Map<string, TimerSchedule[]>();
  const stopBranch = (k: string) => {
    for (const c of byBranch.get(k) ?? []) c.stop();
    byBranch.delete(k);
  };
  const start = (app: string, branch: string, specs: ScheduleSpec[]) => {
    const k = key(app, branch);
    stopBranch(k);
    const timers = specs.map((s) => startTimer(s, dispatcher, record, log));
    if (timers.length) byBranch.set(k, timers);
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
    const data: TickData = { type: 'tick', target: s.target, cron: s.cron, overlap: s.overlap };
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
