/**
 * The kv:: store in a Map, for one `picloud run` invocation (nothing is kept) and the tests of the handlers guide's
 * examples: the same answers and errors as the executors' store (kv-store.ts `call`), keys per process only.
 */
import { AppError } from '../common/errors.ts';
import { checkKvIncr, checkKvWrite, kvIncrError } from './kv.ts';
import type { KvOp } from './kv-store.ts';

export function memoryKv(): (ns: unknown, op: KvOp, key: string, json?: string) => Promise<unknown> {
  const kv = new Map<string, string>();
  return async (_ns, op, key, json) => {
    switch (op) {
      case 'get':
        return kv.get(key) ?? null;
      case 'set':
        checkKvWrite(key, json!);
        kv.set(key, json!);
        return null;
      case 'delete':
        return kv.delete(key);
      case 'keys':
        return [...kv.keys()].filter((k) => k.startsWith(key)).sort();
      case 'incr': {
        const by = Number(json ?? '1');
        checkKvIncr(key, by);
        const bad = kvIncrError(key, kv.get(key) ?? null, by);
        if (bad) throw new AppError('KV_TYPE', bad);
        const n = (kv.has(key) ? (JSON.parse(kv.get(key)!) as number) : 0) + by;
        kv.set(key, String(n));
        return n;
      }
    }
  };
}
