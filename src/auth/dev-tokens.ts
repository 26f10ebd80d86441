import { createPrivateKey, createPublicKey, generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { AuthConfig } from '../config/schema.ts';
import { algorithmsForKey } from './key-algorithms.ts';
import { signToken } from './sign-token.ts';

/** Lifetime of a token from `GET /api/auth/token`. */
export const DEV_TOKEN_TTL_SECONDS = 3600;

/** Signs development tokens with the dev key pair and publishes its public half. */
export interface DevTokenIssuer {
  readonly alg: string;
  readonly kid: string;
  /** The user of a token asked for without one: `auth.dev_tokens.user_id`, else a UUID made once. */
  readonly defaultUserId: string;
  /** The public key only, as a JWKS (for `GET /api/auth/keys` and the server's own check). */
  readonly jwks: { keys: JWK[] };
  sign(userId: string, ttlSeconds?: number): Promise<string>;
}

// One issuer per auth configuration object: the authenticator (which must accept the dev
// tokens) and the routes (which sign them) are built from the same config independently,
// and a key pair made at start must be the same for both.
const issuers = new WeakMap<AuthConfig, Promise<DevTokenIssuer>>();

/**
 * The dev token issuer of a configuration: the key of `auth.dev_tokens.private_key`, or an
 * RS256 key pair made on first use and kept in memory only (RS256: every PowerSync service
 * version accepts it). The same auth object always gets the same issuer.
 *
 * @example
 * const issuer = await devTokenIssuer(config.auth!);
 * const token = await issuer.sign('u1');
 */
export function devTokenIssuer(auth: AuthConfig): Promise<DevTokenIssuer> {
  let issuer = issuers.get(auth);
  if (!issuer) {
    issuer = createIssuer(auth);
    issuers.set(auth, issuer);
  }
  return issuer;
}

async function createIssuer(auth: AuthConfig): Promise<DevTokenIssuer> {
  const dev = auth.dev_tokens;
  const privateKey = dev.private_key ? createPrivateKey(dev.private_key) : await generateRsaKey();
  const inferred = algorithmsForKey(privateKey);
  if (!inferred.ok) throw new Error(`auth.dev_tokens.private_key: ${inferred.problem}`);
  const alg = inferred.algorithms[0]!;
  const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const kid = dev.kid ?? (await calculateJwkThumbprint(publicJwk));
  const jwk: JWK = { ...publicJwk, kid, alg, use: 'sig' };
  const defaultUserId = dev.user_id ?? randomUUID();
  const jwt = auth.jwt;
  return {
    alg,
    kid,
    defaultUserId,
    jwks: { keys: [jwk] },
    sign: (userId, ttlSeconds = DEV_TOKEN_TTL_SECONDS) =>
      signToken({ privateKey, alg, kid }, { userId, userClaim: jwt?.user_claim, ttlSeconds, issuer: jwt?.issuer, audience: jwt?.audience }),
  };
}

async function generateRsaKey(): Promise<KeyObject> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return privateKey;
}
