import { createLocalJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import { KeyServerUnavailable } from './token-errors.ts';

export interface RemoteKeySetOptions {
  /** Least time between two requests to the key server, successful or not (`auth.jwt.jwks_cooldown_ms`). */
  cooldownMs: number;
  /** How long one request may take, body included (default 5000). */
  timeoutMs?: number;
  /** Keys older than this are fetched again before use (default 10 minutes). */
  maxAgeMs?: number;
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

const MAX_JWKS_CHARS = 1024 * 1024;

/**
 * The keys of a JWKS URL, cached: fetched on first use, again when a token names a key the
 * cache does not hold (rotation) and when they are older than `maxAgeMs`, but never more
 * than once per `cooldownMs`, counting failed requests too, so a flood of tokens with
 * made-up `kid`s, or a key server that is down, costs it one request per cooldown.
 *
 * Not jose's createRemoteJWKSet: its cooldown starts only after a successful fetch, so
 * while the key server is down every request would hit it again (measured: 10 requests,
 * 10 fetches), and stale keys are dropped when a refresh fails. Here keys that fail to
 * refresh stay in use (a known `kid` still verifies while the key server is down), and a
 * key that is not cached while the server cannot be reached is a {@link KeyServerUnavailable}.
 *
 * @example
 * const keys = new RemoteKeySet(new URL('https://id.example/.well-known/jwks.json'), { cooldownMs: 5000 });
 * await jwtVerify(token, keys.getKey, { algorithms: ['RS256'] });
 */
export class RemoteKeySet {
  #keys: LocalKeySet | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  /** The error of the last request when it failed; cleared by a successful one. */
  #failure: unknown;
  #pending: Promise<void> | undefined;
  readonly #timeoutMs: number;
  readonly #maxAgeMs: number;

  /** Requests made to the key server so far. */
  requests = 0;

  constructor(
    readonly url: URL,
    private readonly options: RemoteKeySetOptions,
  ) {
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
  }

  /** A jose key getter: the key for a token's header, fetching under the rules above. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.#keys || Date.now() - this.#fetchedAt >= this.#maxAgeMs) await this.#refresh();
    if (!this.#keys) throw this.#unavailable();
    try {
      return await this.#keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // Maybe a new key: refetch when the cooldown allows, or join a refetch under way.
      if (this.#pending || this.#mayRequest()) {
        await this.#refresh();
        if (this.#failure !== undefined) throw this.#unavailable();
        return this.#keys(header, token);
      }
      // The last request failed: the key may well be on the server we cannot reach.
      if (this.#failure !== undefined) throw this.#unavailable();
      throw error;
    }
  };

  #mayRequest(): boolean {
    return Date.now() - this.#attemptedAt >= this.options.cooldownMs;
  }

  /** One request at a time, at most one per cooldown; failures are kept in #failure, not thrown. */
  async #refresh(): Promise<void> {
    if (!this.#pending) {
      if (!this.#mayRequest()) return;
      this.#attemptedAt = Date.now();
      this.requests += 1;
      this.#pending = this.#fetch()
        .then(
          (keys) => {
            this.#keys = keys;
            this.#fetchedAt = Date.now();
            this.#failure = undefined;
          },
          (error: unknown) => {
            this.#failure = error;
          },
        )
        .finally(() => {
          this.#pending = undefined;
        });
    }
    await this.#pending;
  }

  async #fetch(): Promise<LocalKeySet> {
    const response = await fetch(this.url, {
      // The timeout covers the body too: a server that sends headers and then stalls is down.
      signal: AbortSignal.timeout(this.#timeoutMs),
      // A redirect could lead anywhere, keys included: the configured URL is the one trusted.
      redirect: 'manual',
      headers: { accept: 'application/json, application/jwk-set+json' },
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`the key server answered ${response.status}`);
    }
    const text = await response.text();
    if (text.length > MAX_JWKS_CHARS) throw new Error(`the key set is over ${MAX_JWKS_CHARS} characters`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error('the key server did not answer JSON');
    }
    return createLocalJWKSet(json as Parameters<typeof createLocalJWKSet>[0]); // throws JWKSInvalid when it is no JWKS
  }

  #unavailable(): KeyServerUnavailable {
    const left = this.#attemptedAt + this.options.cooldownMs - Date.now();
    const retryAfterSeconds = Math.max(1, Math.ceil(left / 1000));
    const reason = this.#failure instanceof Error ? this.#failure.message : 'no answer yet';
    return new KeyServerUnavailable(`cannot fetch keys from ${this.url.origin}: ${reason}`, retryAfterSeconds, { cause: this.#failure });
  }
}
