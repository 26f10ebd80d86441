import type { BatchResponse, RejectedEntry } from '../protocol/response.ts';
import { TokenCache, type Credentials } from './credentials.ts';
import { postBatch } from './send-batch.ts';
import { UploadError } from './upload-error.ts';
import { entryCount, fitting, readTransactions, type UploadQueue } from './upload-queue.ts';

export interface UploaderOptions {
  /** The writepath server, e.g. `https://writes.example.com`; batches go to `${url}/api/data`. */
  url: string;
  /**
   * The token for the server: called for the first upload, again after a 401 and when the
   * `expiresAt` it gave is near. May return the token or `{ token, expiresAt? }`, so a
   * connector's own `fetchCredentials` fits (its `endpoint` is ignored).
   */
  credentials: () => Credentials | Promise<Credentials>;
  /**
   * Most entries per request (default 1000). Whole client transactions only: a transaction
   * larger than this goes alone. Halved whenever the server answers 413.
   */
  maxBatchOps?: number;
  /**
   * Entries the server rejected (PROTOCOL.md section 3), after their batch was completed:
   * they are gone from the queue, and kept in the server's `writepath_rejections`. Show them
   * to the user, or undo them locally. An error thrown here is passed to `onError`.
   */
  onRejected?: (rejected: RejectedEntry[], result: BatchResponse) => void | Promise<void>;
  /**
   * Every failed upload, just before `uploadData` throws it and the SDK retries after its
   * `retryDelayMs`: for logs and UI. `code: 'transaction_too_large'` needs attention: that
   * transaction blocks the queue until the server accepts larger bodies.
   */
  onError?: (error: UploadError) => void;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Give up waiting for an answer after this long (default 60 s); the SDK retries. */
  timeoutMs?: number;
}

/** The `uploadData` of a `PowerSyncBackendConnector`. */
export type UploadData = (database: UploadQueue) => Promise<void>;

export const DEFAULT_MAX_BATCH_OPS = 1000;
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Makes the `uploadData` of a PowerSync connector for a writepath server. Each call sends
 * the oldest whole client transactions, as many as fit in the budget, and completes them
 * only once the server has committed them (a 200); rejected entries go to `onRejected`.
 * Anything else throws, so the SDK keeps the queue and retries: the server's ledger makes a
 * retried batch land exactly once.
 *
 * @example
 * ```ts
 * const uploadData = createUploader({
 *   url: 'https://writes.example.com',
 *   credentials: () => auth.getToken(),
 *   onRejected: (rejected) => toast(`${rejected.length} changes were refused`),
 * });
 * await db.connect({ fetchCredentials, uploadData });
 * ```
 */
export function createUploader(options: UploaderOptions): UploadData {
  const endpoint = dataEndpoint(options.url);
  const maxBatchOps = options.maxBatchOps ?? DEFAULT_MAX_BATCH_OPS;
  if (!Number.isSafeInteger(maxBatchOps) || maxBatchOps < 1) throw new TypeError(`maxBatchOps must be a positive integer, got ${maxBatchOps}`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const tokens = new TokenCache(options.credentials);
  // Learnt from 413s and kept for the life of the uploader: the server's limits rarely change.
  let budget = maxBatchOps;

  const fail = (error: UploadError): UploadError => {
    try {
      options.onError?.(error);
    } catch {
      // A broken error handler must not change what the SDK sees.
    }
    return error;
  };

  return async function uploadData(database: UploadQueue): Promise<void> {
    const transactions = await readTransactions(database, budget);
    if (transactions.length === 0) return;
    const clientId = await database.getClientId();
    let count = transactions.length;
    for (;;) {
      const sending = transactions.slice(0, count);
      const entries = entryCount(sending);
      const token = await tokens.get().catch((cause: unknown) => {
        throw fail(
          cause instanceof UploadError
            ? cause
            : new UploadError({ code: 'no_credentials', message: `credentials() failed: ${String(cause)}`, retryable: true, cause }),
        );
      });
      const outcome = await postBatch({
        endpoint,
        token,
        clientId,
        body: JSON.stringify({ client_id: clientId, batch: sending.flatMap((t) => t.crud) }),
        entries,
        fetch: options.fetch ?? globalThis.fetch,
        timeoutMs,
      }).catch((error: unknown) => {
        if (error instanceof UploadError && error.code === 'unauthorized') tokens.invalidate();
        throw error instanceof UploadError ? fail(error) : error;
      });

      if (outcome.kind === 'too_large') {
        if (count === 1) {
          throw fail(
            new UploadError({
              code: 'transaction_too_large',
              status: 413,
              message: `a client transaction of ${entries} entries is over the server's limit and cannot be split: it stays queued until the server accepts it (${outcome.message})`,
              retryable: false,
            }),
          );
        }
        // Smaller requests at once: the server refused the size, not the data.
        budget = Math.max(1, Math.floor(entries / 2));
        count = fitting(sending, budget);
        continue;
      }

      await sending[sending.length - 1]!.complete();
      const { result } = outcome;
      if (result.rejected.length > 0 && options.onRejected) {
        try {
          await options.onRejected(result.rejected, result);
        } catch (cause) {
          fail(new UploadError({ code: 'on_rejected_failed', message: `onRejected threw: ${String(cause)}`, retryable: false, cause }));
        }
      }
      return;
    }
  };
}

/** `${url}/api/data`, whether or not `url` already names it. */
function dataEndpoint(url: string): string {
  if (typeof url !== 'string' || url.length === 0) throw new TypeError('url must be the writepath server, e.g. https://writes.example.com');
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/api/data') ? base : `${base}/api/data`;
}
