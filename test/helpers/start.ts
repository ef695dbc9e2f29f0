/** The command `npm start` runs (package.json scripts.start), as node arguments: tests and benches start it as is. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** e.g. ['--single-threaded-gc', 'dist/cli/main.js', 'up'] for "node --single-threaded-gc dist/cli/main.js up" */
export function startArgs(): string[] {
  const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
  const [node, ...args] = start.split(/\s+/);
  if (node !== 'node') throw new Error(`package.json scripts.start does not start with node: ${start}`);
  return args;
}
