/**
 * The one error root for everything that ends a request with an HTTP error instead of a
 * batch result. Rejections are not errors: they are data in the 200 body.
 */
export class WritepathError extends Error {
  readonly code: string;
  readonly status: number;
  /** Whether the client should retry the same request later (503). */
  readonly retryable: boolean;
  /** Seconds for `Retry-After` on a retryable error. */
  readonly retryAfterSeconds: number | undefined;

  constructor(options: {
    code: string;
    status: number;
    message: string;
    retryable?: boolean;
    retryAfterSeconds?: number;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.name = 'WritepathError';
    this.code = options.code;
    this.status = options.status;
    this.retryable = options.retryable ?? options.status === 503;
    this.retryAfterSeconds = options.retryAfterSeconds ?? (this.retryable ? 1 : undefined);
  }

  /** The wire form; never carries the cause, which may hold internals. */
  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** 400: the request itself is malformed; retrying it unchanged cannot help. */
export const badRequest = (code: string, message: string) => new WritepathError({ code, status: 400, message });

/** 503: temporary; nothing was applied and the same request may succeed later. */
export const unavailable = (code: string, message: string, cause?: unknown, retryAfterSeconds?: number) =>
  new WritepathError({ code, status: 503, message, cause, retryable: true, retryAfterSeconds });

/** 500: the server's own problem (its configuration, its database role) or a bug. */
export const serverError = (code: string, message: string, cause?: unknown) =>
  new WritepathError({ code, status: 500, message, cause, retryable: false });
