import { describe, expect, it } from 'vitest';
import { Exposition, flattenStats } from './metrics.ts';

describe('metrics', () => {
  it('should write HELP/TYPE once per family and escape label values', () => {
    const x = new Exposition()
      .family('a_total', 'counter', 'A.')
      .sample('a_total', 1, { app: 'x"y\\z\n' })
      .family('a_total', 'counter', 'A.')
      .sample('a_total', 2, { app: 'b' });
    expect(x.toString()).toBe('# HELP a_total A.\n# TYPE a_total counter\na_total{app="x\\"y\\\\z\\n"} 1\na_total{app="b"} 2\n');
  });
  it('should flatten numeric stats with snake_case names', () => {
    expect(flattenStats({ queueDepth: 3, pool: { busyWorkers: 1, ok: true }, name: 'x', list: [1] })).toEqual([
      ['queue_depth', 3],
      ['pool_busy_workers', 1],
      ['pool_ok', 1],
    ]);
  });
});
