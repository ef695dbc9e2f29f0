/**
 * A crash before the release commit of a push (issue 8): after validation, and after the pushed objects were kept
 * in the repository but before the transaction. The old release stays live and git's ref stays where it was; the
 * push of an older commit then rolls back and the next push deploys.
 */
import { crashSuite } from '../helpers/crash.ts';

crashSuite([
  { fault: 'after-validation', live: 'old' },
  { fault: 'before-release-commit', live: 'old' },
]);
