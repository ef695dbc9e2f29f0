/** The invocation contract against the embedded mode (in-process worker-thread pool, no Redis). */
import { defineInvokeSuite } from './invoke-suite.ts';

defineInvokeSuite('embedded');
