/**
 * INTERNAL: `picloud hook pre-receive` — the Node twin of hooks/pre-receive (for hosts without bash/curl):
 * forwards stdin and the quarantine env to the running server and prints what comes back. Exit 0 accepts.
 */
import { EXIT_MARKER } from '../../deploy/hook-endpoint.ts';
import type { CliIO } from '../client/io.ts';

async function readStdin(io: CliIO): Promise<string> {
  const chunks: Buffer[] = [];
  if (!io.stdin) return '';
  for await (const c of io.stdin) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function hookCommand(argv: string[], io: CliIO): Promise<number> {
  if (argv[0] !== 'pre-receive') {
    io.stderr.write('usage: picloud hook pre-receive\n');
    return 64;
  }
  const env = io.env ?? process.env;
  if (!env.PICLOUD_HOOK_URL || !env.PICLOUD_HOOK_SECRET) {
    io.stderr.write(' !     Push rejected: push through the PiCloud git URL (/git/<app>.git).\n');
    return 1;
  }
  const body = await readStdin(io);
  let status = 1;
  try {
    const res = await fetch(env.PICLOUD_HOOK_URL, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'text/plain',
        'x-picloud-hook-secret': env.PICLOUD_HOOK_SECRET,
        'x-git-dir': process.cwd(),
        'x-git-quarantine-path': env.GIT_QUARANTINE_PATH ?? '',
        'x-git-object-directory': env.GIT_OBJECT_DIRECTORY ?? '',
        'x-git-alternate-object-directories': env.GIT_ALTERNATE_OBJECT_DIRECTORIES ?? '',
        'x-picloud-pusher': env.REMOTE_USER ?? '',
      },
    });
    const text = await res.text();
    for (const line of text.split('\n')) {
      if (line.startsWith(EXIT_MARKER)) status = Number(line.slice(EXIT_MARKER.length)) || 0;
      else if (line) io.stdout.write(`${line}\n`);
    }
  } catch (e) {
    io.stderr.write(` !     Push rejected: the PiCloud server could not be reached (${(e as Error).message}).\n`);
    return 1;
  }
  return status;
}
