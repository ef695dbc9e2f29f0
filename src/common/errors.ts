/**
 * Platform errors: one `AppError` with a stable `code` from the registry below, structured `data`
 * (safe to log and to show), and an optional HTTP status. Every code has a row in docs/errors.md
 * (test/unit/errors-doc.test.ts checks both directions).
 */

export const ERROR_CODES = {
  CONFIG_INVALID: { status: 500, summary: 'The environment configuration is invalid' },
  DB_MIGRATION_CHECKSUM: { status: 500, summary: 'An applied migration file was edited after it ran' },
  DB_UNAVAILABLE: { status: 503, summary: 'PostgreSQL could not be reached' },
  AUTH_REQUIRED: { status: 401, summary: 'No or bad credentials' },
  AUTH_FORBIDDEN: { status: 403, summary: 'The token may not do this' },
  APP_NAME_INVALID: { status: 400, summary: 'App name must match ^[a-z][a-z0-9-]{0,30}$ without "--"' },
  APP_NOT_FOUND: { status: 404, summary: 'No such app' },
  APP_EXISTS: { status: 409, summary: 'An app with that name exists' },
  RELEASE_NOT_FOUND: { status: 404, summary: 'No such release' },
  INVOCATION_NOT_FOUND: { status: 404, summary: 'No such invocation in this app' },
  TOKEN_NOT_FOUND: { status: 404, summary: 'No API token with that id' },
  DEPLOY_REJECTED: { status: 422, summary: 'The pushed tree failed validation' },
  DEPLOY_BUSY: { status: 409, summary: 'Another push to this app is being processed' },
  ROUTE_NOT_FOUND: { status: 404, summary: 'No route matches the request' },
  METHOD_NOT_ALLOWED: { status: 405, summary: 'The route exists for other methods' },
  BODY_TOO_LARGE: { status: 413, summary: 'The request body exceeds the app limit' },
  SCRIPT_ERROR: { status: 500, summary: 'The script threw or hit a runtime error' },
  SCRIPT_TIMEOUT: { status: 504, summary: 'The script hit its operation limit or timeout' },
  EXECUTOR_CRASHED: { status: 502, summary: 'The executor running the invocation died' },
  NO_CAPACITY: { status: 503, summary: 'No executor capacity; the queue is full' },
  APP_BUSY: { status: 503, summary: "The app uses its whole share of the executors and its wait queue is full (or it waited past timeout_ms, or it holds three quarters of an orchestrator's pending invocations)" },
  QUEUE_UNAVAILABLE: { status: 503, summary: 'The invocation queue (Redis) is unreachable' },
  EXECUTOR_STOPPING: { status: 503, summary: 'An executor process stopped before it started the invocation: nothing ran (its orchestrator sends it to another executor first)' },
  KV_KEY_NOT_FOUND: { status: 404, summary: 'No such key in the app\'s KV store (API)' },
  JOB_NOT_FOUND: { status: 404, summary: 'No dead letter with that id in the app\'s branch (jobs:retry)' },
  KV_LIMIT: { status: 500, summary: 'A script stored a kv key or value over the size limit (key 512 B, value 1 MiB of JSON)' },
  KV_TYPE: { status: 500, summary: 'A script called kv::incr on a value that is not an integer, or past ±(2^53 − 1)' },
  BAD_REQUEST: { status: 400, summary: 'The request is malformed' },
  REQUEST_TIMEOUT: { status: 408, summary: 'The client did not send the whole request (headers and body) in time' },
  INTERNAL: { status: 500, summary: 'An unexpected internal error' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown>;
  readonly httpStatus: number;

  constructor(code: ErrorCode, message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown; httpStatus?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'AppError';
    this.code = code;
    this.data = data;
    this.httpStatus = options?.httpStatus ?? ERROR_CODES[code].status;
  }

  toJSON(): { error: string; code: ErrorCode } & Record<string, unknown> {
    return { error: this.message, code: this.code, ...this.data };
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;
