#!/usr/bin/env node
// The `picloud` executable: registers tsx (TypeScript on Node 20) and runs src/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('./main.ts');
process.exitCode = await run(process.argv.slice(2));
