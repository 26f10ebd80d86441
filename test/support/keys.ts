import { randomUUID } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/** A key pair for tests: sign tokens with it, publish its public half as JWK or PEM. */
export interface TestKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  /** Public JWK with kid, alg and use. */
  jwk: JWK;
  /** Public key as SPKI PEM. */
  pem: string;
  /** Signs a token: `sub` u1 and a one-hour `exp` unless `claims`/`header` say otherwise. */
  sign(claims?: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

export async function makeKey(alg: 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA', kid: string = randomUUID()): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const pem = await exportSPKI(publicKey);
  const sign = (claims: JWTPayload = {}, header: Record<string, unknown> = {}) => signWith(privateKey, { alg, kid, ...header }, claims);
  return { alg, kid, privateKey, jwk, pem, sign };
}

/** Signs `claims` (default sub u1, exp in one hour) with any key and protected header. */
export async function signWith(key: CryptoKey | Uint8Array, header: Record<string, unknown> & { alg: string }, claims: JWTPayload = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub: 'u1', exp: now + 3600, ...claims }).setProtectedHeader(header).sign(key);
}

/** An unsigned `alg: none` token. */
export function unsignedToken(claims: JWTPayload = { sub: 'u1', exp: Math.floor(Date.now() / 1000) + 3600 }): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}
