/**
 * A crash right at the release commit of a push (issue 8): the real server SIGKILLs itself (PICLOUD_FAULT) just
 * after the release transaction committed (its NOTIFY out, the new code served), alone or with its whole process
 * group (git dies with its quarantine). After the restart git's ref, the live release and the served code agree on
 * the pushed commit, no quarantine is left, the push of an older commit rolls back and the next push deploys.
 * The other steps: crash-push-ref.test.ts and crash-push-steps.test.ts.
 */
import { crashSuite } from '../helpers/crash.ts';

crashSuite([
  { fault: 'after-release-commit', live: 'new' },
  { fault: 'after-release-commit:group', live: 'new' },
]);
