/**
 * The dispatch table of `picloud`: one line per command, loaded lazily so one command's dependencies never slow
 * down or break another. Read by main.ts (dispatch, help) and by `picloud completion`.
 */
import type { CliIO } from './client/io.ts';

export type Command = (argv: string[], io: CliIO) => Promise<number>;

interface CommandDef {
  summary: string;
  load(): Promise<Command>;
  /** internal commands are listed under their own heading */
  internal?: boolean;
  /** the argv that makes the command print its own usage (for `picloud help VERB`) */
  helpArgv?: string[];
}

const client = (name: string, summary: string): CommandDef => ({
  summary,
  load: async () => (await import('./commands/client.ts')).clientCommands[name]!,
  helpArgv: ['--help'],
});

/** The dispatch table. One line per command. */
export const COMMANDS: Record<string, CommandDef> = {
  up: { summary: 'run everything (manager, orchestrator, executors) on one machine', load: async () => (await import('./commands/up.ts')).upCommand },
  dev: { summary: 'serve the app in DIR locally, deploying every save: picloud dev [DIR] [--port N]', load: async () => (await import('./commands/dev.ts')).devCommand, helpArgv: ['--help'] },
  check: { summary: 'validate a working tree exactly as a push would: picloud check [DIR]', load: async () => (await import('./commands/check.ts')).checkCommand, helpArgv: ['--help'] },
  run: { summary: 'run one script locally: picloud run FILE.rhai [--ctx JSON] [--fn NAME]', load: async () => (await import('./commands/run.ts')).runCommand, helpArgv: ['--help'] },
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
  kv: client('kv', "list the keys of an app's KV store: -a APP [--prefix P]"),
  'kv:get': client('kv:get', 'print the JSON value of a key: -a APP KEY'),
  'kv:set': client('kv:set', 'set a key to a JSON value: -a APP KEY JSON'),
  'kv:delete': client('kv:delete', 'delete a key: -a APP KEY'),
  jobs: client('jobs', "an app's background jobs per queue; --failed: dead letters with their errors"),
  'jobs:retry': client('jobs:retry', 'run dead letters again: -a APP ID | --all-failed'),
  info: client('info', 'show an app: URLs, live releases, routes, schedules'),
  open: client('open', "open the app's URL in a browser"),
  schedules: client('schedules', 'list the schedules of the live release'),
  completion: { summary: 'shell completion: picloud completion bash|zsh', load: async () => (await import('./commands/completion.ts')).completionCommand, helpArgv: ['--help'] },
  manager: { internal: true, summary: 'cluster role: git, API, dashboard, metrics, schedules', load: async () => (await import('./commands/manager.ts')).managerCommand },
  executor: { internal: true, summary: 'cluster role: run invocations from the queue', load: async () => (await import('./commands/executor.ts')).executorCommand },
  orchestrator: { internal: true, summary: 'cluster role: ingress, route table, dispatch', load: async () => (await import('./commands/orchestrator.ts')).orchestratorCommand },
  'git-credential': { internal: true, summary: "git credential helper: git config credential.<server>.helper '!picloud git-credential'", load: async () => (await import('./commands/git-credential.ts')).gitCredentialCommand, helpArgv: ['--help'] },
  hook: { internal: true, summary: 'git hook client: picloud hook pre-receive (the shim in hooks/ does the same without Node)', load: async () => (await import('./commands/hook.ts')).hookCommand },
};

