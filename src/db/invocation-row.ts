/**
 * One invocation-log row and its JSON form for the batched INSERT in invocations.ts (snake_case column names).
 * Pure (no imports): executor threads serialise rows with it without loading the PostgreSQL client.
 */
export interface InvocationRow {
  appId: number;
  app: string;
  branch: string;
  releaseId: number | null;
  trigger: 'http' | 'schedule';
  route: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  operations: number;
  cold: boolean;
  logs: unknown[];
  error: string | null;
}

/** The JSON object of one row, in the shape INSERT_BATCH reads (snake_case columns). */
export function invocationRowJson(r: InvocationRow): string {
  return JSON.stringify({
    app_id: r.appId, branch: r.branch, release_id: r.releaseId, trigger: r.trigger, route: r.route, method: r.method,
    path: r.path, status: r.status, duration_ms: r.durationMs, operations: r.operations, cold: r.cold, logs: r.logs, error: r.error,
  });
}

