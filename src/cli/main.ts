/**
 * `picloud`: the composition root (style.md §3.9). `run(argv, io)` dispatches to a command and returns its exit
 * code; it never calls process.exit — only the entry point below (or bin.js) sets process.exitCode.
 * Commands load lazily, so one command's dependencies never slow down or break another.
 * Exit codes (sysexits): 0 ok, 1 failure, 64 usage, 65 data error (e.g. `check` found problems), 70 internal.
 */
import { pathToFileURL } from 'node:url';
import type { CliIO } from './client/io.ts';

export type Command = (argv: string[], io: CliIO) => Promise<number>;

interface CommandDef {
  summary: string;
  load(): Promise<Command>;
  /** internal commands are listed under their own heading */
  internal?: boolean;
}

const client = (name: string, summary: string): CommandDef => ({
  summary,
  load: async () => (await import('./commands/client.ts')).clientCommands[name]!,
});

/** The dispatch table. One line per command. */
export const COMMANDS: Record<string, CommandDef> = {
  up: { summary: 'run everything (manager, orchestrator, executors) on one machine', load: async () => (await import('./commands/up.ts')).upCommand },
  check: { summary: 'validate a working tree exactly as a push would: picloud check [DIR]', load: async () => (await import('./commands/check.ts')).checkCommand },
  run: { summary: 'run one script locally: picloud run FILE.rhai [--ctx JSON] [--fn NAME]', load: async () => (await import('./commands/run.ts')).runCommand },
  login: client('login', 'store the server URL and API token'),
  apps: client('apps', 'list apps'),
  'apps:create': client('apps:create', 'create an app'),
  'apps:destroy': client('apps:destroy', 'destroy an app and its data'),
  releases: client('releases', 'list releases of an app'),
  rollback: client('rollback', 'roll back to a release: picloud rollback -a APP vN'),
  config: client('config', 'show config vars'),
  'config:set': client('config:set', 'set config vars: KEY=VALUE …'),
  'config:unset': client('config:unset', 'remove config vars'),
  logs: client('logs', 'show invocation logs (--tail to follow)'),
  routes: client('routes', 'list the live routes of an app'),
  previews: client('previews', 'list the branch previews of an app'),
  tokens: client('tokens', 'list API tokens'),
  'tokens:create': client('tokens:create', 'create a named API token: NAME [--role admin|read]'),
  'tokens:revoke': client('tokens:revoke', 'delete an API token: ID'),
  manager: { internal: true, summary: 'cluster role: git, API, dashboard, metrics, schedules', load: async () => (await import('./commands/manager.ts')).managerCommand },
  executor: { internal: true, summary: 'cluster role: run invocations from the queue', load: async () => (await import('./commands/executor.ts')).executorCommand },
  orchestrator: { internal: true, summary: 'cluster role: ingress, route table, dispatch', load: async () => (await import('./commands/orchestrator.ts')).orchestratorCommand },
  hook: { internal: true, summary: 'git hook client: picloud hook pre-receive (the shim in hooks/ does the same without Node)', load: async () => (await import('./commands/hook.ts')).hookCommand },
};

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

/** Run the CLI; resolves the exit code. */
export async function run(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    help(io);
    return name ? 0 : 64;
  }
  if (name === '--version' || name === 'version') {
    io.stdout.write('picloud 0.1.0\n');
    return 0;
  }
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
