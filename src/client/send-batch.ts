import type { BatchResponse } from '../protocol/response.ts';
import { UploadError, type UploadErrorCode } from './upload-error.ts';

export interface BatchPost {
  endpoint: string;
  token: string;
  clientId: string;
  /** The JSON body, `{client_id, batch}`. */
  body: string;
  /** Entries in `body`, to check the answer against. */
  entries: number;
  fetch: typeof fetch;
  timeoutMs: number;
}

/** A 200 with its batch result, or a 413: the caller decides whether to shrink or give up. */
export type BatchOutcome = { kind: 'processed'; result: BatchResponse } | { kind: 'too_large'; message: string };

/**
 * POSTs one batch. Resolves on 200 (checked to be the result for this batch) and 413;
 * throws an `UploadError` for everything else.
 */
export async function postBatch(post: BatchPost): Promise<BatchOutcome> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), post.timeoutMs);
  let response: Response;
  let text: string;
  try {
    response = await post.fetch(post.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${post.token}` },
      body: post.body,
      signal: abort.signal,
    });
    text = await response.text();
  } catch (cause) {
    const message = abort.signal.aborted
      ? `no answer from ${post.endpoint} within ${post.timeoutMs} ms`
      : `could not reach ${post.endpoint}: ${cause instanceof Error ? cause.message : String(cause)}`;
    throw new UploadError({ code: 'network', message, retryable: true, cause });
  } finally {
    clearTimeout(timer);
  }
  const body = parseJson(text);

  if (response.status === 200) {
    if (!isResultFor(body, post)) {
      throw new UploadError({
        code: 'bad_response',
        status: 200,
        message: `the 200 from ${post.endpoint} is not a writepath batch result for the ${post.entries} entries sent: ${text.slice(0, 200)}`,
        retryable: false,
      });
    }
    return { kind: 'processed', result: body };
  }
  const serverCode = errorField(body, 'code');
  const serverMessage = errorField(body, 'message') ?? text.slice(0, 200);
  if (response.status === 413) return { kind: 'too_large', message: serverMessage };
  const [code, retryable] = classify(response.status);
  throw new UploadError({
    code,
    status: response.status,
    ...(serverCode !== undefined && { serverCode }),
    message: `${post.endpoint} answered ${response.status}${serverCode ? ` ${serverCode}` : ''}: ${serverMessage}`,
    retryable,
    ...retryAfter(response.headers.get('retry-after')),
  });
}

function classify(status: number): [UploadErrorCode, boolean] {
  if (status === 401) return ['unauthorized', true];
  if (status === 429) return ['rate_limited', true];
  // 408: the server timed the request out before it had it all, so nothing was applied.
  if (status === 503 || status === 408) return ['unavailable', true];
  if (status >= 500) return ['server_error', true];
  return ['bad_request', false];
}

/** The answer must account for every entry sent, for this client: then completing is safe. */
function isResultFor(body: unknown, post: BatchPost): body is BatchResponse {
  if (typeof body !== 'object' || body === null) return false;
  const r = body as Partial<BatchResponse>;
  const counts = [r.applied, r.duplicates, r.skipped, r.last_op_id];
  if (!counts.every((n) => typeof n === 'number') || !Array.isArray(r.rejected) || r.client_id !== post.clientId) return false;
  return r.applied! + r.duplicates! + r.skipped! + r.rejected.length === post.entries;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorField(body: unknown, field: 'code' | 'message'): string | undefined {
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  const value = typeof error === 'object' && error !== null ? error[field] : undefined;
  return typeof value === 'string' ? value : undefined;
}

function retryAfter(header: string | null): { retryAfterSeconds?: number } {
  const seconds = header === null ? NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? { retryAfterSeconds: seconds } : {};
}
