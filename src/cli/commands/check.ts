/**
 * `picloud check [DIR] [--json]`: validate a working tree exactly as a push would (the same validateTree and
 * buildpacks; no AST cache). In a git repository it checks the files git tracks (src/deploy/worktree.ts), as
 * they are in the working tree: what a commit and push of them would send; ignored files never count. Prints the progress lines and every problem as `path:line:col: message` with the
 * source line and a caret. Exit 0 when the tree would deploy, 65 when it has problems, 64 on usage errors.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadEngine } from '../../deploy/engine.ts';
import { validateTree } from '../../deploy/validate.ts';
import { MANIFEST_PATH } from '../../deploy/manifest.ts';
import { workTreeSource } from '../../deploy/worktree.ts';
import type { CliIO } from '../client/io.ts';

export async function checkCommand(argv: string[], io: CliIO): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  if (args.some((a) => a === '-h' || a === '--help')) {
    io.stdout.write('usage: picloud check [DIR] [--json]\n\n  Validate DIR (default .) as `git push` would.\n');
    return 0;
  }
  if (args.length > 1 || args.some((a) => a.startsWith('-'))) {
    io.stderr.write('usage: picloud check [DIR] [--json]\n');
    return 64;
  }
  const dir = path.resolve(io.cwd ?? process.cwd(), args[0] ?? '.');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    io.stderr.write(`picloud check: ${dir} is not a directory\n`);
    return 64;
  }
  const tree = await workTreeSource(dir);
  if (!tree.files.some((f) => f.path === MANIFEST_PATH)) {
    const where = tree.git ? `the files git tracks in ${dir}` : dir;
    io.stderr.write(`picloud check: no ${MANIFEST_PATH} in ${where}; a push needs one at the repository root (see docs/picloud-toml.md)\n`);
    return 65;
  }
  const engine = await loadEngine().catch(() => null);
  const progress = (line: string) => io.stderr.write(`${line}\n`);
  const result = await validateTree(tree, { engine, cache: null, progress });
  if (json) {
    io.stdout.write(
      `${JSON.stringify({ ok: result.ok, problems: result.problems, manifest: result.releaseManifest, scripts: result.build?.scripts.map((s) => ({ path: s.path, hash: s.hash })) ?? [] }, null, 2)}\n`,
    );
  } else if (result.ok) {
    const m = result.build!.manifest!;
    io.stdout.write(`ok: ${m.routes.length} route${m.routes.length === 1 ? '' : 's'}, ${m.schedules.length} schedule${m.schedules.length === 1 ? '' : 's'}, ${result.build!.scripts.length} script${result.build!.scripts.length === 1 ? '' : 's'}\n`);
  } else {
    for (const p of result.problems) io.stdout.write(`${p}\n`);
    io.stderr.write(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}\n`);
  }
  return result.ok ? 0 : 65;
}
