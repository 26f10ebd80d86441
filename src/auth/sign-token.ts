import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/** What signs a token: the HS256 secret, or a private key with its algorithm and kid. */
export type SigningKey = { secret: string } | { privateKey: KeyObject; alg: string; kid: string };

export interface TokenClaims {
  /** The user id, written to `sub` and, when it is another claim, to `userClaim` too. */
  userId: string;
  /** `auth.jwt.user_claim`, so the token carries the user where the server looks for it. */
  userClaim?: string;
  ttlSeconds: number;
  issuer?: string;
  audience?: string;
}

/**
 * Signs a token the server accepts for the given key and the configured checks.
 *
 * @example
 * const token = await signToken({ secret: 'dev-secret' }, { userId: 'u1', ttlSeconds: 3600 });
 */
export async function signToken(key: SigningKey, claims: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const extra = claims.userClaim && claims.userClaim !== 'sub' ? { [claims.userClaim]: claims.userId } : {};
  let jwt = new SignJWT(extra)
    .setProtectedHeader('secret' in key ? { alg: 'HS256', typ: 'JWT' } : { alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlSeconds);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign('secret' in key ? new TextEncoder().encode(key.secret) : key.privateKey);
}
