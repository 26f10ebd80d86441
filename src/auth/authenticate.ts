import { decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { WritepathConfig } from '../config/schema.ts';
import type { AuthContext } from '../core/store.ts';
import { keySources, type KeySource } from './key-sources.ts';
import { claimError, isWrongKey, KeyServerUnavailable, keyServerError, unauthorized } from './token-errors.ts';

/** Turns the Authorization header of a request into the user who sends it, or throws 401 (503 when the key server is down). */
export type Authenticate = (authorization: string | undefined) => Promise<AuthContext>;

/** The user id under `auth.mode: none`, where nobody is verified (local work only). */
export const ANONYMOUS_USER = 'anonymous';

/**
 * Leeway for `exp` and `nbf`: clocks of the identity provider and this server drift, and a
 * token refreshed just before it expires is still in flight. 30 s is small next to token
 * lifetimes (minutes to hours) and what most JWT libraries default to or recommend.
 */
export const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * Builds the verifier of `auth` (PROTOCOL.md sections 2.1 and 5): every configured key
 * source (secret, public_key, jwks, dev tokens, jwks_url) may verify a token; the token's
 * `alg` decides which are asked. Checks `exp` (required), `nbf`, and `iss`/`aud` when
 * configured, and reads the user from `auth.jwt.user_claim`.
 *
 * @example
 * const authenticate = createAuthenticator(config.auth);
 * const { userId } = await authenticate(request.headers.authorization);
 */
export function createAuthenticator(auth: WritepathConfig['auth']): Authenticate {
  if (auth?.mode === 'none') return async () => ({ userId: ANONYMOUS_USER, claims: {} });
  const sources = keySources(auth);
  const userClaim = auth?.jwt?.user_claim ?? 'sub';
  const options: JWTVerifyOptions = {
    issuer: auth?.jwt?.issuer,
    audience: auth?.jwt?.audience,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    // A token without exp would be good forever; PowerSync's service refuses those too.
    requiredClaims: ['exp'],
  };
  return async (authorization) => {
    const token = bearerToken(authorization);
    const alg = tokenAlgorithm(token);
    const candidates = sources.filter((s) => s.algorithms.includes(alg));
    if (candidates.length === 0) {
      const accepted = [...new Set(sources.flatMap((s) => s.algorithms))].join(', ');
      throw unauthorized('token_signature', `the token's alg ${JSON.stringify(alg)} is not accepted (accepted: ${accepted})`);
    }
    const payload = await verifyWithAny(token, candidates, options);
    return { userId: userIdOf(payload, userClaim), claims: payload };
  };
}

function bearerToken(authorization: string | undefined): string {
  if (!authorization) throw unauthorized('token_missing', 'an Authorization: Bearer <token> header is required');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw unauthorized('token_malformed', 'the Authorization header must be "Bearer <token>"');
  return match[1]!;
}

/** The header's alg, read before anything is verified, only to pick the key sources. */
function tokenAlgorithm(token: string): string {
  if (token.split('.').length !== 3) throw unauthorized('token_malformed', 'the token is not a signed JWT (three dot-separated parts)');
  let alg: unknown;
  try {
    ({ alg } = decodeProtectedHeader(token));
  } catch {
    throw unauthorized('token_malformed', 'the token header is not valid base64url JSON');
  }
  if (typeof alg !== 'string' || alg === '') throw unauthorized('token_malformed', 'the token header has no alg');
  return alg;
}

/**
 * Tries the sources in order. A wrong key moves on to the next source; anything else
 * (a claim that fails once a signature verified, a malformed token) is the answer. When
 * no source verifies and one could not reach its key server, the answer is 503: the key
 * may be there.
 */
async function verifyWithAny(token: string, sources: KeySource[], options: JWTVerifyOptions): Promise<JWTPayload> {
  let unreachable: KeyServerUnavailable | undefined;
  for (const source of sources) {
    try {
      const verifyOptions = { ...options, algorithms: [...source.algorithms] };
      const { payload } =
        typeof source.key === 'function' ? await jwtVerify(token, source.key, verifyOptions) : await jwtVerify(token, source.key, verifyOptions);
      return payload;
    } catch (error) {
      if (error instanceof KeyServerUnavailable) {
        unreachable ??= error;
        continue;
      }
      if (isWrongKey(error)) continue;
      throw claimError(error);
    }
  }
  if (unreachable) throw keyServerError(unreachable);
  throw unauthorized('token_signature', 'the token signature does not verify with any configured key');
}

function userIdOf(payload: JWTPayload, userClaim: string): string {
  const userId = payload[userClaim];
  if (typeof userId !== 'string' || userId.length === 0) {
    throw unauthorized('token_malformed', `the token has no ${userClaim} claim naming the user (a non-empty string)`);
  }
  return userId;
}
