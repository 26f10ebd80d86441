import { UploadError } from './upload-error.ts';

/**
 * What `credentials()` may give: the token itself, or an object with it, such as what a
 * connector's `fetchCredentials()` returns (`{ endpoint, token, expiresAt? }`; `endpoint`
 * is the PowerSync service's and is ignored). `null` or `undefined`: not signed in.
 */
export type Credentials = string | { token: string; expiresAt?: Date | undefined } | null | undefined;

/** Refetch this long before `expiresAt`, so a token does not expire on its way. */
const EXPIRY_MARGIN_MS = 10_000;

/** The token of the last `credentials()` call, until a 401 or its `expiresAt` says it is stale. */
export class TokenCache {
  private cached: { token: string; expiresAt: number | undefined } | undefined;

  constructor(
    private readonly source: () => Credentials | Promise<Credentials>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    const cached = this.cached;
    if (cached && (cached.expiresAt === undefined || cached.expiresAt - EXPIRY_MARGIN_MS > this.now())) return cached.token;
    const credentials = await this.source();
    const token = typeof credentials === 'string' ? credentials : credentials?.token;
    if (!token) {
      throw new UploadError({ code: 'no_credentials', message: 'credentials() returned no token: not signed in', retryable: true });
    }
    const expiresAt = typeof credentials === 'object' ? credentials?.expiresAt?.getTime() : undefined;
    this.cached = { token, expiresAt };
    return token;
  }

  /** Forgets the token: the next `get()` asks `credentials()` again. */
  invalidate(): void {
    this.cached = undefined;
  }
}
