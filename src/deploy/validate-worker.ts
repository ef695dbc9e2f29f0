/**
 * The validation worker's entry (see validate-offthread.ts): runs `validateTreeHere` on the tree a `run` message
 * names and answers `done` with the result. The AST cache is the main thread's: `lookup` asks it, `remember`
 * tells it. One validation at a time; the thread may be reused for the next push.
 */
import { parentPort } from 'node:worker_threads';
import type { ScriptCache, ScriptFunctions } from './buildpacks/types.ts';
import { loadEngine } from './engine.ts';
import type { FromWorker, ToWorker, TreeToValidate } from './validate-offthread.ts';
import { gitReader, readFiles, validateTreeHere, type TreeSource } from './validate.ts';

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const lookups = new Map<number, (m: Extract<ToWorker, { t: 'lookup' }>) => void>();
let nextLookup = 0;

const cache: ScriptCache = {
  lookup(hashes) {
    const id = nextLookup++;
    return new Promise((resolve, reject) => {
      lookups.set(id, (m) => (m.found ? resolve(new Map(m.found)) : reject(new Error(m.error ?? 'AST cache lookup failed'))));
      post({ t: 'lookup', id, hashes });
    });
  },
  remember(hash: string, functions: ScriptFunctions) {
    post({ t: 'remember', hash, functions });
  },
};

/** The tree the caller listed, read here. */
function openTree(t: TreeToValidate): TreeSource {
  const { files, over, origin } = t;
  if (origin.kind === 'git') return { files, over, ...gitReader(origin.env, new Map(origin.oids)) };
  return { files, over, origin, read: (list) => readFiles(origin.root, list) };
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'lookup') {
    lookups.get(m.id)?.(m);
    lookups.delete(m.id);
    return;
  }
  void (async () => {
    try {
      const engine = m.engine ? await loadEngine() : null;
      const tree = openTree(m.tree);
      const result = await validateTreeHere(tree, { engine, cache: m.cache ? cache : null, progress: (line) => post({ t: 'progress', line }) });
      post({ t: 'done', json: JSON.stringify(result) });
    } catch (e) {
      post({ t: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  })();
});
