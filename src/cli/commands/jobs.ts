/**
 * `picloud jobs [--queue Q] [--failed] [--json]`, `jobs:retry ID`, `jobs:retry --all-failed` (architecture.md §2):
 * an app's background jobs per queue (pending, running, done, failed with the dead letters' errors), and replaying
 * dead letters, through /api/v1/apps/:app/jobs. Per branch with `--branch`.
 */
import { UsageError } from '../client/args.ts';
import { api, q } from '../client/http.ts';
import { ago, EXIT, json, out, paint, table } from '../client/io.ts';
import { APP, appOf, BRANCH, branchOf, enc, JSON_FLAG, noPositionals, type VerbDef } from '../client/verb.ts';

interface JobJson {
  id: string;
  queue: string;
  state: string;
  attempts: number;
  max_attempts: number;
  value: unknown;
  error: string | null;
  run_at: string;
  updated_at: string;
}
interface JobsJson {
  branch: string;
  queues: { queue: string; pending: number; running: number; done: number; failed: number; last_error: string | null }[];
  jobs: JobJson[];
}

const oneLine = (s: string, max = 80) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

export const JOB_VERBS: Record<string, VerbDef> = {
  jobs: {
    usage: 'picloud jobs -a APP [--queue Q] [--failed] [--branch B] [-n N] [--json]',
    summary: "an app's background jobs: per queue, then the latest jobs (--failed: the dead letters with their errors)",
    spec: { values: { ...APP, ...BRANCH, queue: 'q', num: 'n' }, bools: { ...JSON_FLAG, failed: null } },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const app = appOf(p, ctx);
      const queue = typeof p.flags.queue === 'string' ? p.flags.queue : undefined;
      const limit = typeof p.flags.num === 'string' ? p.flags.num : undefined;
      if (limit !== undefined && !/^\d+$/.test(limit)) throw new UsageError('-n must be a number');
      const r = await api<JobsJson>(ctx.creds, 'GET', `/apps/${enc(app)}/jobs${q({ branch: branchOf(p), queue, state: p.flags.failed ? 'failed' : undefined, limit })}`);
      if (p.flags.json) {
        json(ctx.io, p.flags.failed ? r.jobs : r);
        return EXIT.OK;
      }
      const pt = paint(ctx.io);
      const qs = queue ? r.queues.filter((x) => x.queue === queue) : r.queues;
      if (!p.flags.failed) {
        if (!qs.length) out(ctx.io, `No jobs in ${app} (${r.branch})${queue ? ` for queue ${queue}` : ''}.`);
        else {
          out(ctx.io, table(['QUEUE', 'PENDING', 'RUNNING', 'DONE', 'FAILED', 'LAST ERROR'], qs.map((x) => [
            x.queue, String(x.pending), String(x.running), String(x.done), x.failed ? pt.red(String(x.failed)) : '0', oneLine(x.last_error ?? '', 60),
          ]), pt));
          out(ctx.io);
        }
      }
      if (!r.jobs.length) {
        if (p.flags.failed) out(ctx.io, `No dead letters in ${app} (${r.branch}).`);
        return EXIT.OK;
      }
      out(ctx.io, table(['ID', 'QUEUE', 'STATE', 'TRIES', 'UPDATED', p.flags.failed ? 'ERROR' : 'VALUE'], r.jobs.map((j) => [
        j.id, j.queue, j.state === 'failed' ? pt.red(j.state) : j.state, `${j.attempts}/${j.max_attempts}`, ago(j.updated_at),
        oneLine(p.flags.failed ? (j.error ?? '') : JSON.stringify(j.value), 70),
      ]), pt));
      return EXIT.OK;
    },
  },
  'jobs:retry': {
    usage: 'picloud jobs:retry -a APP (ID | --all-failed) [--queue Q] [--branch B] [--json]',
    summary: 'run dead letters again (with a fresh set of attempts)',
    spec: { values: { ...APP, ...BRANCH, queue: 'q' }, bools: { ...JSON_FLAG, 'all-failed': null } },
    auth: true,
    async run(p, ctx) {
      const id = p.positionals[0];
      noPositionals(p, 1);
      const all = p.flags['all-failed'] === true;
      if (all === (id !== undefined)) throw new UsageError('give a job ID or --all-failed');
      const app = appOf(p, ctx);
      const queue = typeof p.flags.queue === 'string' ? p.flags.queue : undefined;
      const r = await api<{ retried: string[] }>(ctx.creds, 'POST', `/apps/${enc(app)}/jobs/retry${q({ branch: branchOf(p) })}`, all ? { all_failed: true, queue } : { id, queue });
      if (p.flags.json) json(ctx.io, r);
      else out(ctx.io, r.retried.length ? `Retrying ${r.retried.length} job${r.retried.length === 1 ? '' : 's'} of ${app}: ${r.retried.join(', ')}` : `No dead letters to retry in ${app}.`);
      return EXIT.OK;
    },
  },
};
