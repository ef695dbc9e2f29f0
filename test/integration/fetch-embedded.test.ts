/** http::fetch against the embedded mode (in-process worker-thread pool). */
import { defineFetchSuite } from './fetch-suite.ts';

defineFetchSuite('embedded');
