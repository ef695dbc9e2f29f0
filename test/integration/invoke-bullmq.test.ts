/** The invocation contract against the BullMQ mode (Redis queue, 2 executor processes). */
import { defineInvokeSuite } from './invoke-suite.ts';

defineInvokeSuite('bullmq');
