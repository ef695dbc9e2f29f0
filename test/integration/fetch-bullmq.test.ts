/** http::fetch against the Redis mode (2 executor processes). */
import { defineFetchSuite } from './fetch-suite.ts';

defineFetchSuite('bullmq');
