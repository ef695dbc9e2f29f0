/**
 * `queue::send("name", …)` calls with a literal queue name, found by a walk over a compiled program's AST
 * (the plain JSON objects of src/rhai/ast.ts: a `Call` node with ns ['queue'], name 'send' and a `Str` first
 * argument). A name no `[[queues]]` declares rejects the push at the call (architecture.md §6); a name computed at
 * run time is checked when the call runs.
 */
import { lineCol } from '../rhai/index.ts';

export interface QueueSendCall {
  name: string;
  line: number;
  col: number;
}

interface Node {
  k?: unknown;
  name?: unknown;
  ns?: unknown;
  args?: unknown;
  pos?: unknown;
  value?: unknown;
}

/** Every literal-name queue::send in a program (its JSON, as programToJSON writes it), with its source position. */
export function queueSendCalls(programJson: string): QueueSendCall[] {
  // cheap exit for the common case: no queue:: call at all
  if (!programJson.includes('"queue"')) return [];
  const j = JSON.parse(programJson) as { source: string; ast: unknown };
  const out: QueueSendCall[] = [];
  const stack: unknown[] = [j.ast];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    const n = v as Node;
    if (n.k === 'Call' && n.name === 'send' && Array.isArray(n.ns) && n.ns.length === 1 && n.ns[0] === 'queue' && Array.isArray(n.args)) {
      const first = n.args[0] as Node | undefined;
      if (first && first.k === 'Str' && typeof first.value === 'string' && typeof first.pos === 'number') {
        const lc = lineCol(j.source, first.pos);
        out.push({ name: first.value, line: lc.line, col: lc.position });
      }
    }
    for (const x of Object.values(v)) if (x !== null && typeof x === 'object') stack.push(x);
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}
