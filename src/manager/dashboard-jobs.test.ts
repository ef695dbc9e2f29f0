import { describe, expect, it } from 'vitest';
import { isFailing, runsHtml } from './dashboard-jobs.ts';

const run = (status: number) => ({ status, error: status >= 500 ? 'boom' : null, at: new Date().toISOString() });

describe('schedule last runs', () => {
  it('should mark a schedule failing after 3 failed runs in a row, skips aside', () => {
    expect(isFailing([run(500), run(409), run(500), run(504)])).toBe(true);
    expect(isFailing([run(500), run(500), run(200)])).toBe(false);
    expect(isFailing([run(500), run(500)])).toBe(false);
    const h = runsHtml([run(500), run(409), run(500), run(500), run(200)]).value;
    expect(h).toContain('failing');
    expect(h.match(/>skipped</g)).toHaveLength(1);
    expect(h.match(/>failed</g)).toHaveLength(3);
    expect(h.match(/>ok</g)).toHaveLength(1);
    expect(runsHtml(undefined).value).toContain('no runs yet');
  });
});
