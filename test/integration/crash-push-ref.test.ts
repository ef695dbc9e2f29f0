/**
 * A crash around git's ref update (issue 8): once the hook has told git "accept" (git may or may not have moved
 * the ref) and once git-receive-pack has ended (only the push's unconfirmed record is left). The next start
 * completes the push: git's ref, the live release and the served code agree on the pushed commit, the push of an
 * older commit rolls back and the next push deploys.
 */
import { crashSuite } from '../helpers/crash.ts';

crashSuite([
  { fault: 'before-ref-update', live: 'new' },
  { fault: 'after-ref-update', live: 'new' },
]);
