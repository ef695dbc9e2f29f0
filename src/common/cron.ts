/**
 * The one cron dialect (architecture.md §5): cron-parser 5.10.3, the exact parser BullMQ 6.7.0's job schedulers
 * call (`CronExpressionParser.parse(pattern, { tz, currentDate })`). A push is validated with `checkCron`, and the
 * embedded timers and the BullMQ catch-up use `nextCronTime`, so what a push accepts is what runs. 5 fields, or 6
 * with leading seconds, UTC. `H` (cron-parser's hashed/random value) is refused: it would pick a different time
 * each time the expression is parsed.
 */
import { CronExpressionParser } from 'cron-parser';

/** Why `expr` is not an acceptable cron expression, or null when it is. */
export function checkCron(expr: string): string | null {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `invalid cron "${expr}": expected 5 fields (minute hour day month weekday) or 6 with leading seconds, got ${fields.length}`;
  }
  // month and weekday names (JAN, THU…) may contain an H; a lone H (or H(…)) is the hashed form
  if (/h/i.test(expr.replace(/[A-Za-z]{3}/g, ''))) return `invalid cron "${expr}": "H" (hashed values) is not supported`;
  try {
    CronExpressionParser.parse(expr, { tz: 'UTC' });
    return null;
  } catch (e) {
    return `invalid cron "${expr}": ${(e as Error).message}`;
  }
}

/** The first occurrence of `expr` strictly after `after` (unix ms, UTC), or null when there is none. */
export function nextCronTime(expr: string, after: number): number | null {
  try {
    return CronExpressionParser.parse(expr, { tz: 'UTC', currentDate: new Date(after) }).next().getTime();
  } catch {
    return null;
  }
}
