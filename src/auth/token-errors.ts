import { errors } from 'jose';
import { unavailable, WritepathError } from '../core/errors.ts';

/**
 * The error a key source throws when the keys it needs are on a server it cannot reach
 * (refused, timed out, not 200, not a JWKS). Answered 503, never 401: the token may be fine.
 */
export class KeyServerUnavailable extends Error {
  constructor(
    message: string,
    /** Seconds until the key server will be asked again (the cooldown left). */
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KeyServerUnavailable';
  }
}

/** A 401 with one of the codes of PROTOCOL.md section 2.1. Carries no cause: nothing of the token reaches a log. */
export function unauthorized(code: string, message: string): WritepathError {
  return new WritepathError({ code, status: 401, message });
}

/** The 503 for a key server that cannot be reached; the cause (a network error) is logged, the token is not in it. */
export function keyServerError(error: KeyServerUnavailable): WritepathError {
  return unavailable('key_server_unavailable', 'the key server that verifies tokens cannot be reached; retry', error, error.retryAfterSeconds);
}

/**
 * Whether a verification error only says "this key does not verify this token", so another
 * configured source may still: a bad signature, no key with that kid/alg, or a key jose
 * cannot use for the token's alg (a TypeError, e.g. an RSA key under 2048 bits).
 */
export function isWrongKey(error: unknown): boolean {
  return (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys ||
    error instanceof errors.JWKSInvalid ||
    error instanceof errors.JOSEAlgNotAllowed ||
    error instanceof errors.JOSENotSupported ||
    error instanceof TypeError
  );
}

/**
 * Maps what jose throws after the signature verified (claims) or before any key was
 * looked at (structure) to the 401 codes. Claims are only checked on a verified token,
 * so a wrong issuer is never reported for a forged one.
 */
export function claimError(error: unknown): WritepathError {
  if (error instanceof errors.JWTExpired) return unauthorized('token_expired', 'the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return unauthorized('token_issuer', 'the token has the wrong issuer (iss)');
    if (error.claim === 'aud') return unauthorized('token_audience', 'the token has the wrong audience (aud)');
    if (error.claim === 'nbf') return unauthorized('token_expired', 'the token is not valid yet (nbf)');
    if (error.reason === 'missing') return unauthorized('token_malformed', `the token has no ${error.claim} claim`);
    return unauthorized('token_malformed', `the token's ${error.claim} claim is invalid`);
  }
  if (isWrongKey(error)) return unauthorized('token_signature', 'the token signature does not verify with any configured key');
  return unauthorized('token_malformed', 'the token is not a valid JWT');
}
