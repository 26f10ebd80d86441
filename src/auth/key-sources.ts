import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from '../config/schema.ts';
import { devTokenIssuer } from './dev-tokens.ts';
import { algorithmsForKey, ASYMMETRIC_ALGORITHMS, SECRET_ALGORITHMS } from './key-algorithms.ts';
import { RemoteKeySet } from './remote-jwks.ts';

/**
 * One configured way to verify tokens. A token is offered only to the sources whose
 * `algorithms` hold its header's `alg`: an HS256 token goes to the secret alone, an RS256
 * one never does, so a public key can never serve as an HMAC secret (algorithm confusion),
 * and `alg: none` reaches no source at all.
 */
export interface KeySource {
  /** The configuration key it comes from, for messages. */
  name: string;
  algorithms: readonly string[];
  key: Uint8Array | KeyObject | JWTVerifyGetKey;
}

/**
 * The key sources of `auth`, local ones first so that a token they verify never makes a
 * request to the key server. Throws when none is configured or a key cannot be used (the
 * configuration check reports those first, with every other problem).
 *
 * @example
 * const sources = keySources({ mode: 'jwt', jwt: { secret: 's', user_claim: 'sub', jwks_cooldown_ms: 5000 }, dev_tokens: { enabled: false } });
 */
export function keySources(auth: AuthConfig | undefined): KeySource[] {
  const jwt = auth?.jwt;
  const sources: KeySource[] = [];
  if (jwt?.secret) {
    sources.push({ name: 'auth.jwt.secret', algorithms: SECRET_ALGORITHMS, key: new TextEncoder().encode(jwt.secret) });
  }
  if (jwt?.public_key) {
    const key = createPublicKey(jwt.public_key);
    sources.push({ name: 'auth.jwt.public_key', algorithms: usableKey(key, 'auth.jwt.public_key'), key });
  }
  if (jwt?.jwks) {
    sources.push({ name: 'auth.jwt.jwks', algorithms: ASYMMETRIC_ALGORITHMS, key: createLocalJWKSet(jwt.jwks as Parameters<typeof createLocalJWKSet>[0]) });
  }
  if (auth?.dev_tokens.enabled) {
    // A bad private key stops the start here rather than failing every token later.
    if (auth.dev_tokens.private_key) usableKey(createPrivateKey(auth.dev_tokens.private_key), 'auth.dev_tokens.private_key');
    const local = devTokenIssuer(auth).then((issuer) => createLocalJWKSet(issuer.jwks));
    local.catch(() => undefined); // observed when a token is verified; not an unhandled rejection before that
    sources.push({ name: 'auth.dev_tokens', algorithms: ASYMMETRIC_ALGORITHMS, key: async (header, token) => (await local)(header, token) });
  }
  if (jwt?.jwks_url) {
    const remote = new RemoteKeySet(new URL(jwt.jwks_url), { cooldownMs: jwt.jwks_cooldown_ms });
    sources.push({ name: 'auth.jwt.jwks_url', algorithms: ASYMMETRIC_ALGORITHMS, key: remote.getKey });
  }
  if (sources.length === 0) {
    throw new Error('auth.jwt: no key to verify tokens; set secret, jwks_url, jwks or public_key (or auth.dev_tokens.enabled)');
  }
  return sources;
}

function usableKey(key: KeyObject, where: string): string[] {
  const inferred = algorithmsForKey(key);
  if (!inferred.ok) throw new Error(`${where}: ${inferred.problem}`);
  return inferred.algorithms;
}
