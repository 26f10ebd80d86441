import { errors, jwtVerify } from 'jose';
import type { WritepathConfig } from '../config/schema.ts';
import { WritepathError } from '../core/errors.ts';
import type { AuthContext } from '../core/store.ts';

/** Turns the Authorization header of a request into the user who sends it, or throws 401. */
export type Authenticate = (authorization: string | undefined) => Promise<AuthContext>;

/** The user id under `auth.mode: none`, where nobody is verified (local work only). */
export const ANONYMOUS_USER = 'anonymous';

const CLOCK_TOLERANCE_SECONDS = 30;

export function createAuthenticator(auth: WritepathConfig['auth']): Authenticate {
  if (auth?.mode === 'none') return async () => ({ userId: ANONYMOUS_USER, claims: {} });
  const jwt = auth?.jwt;
  if (!jwt?.secret) {
    throw new Error('auth.jwt.secret is required (JWKS and public keys come with the authorization issue)');
  }
  const key = new TextEncoder().encode(jwt.secret);
  const userClaim = jwt.user_claim;
  return async (authorization) => {
    const token = bearerToken(authorization);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, key, {
        // Only what the configured key can verify: refuses `alg: none` and algorithm confusion.
        algorithms: ['HS256'],
        issuer: jwt.issuer,
        audience: jwt.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (error) {
      throw tokenError(error);
    }
    const userId = payload[userClaim];
    if (typeof userId !== 'string' || userId.length === 0) {
      throw unauthorized('token_malformed', `the token has no ${userClaim} claim naming the user`);
    }
    return { userId, claims: payload };
  };
}

function bearerToken(authorization: string | undefined): string {
  if (!authorization) throw unauthorized('token_missing', 'an Authorization: Bearer <token> header is required');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw unauthorized('token_malformed', 'the Authorization header must be "Bearer <token>"');
  return match[1]!;
}

/** Maps jose's errors to the 401 codes of PROTOCOL.md section 2.1. */
function tokenError(error: unknown): WritepathError {
  if (error instanceof errors.JWTExpired) return unauthorized('token_expired', 'the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return unauthorized('token_issuer', 'the token has the wrong issuer');
    if (error.claim === 'aud') return unauthorized('token_audience', 'the token has the wrong audience');
    if (error.claim === 'nbf') return unauthorized('token_expired', 'the token is not valid yet (nbf)');
    return unauthorized('token_malformed', `the token's ${error.claim} claim is invalid`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JOSEAlgNotAllowed) {
    return unauthorized('token_signature', 'the token signature does not verify with the configured key');
  }
  return unauthorized('token_malformed', 'the token is not a valid JWT');
}

function unauthorized(code: string, message: string): WritepathError {
  return new WritepathError({ code, status: 401, message });
}
