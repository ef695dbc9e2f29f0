// `npm start` runs the platform compiled into dist/ (src/common/runtime.ts). This prestart step rebuilds dist/ first
// (incremental: about a second when nothing changed) so a changed checkout never runs stale code. Where the dev
// dependencies were pruned (`npm ci && npm prune --omit=dev`, docker/README.md), typescript is absent: the dist/
// built at install time is used as it is.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
// the package's own bin file (typescript's "exports" do not expose it to require.resolve)
const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
if (!existsSync(tsc)) {
  if (existsSync(new URL('../../dist/cli/main.js', import.meta.url))) process.exit(0);
  process.stderr.write('picloud: dist/ is missing and typescript is not installed to build it: run `npm ci` first\n');
  process.exit(1);
}
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
} catch {
  process.stderr.write('picloud: building dist/ failed (the errors are above); nothing was started\n');
  process.exit(1);
}
