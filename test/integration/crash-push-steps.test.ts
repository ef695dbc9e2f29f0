/**
 * A crash at the other steps of a push (issue 8; the release commit is in crash-push.test.ts): before the release
 * commit the old release stays live and git's ref stays; once git-receive-pack has ended the push is complete and
 * only its unconfirmed record is left, which the start settles. Each time the push of an older commit rolls
 * back and the next push deploys.
 */
import { crashSuite } from '../helpers/crash.ts';

crashSuite([
  { fault: 'after-validation', live: 'old' },
  { fault: 'before-release-commit', live: 'old' },
  { fault: 'after-ref-update', live: 'new' },
]);
