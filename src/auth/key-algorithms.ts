import type { KeyObject } from 'node:crypto';

/**
 * The JWS algorithms writepath verifies, fixed here: a token whose `alg` is not in this
 * list (`none`, `HS384`, anything new) is refused before any key is looked at.
 */
export const SECRET_ALGORITHMS = ['HS256'] as const;

/** Asymmetric algorithms; JWKS keys are matched to them by jose (kty, crv, `alg` when present). */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA', 'Ed25519',
] as const;

const RSA = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const RSA_PSS = ['PS256', 'PS384', 'PS512'];
const EC_BY_CURVE: Record<string, string[]> = { prime256v1: ['ES256'], secp384r1: ['ES384'], secp521r1: ['ES512'] };
const MIN_RSA_BITS = 2048;

/**
 * The algorithms a PEM key can verify, inferred from its type (a PEM carries no `alg`), or
 * a problem naming why it cannot be used. The first algorithm is the one to sign with.
 *
 * @example
 * algorithmsForKey(createPublicKey(pem)); // { ok: true, algorithms: ['ES256'] }
 */
export function algorithmsForKey(key: KeyObject): { ok: true; algorithms: string[] } | { ok: false; problem: string } {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa' || type === 'rsa-pss') {
    // jose refuses smaller RSA keys; say so at start rather than with every token.
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS) return { ok: false, problem: `an RSA key needs at least ${MIN_RSA_BITS} bits, this one has ${details.modulusLength}` };
    return { ok: true, algorithms: type === 'rsa' ? RSA : RSA_PSS };
  }
  if (type === 'ec') {
    const algorithms = EC_BY_CURVE[details.namedCurve ?? ''];
    if (algorithms) return { ok: true, algorithms };
    return { ok: false, problem: `the EC curve ${details.namedCurve} is not supported (use P-256, P-384 or P-521)` };
  }
  if (type === 'ed25519') return { ok: true, algorithms: ['EdDSA', 'Ed25519'] };
  return { ok: false, problem: `${type ?? 'this'} keys are not supported (use RSA, EC P-256/P-384/P-521 or Ed25519)` };
}
