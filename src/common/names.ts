/** App and branch naming rules shared by git, deploy, ingress and the manager (architecture.md §3, §4). */

/** App names: `^[a-z][a-z0-9-]{0,30}$` without `--` (so `<branch>--<app>` host labels split unambiguously). */
export const isValidAppName = (name: string): boolean => /^[a-z][a-z0-9-]{0,30}$/.test(name) && !name.includes('--');

/** A branch as it appears in host names: lower-cased, runs of characters outside [a-z0-9] → '-'. */
export const branchSlug = (branch: string): string => branch.toLowerCase().replace(/[^a-z0-9]+/g, '-');
