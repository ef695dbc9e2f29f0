/**
 * `picloud`: the composition root (style.md §3.9). `run(argv, io)` dispatches to a command and returns its exit
 * code; it never calls process.exit — only the entry point below (or bin.js) sets process.exitCode.
 * Commands load lazily, so one command's dependencies never slow down or break another.
 * Exit codes (sysexits): 0 ok, 1 failure, 64 usage, 65 data error (e.g. `check` found problems), 70 internal.
 */
import { pathToFileURL } from 'node:url';
import type { CliIO } from './client/io.ts';

import { COMMANDS } from './commands.ts';

const defaultIO = (): CliIO => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin });

function help(io: CliIO): void {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  const lines = (internal: boolean) =>
    Object.entries(COMMANDS)
      .filter(([, d]) => !!d.internal === internal)
      .map(([name, d]) => `  ${name.padEnd(w)}${d.summary}`)
      .join('\n');
  io.stdout.write(`usage: picloud <command> [options]\n\nCommands:\n${lines(false)}\n\nInternal commands:\n${lines(true)}\n`);
}

/** `picloud help VERB`: the verb's own usage (client verbs answer `--help`), else its summary. */
async function helpVerb(verb: string, io: CliIO): Promise<number> {
  const def = Object.hasOwn(COMMANDS, verb) ? COMMANDS[verb] : undefined;
  if (!def) {
    io.stderr.write(`picloud help: unknown command "${verb}" (see picloud help)\n`);
    return 64;
  }
  if (def.helpArgv) return (await def.load())(def.helpArgv, io);
  io.stdout.write(`picloud ${verb}: ${def.summary}\n`);
  return 0;
}

/** Run the CLI; resolves the exit code. */
export async function run(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || (name === 'help' && rest.length === 0) || name === '--help' || name === '-h') {
    help(io);
    return name ? 0 : 64;
  }
  if (name === '--version' || name === 'version' || name === '-v') {
    const { VERSION } = await import('../common/version.ts');
    io.stdout.write(`picloud ${VERSION}\n`);
    return 0;
  }
  if (name === 'help' && rest.length > 0) return helpVerb(rest[0]!, io);
  const def = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!def) {
    io.stderr.write(`picloud: unknown command "${name}" (see picloud help)\n`);
    return 64;
  }
  try {
    const cmd = await def.load();
    return await cmd(rest, io);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err?.code === 'CONFIG_INVALID') {
      io.stderr.write(`picloud ${name}: ${err.message}\n`);
      return 78;
    }
    io.stderr.write(`picloud ${name}: internal error: ${err?.message ?? String(e)}\n`);
    return 70;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await run(process.argv.slice(2));
}
