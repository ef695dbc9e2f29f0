/**
 * A crash at the release commit of a push (issue 8): the real server SIGKILLs itself (PICLOUD_FAULT) right after
 * the release transaction committed (its NOTIFY out, the new code served), alone or with its whole process group
 * (git dies with its quarantine), or once git has the hook's "accept". After the restart git's ref, the live
 * release and the served code agree on the pushed commit, no quarantine is left, the push of an older commit
 * rolls back and the next push deploys. The other steps are in crash-push-steps.test.ts.
 */
import { crashSuite } from '../helpers/crash.ts';

crashSuite([
  { fault: 'after-release-commit', live: 'new' },
  { fault: 'after-release-commit:group', live: 'new' },
  { fault: 'before-ref-update', live: 'new' },
]);
