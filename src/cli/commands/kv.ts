/**
 * `picloud kv [--prefix P]`, `kv:get KEY`, `kv:set KEY JSON`, `kv:delete KEY` (architecture.md §2): an app's
 * KV store, per branch with `--branch` (previews have their own data), through /api/v1/apps/:app/kv.
 */
import { UsageError } from '../client/args.ts';
import { api, q } from '../client/http.ts';
import { EXIT, json, out } from '../client/io.ts';
import { APP, appOf, BRANCH, branchOf, enc, JSON_FLAG, noPositionals, type VerbDef } from '../client/verb.ts';

const keyArg = (positionals: string[]): string => {
  const k = positionals[0];
  if (k === undefined || k === '') throw new UsageError('missing KEY');
  return k;
};
const keyPath = (app: string, key: string, branch: string | undefined): string => `/apps/${enc(app)}/kv/${enc(key)}${q({ branch })}`;

export const KV_VERBS: Record<string, VerbDef> = {
  kv: {
    usage: 'picloud kv -a APP [--prefix P] [--branch B] [--json]',
    summary: "list the keys of an app's KV store",
    spec: { values: { ...APP, ...BRANCH, prefix: 'p' }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      noPositionals(p);
      const app = appOf(p, ctx);
      const prefix = typeof p.flags.prefix === 'string' ? p.flags.prefix : undefined;
      const r = await api<{ keys: string[]; branch: string }>(ctx.creds, 'GET', `/apps/${enc(app)}/kv${q({ branch: branchOf(p), prefix })}`);
      if (p.flags.json) {
        json(ctx.io, r.keys);
        return EXIT.OK;
      }
      if (!r.keys.length) out(ctx.io, `No keys${prefix ? ` starting with "${prefix}"` : ''} in ${app} (${r.branch}).`);
      for (const k of r.keys) out(ctx.io, k);
      return EXIT.OK;
    },
  },
  'kv:get': {
    usage: 'picloud kv:get -a APP KEY [--branch B]',
    summary: 'print the JSON value of a key',
    spec: { values: { ...APP, ...BRANCH }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      const key = keyArg(p.positionals);
      noPositionals(p, 1);
      const r = await api<{ value: unknown }>(ctx.creds, 'GET', keyPath(appOf(p, ctx), key, branchOf(p)));
      json(ctx.io, r.value);
      return EXIT.OK;
    },
  },
  'kv:set': {
    usage: "picloud kv:set -a APP KEY JSON [--branch B]      (e.g. kv:set hits 3, kv:set user '{\"n\":1}')",
    summary: 'set a key to a JSON value',
    spec: { values: { ...APP, ...BRANCH }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      const key = keyArg(p.positionals);
      const text = p.positionals[1];
      if (text === undefined) throw new UsageError('missing the JSON value');
      noPositionals(p, 2);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new UsageError(`the value must be JSON (a string needs quotes: '"${text}"')`);
      }
      const app = appOf(p, ctx);
      await api(ctx.creds, 'PUT', keyPath(app, key, branchOf(p)), value);
      if (p.flags.json) json(ctx.io, { key, value });
      else out(ctx.io, `Set ${key} in ${app}.`);
      return EXIT.OK;
    },
  },
  'kv:delete': {
    usage: 'picloud kv:delete -a APP KEY [--branch B]',
    summary: 'delete a key',
    spec: { values: { ...APP, ...BRANCH }, bools: JSON_FLAG },
    auth: true,
    async run(p, ctx) {
      const key = keyArg(p.positionals);
      noPositionals(p, 1);
      const app = appOf(p, ctx);
      const r = await api<{ deleted: boolean }>(ctx.creds, 'DELETE', keyPath(app, key, branchOf(p)));
      if (p.flags.json) json(ctx.io, r);
      else out(ctx.io, r.deleted ? `Deleted ${key} from ${app}.` : `${key} was not set in ${app}.`);
      return r.deleted ? EXIT.OK : EXIT.FAILURE;
    },
  },
};
