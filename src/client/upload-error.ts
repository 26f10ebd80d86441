/** Why an upload did not go through, as `onError` receives it and `uploadData` throws it. */
export type UploadErrorCode =
  /** 413 for a request holding one client transaction: it is over the server's limit and is never sent in parts. */
  | 'transaction_too_large'
  /** 401: the token was refused; it is dropped and fetched again for the next attempt. */
  | 'unauthorized'
  /** `credentials()` gave no token (signed out) or threw. */
  | 'no_credentials'
  /** 429: over the server's rate limit. */
  | 'rate_limited'
  /** 503: temporary (database down, shutting down, a held column), or 408 (the request arrived too slowly); nothing was applied. */
  | 'unavailable'
  /** 500 and other 5xx: the server's own problem; nothing was applied. */
  | 'server_error'
  /** 400, 415 and other 4xx: the request itself is wrong; only a fix of the app or the server helps. */
  | 'bad_request'
  /** No answer: the network failed or the request timed out. The batch may have been applied; a retry is then all duplicates. */
  | 'network'
  /** A 200 whose body is not the batch result for what was sent (e.g. the URL points at another backend). Nothing is completed. */
  | 'bad_response'
  /** `onRejected` threw. Reported only: the batch was completed, the queue moves on. */
  | 'on_rejected_failed';

export class UploadError extends Error {
  readonly code: UploadErrorCode;
  /** The HTTP status, when there was an answer. */
  readonly status: number | undefined;
  /** The server's own error code (`error.code` of the body), when it sent one. */
  readonly serverCode: string | undefined;
  /** Whether the same request can succeed later without anyone changing anything. */
  readonly retryable: boolean;
  /** From `Retry-After`, when the server sent it. */
  readonly retryAfterSeconds: number | undefined;

  constructor(options: {
    code: UploadErrorCode;
    message: string;
    status?: number;
    serverCode?: string;
    retryable: boolean;
    retryAfterSeconds?: number;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.name = 'UploadError';
    this.code = options.code;
    this.status = options.status;
    this.serverCode = options.serverCode;
    this.retryable = options.retryable;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
