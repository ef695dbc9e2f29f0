/**
 * Test-only fault injection: `PICLOUD_FAULT=<step>` (read by config.ts) makes the server SIGKILL itself when a
 * push reaches that step, so the crash tests can kill a real process at each instant of a push. `<step>:group`
 * kills the whole process group instead (git http-backend, receive-pack and the hook die with the server, as in
 * a machine crash, leaving git's quarantine directory behind); it falls back to the process alone when the
 * server does not lead its own group. Unset in production: every call is then a no-op.
 *
 * Steps, in the order a push reaches them:
 * - after-validation: every tree validated and compiled, nothing switched
 * - before-release-commit: the pushed objects kept in the repository, the release transaction not yet run
 * - after-release-commit: the release transaction committed (its NOTIFY delivered), git not yet told
 * - before-ref-update: the hook answered "accept" to git, which has yet to move the ref
 * - after-ref-update: git-receive-pack ended (the ref moved), the post-push check not yet run
 */
export const FAULT_STEPS = ['after-validation', 'before-release-commit', 'after-release-commit', 'before-ref-update', 'after-ref-update'] as const;
export type FaultStep = (typeof FAULT_STEPS)[number];

export interface Fault {
  step: FaultStep;
  group: boolean;
}

/** Parse `<step>` or `<step>:group`; null when unset, a message when invalid. */
export function parseFault(raw: string | undefined): Fault | null | string {
  if (!raw) return null;
  const [step, mode, ...rest] = raw.split(':');
  if (!(FAULT_STEPS as readonly string[]).includes(step!) || (mode !== undefined && mode !== 'group') || rest.length) {
    return `PICLOUD_FAULT must be one of ${FAULT_STEPS.join(', ')} (optionally with ":group"), got "${raw}"`;
  }
  return { step: step as FaultStep, group: mode === 'group' };
}

/** The fault hook for a config's fault: kills the process when `step` is the configured one. */
export function faultInjector(fault: Fault | null): ((step: FaultStep) => void) | undefined {
  if (!fault) return undefined;
  return (step) => {
    if (step !== fault.step) return;
    if (fault.group) {
      try {
        process.kill(-process.pid, 'SIGKILL');
      } catch {
        // not a group leader: only this process
      }
    }
    process.kill(process.pid, 'SIGKILL');
  };
}
