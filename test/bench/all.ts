/**
 * `npm run bench`: every benchmark in turn, each in its own process (so one's JIT state or open handles cannot
 * bias the next). Extra arguments (e.g. `--json`) are passed to each. Exits non-zero if any benchmark failed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const benches = ['rhai', 'deploy', 'http', 'idle'];
let failed = 0;
for (const b of benches) {
  process.stdout.write(`\n=== bench:${b}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, `${b}.ts`), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
