/**
 * `npm test`: typecheck, build (dist/), lint, then every vitest project (unit, conformance, integration).
 * Ends with the plain line `N passed, M failed[, K skipped]` read from vitest's JSON report.
 * Extra arguments are passed to vitest (e.g. `npm test -- test/integration/git-push.test.ts`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);
const report = path.join(root, '.test-report.json');

function step(title: string, cmd: string, argv: string[]): boolean {
  process.stdout.write(`\n== ${title}\n`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

let ok = true;
// dist/ is what `npm start` runs (src/common/runtime.ts); git-up.test.ts starts the platform from it (incremental)
ok = step('build (tsc -p tsconfig.build.json)', bin('tsc'), ['-p', 'tsconfig.build.json']) && ok;
if (args.length === 0) {
  ok = step('typecheck (tsc --noEmit)', bin('tsc'), ['--noEmit']) && ok;
  ok = step('lint (oxlint)', bin('oxlint'), ['--deny-warnings', 'src', 'test']) && ok;
}
rmSync(report, { force: true });
const vitestOk = step('tests (vitest)', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile=${report}`, ...args]);
ok = vitestOk && ok;

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    testResults: { status: string; message?: string; name: string; assertionResults: unknown[] }[];
  };
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  skipped = r.numPendingTests + r.numTodoTests;
  // a test file that failed to load has no assertions but counts as a failure
  for (const f of r.testResults) if (f.status === 'failed' && f.assertionResults.length === 0) failed++;
} else if (!vitestOk) {
  failed++;
}
if (!ok && failed === 0) failed = 1; // typecheck or lint failed
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = ok && failed === 0 ? 0 : 1;
