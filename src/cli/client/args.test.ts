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
