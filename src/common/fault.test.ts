import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { faultInjector, parseFault } from './fault.ts';

describe('PICLOUD_FAULT', () => {
  it('should parse a step with an optional ":group", and nothing when unset', () => {
    expect(parseFault(undefined)).toBe(null);
    expect(parseFault('')).toBe(null);
    expect(parseFault('after-release-commit')).toEqual({ step: 'after-release-commit', group: false });
    expect(parseFault('before-ref-update:group')).toEqual({ step: 'before-ref-update', group: true });
  });

  it('should refuse an unknown step or mode through the config', () => {
    for (const bad of ['after-commit', 'after-release-commit:all', 'after-validation:group:x']) {
      expect(parseFault(bad)).toMatch(/PICLOUD_FAULT must be one of after-validation, /);
      expect(() => loadConfig({ PICLOUD_FAULT: bad })).toThrow(/PICLOUD_FAULT/);
    }
    expect(loadConfig({ PICLOUD_FAULT: 'after-validation' }).fault).toEqual({ step: 'after-validation', group: false });
    expect(loadConfig({}).fault).toBe(null);
  });

  it('should give no hook without a fault, and a hook that ignores other steps', () => {
    expect(faultInjector(null)).toBeUndefined();
    const hook = faultInjector({ step: 'after-ref-update', group: false })!;
    expect(() => hook('after-validation')).not.toThrow();
  });
});
