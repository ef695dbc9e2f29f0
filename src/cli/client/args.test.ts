import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from './args.ts';
import { table } from './io.ts';

const spec = { values: { app: 'a', branch: 'b' }, bools: { json: null, tail: 't' } };

describe('parseArgs', () => {
  it('should read short, long and inline values, booleans and positionals', () => {
    expect(parseArgs(['-a', 'shop', '--branch=feat/x', '--json', 'v3', '-t'], spec)).toEqual({
      flags: { app: 'shop', branch: 'feat/x', json: true, tail: true },
      positionals: ['v3'],
    });
  });
  it('should read a value attached to a short option and bundled short booleans', () => {
    const n = { values: { app: 'a', num: 'n' }, bools: { json: null, tail: 't', help: 'h' } };
    expect(parseArgs(['-n2', '-ashop'], n).flags).toEqual({ num: '2', app: 'shop' });
    expect(parseArgs(['-n', '2'], n).flags).toEqual({ num: '2' });
    expect(parseArgs(['-th'], n).flags).toEqual({ tail: true, help: true });
    expect(() => parseArgs(['-tn'], n)).toThrow(UsageError);
    expect(() => parseArgs(['-x2'], n)).toThrow(/unknown option -x/);
  });
  it('should keep everything after -- as positionals', () => {
    expect(parseArgs(['--', '--json', 'K=-a'], spec).positionals).toEqual(['--json', 'K=-a']);
  });
  it('should reject unknown options, missing values and values on booleans', () => {
    expect(() => parseArgs(['--nope'], spec)).toThrow(UsageError);
    expect(() => parseArgs(['-x'], spec)).toThrow(/unknown option -x/);
    expect(() => parseArgs(['--app'], spec)).toThrow(/needs a value/);
    expect(() => parseArgs(['--json=1'], spec)).toThrow(/takes no value/);
  });
});

describe('table', () => {
  it('should align columns by visible width and trim trailing spaces', () => {
    expect(table(['A', 'BB', 'C'], [['xxx', '', 'z'], ['é', 'yy', '']])).toBe('A    BB  C\nxxx      z\né    yy');
  });
});
