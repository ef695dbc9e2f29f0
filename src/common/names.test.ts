import { describe, expect, it } from 'vitest';
import { branchSlug, isValidAppName } from './names.ts';

describe('names', () => {
  it('should accept valid app names and refuse the rest', () => {
    for (const ok of ['a', 'hello', 'my-app-2', 'a'.repeat(31)]) expect(isValidAppName(ok)).toBe(true);
    for (const bad of ['', '1app', 'App', 'a--b', 'a_b', 'a'.repeat(32), '../x']) expect(isValidAppName(bad)).toBe(false);
  });

  it('should slug branch names as host labels', () => {
    expect(branchSlug('feature/Cart_v2')).toBe('feature-cart-v2');
    expect(branchSlug('main')).toBe('main');
    expect(branchSlug('Feature/New_UI..2')).toBe('feature-new-ui-2');
    expect(branchSlug('a..b//c')).toBe('a-b-c');
  });
});
