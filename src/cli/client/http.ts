/** The API client used by the verbs: JSON over fetch with the Bearer token; errors become ApiError. */
import type { Credentials } from './credentials.ts';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Call the API; resolves to the parsed JSON body, rejects with ApiError (status 0 = unreachable). */
export async function api<T = unknown>(
  creds: Credentials,
  method: string,
  urlPath: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${creds.server}/api/v1${urlPath}`, {
      method,
      headers: {
        authorization: `Bearer ${creds.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal,
    });
  } catch (e) {
    const c = (e as { cause?: { code?: string; errors?: { code?: string }[]; message?: string } }).cause;
    const cause = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (e as Error).message;
    throw new ApiError(`cannot reach ${creds.server} (${cause})`, 0, 'UNREACHABLE');
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const p = parsed as { error?: string; code?: string } | null;
    throw new ApiError(p?.error ?? `HTTP ${res.status}`, res.status, p?.code ?? 'HTTP_ERROR');
  }
  return parsed as T;
}

export const q = (params: Record<string, string | undefined>): string => {
  const s = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  return s ? `?${s}` : '';
};
