import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { algorithmsForKey } from '../auth/key-algorithms.ts';

/**
 * Problems with the keys of `auth` that the schema cannot see: keys that do not parse, are
 * of an unsupported type, or are secret where only public ones belong. Read from the raw
 * input, like the other cross-field checks, so they are listed with every other problem.
 */
export function authKeyProblems(auth: unknown): string[] {
  const problems: string[] = [];
  const jwt = field(auth, 'jwt');
  const secret = field(jwt, 'secret');
  if (typeof secret === 'string' && /-----BEGIN [A-Z ]*KEY-----|"kty"\s*:/.test(secret)) {
    // Verifying HS256 with a public key as the secret lets anyone who has it sign tokens.
    problems.push('auth.jwt.secret: holds a PEM or JSON Web Key; set public keys with auth.jwt.public_key or auth.jwt.jwks, never as the HS256 secret');
  }
  const publicKey = field(jwt, 'public_key');
  if (typeof publicKey === 'string' && publicKey !== '') problems.push(...publicKeyProblems(publicKey));
  const jwks = field(jwt, 'jwks');
  const keys = field(jwks, 'keys');
  if (Array.isArray(keys)) keys.forEach((jwk, i) => problems.push(...jwkProblems(jwk, `auth.jwt.jwks.keys.${i}`)));
  const privateKey = field(field(auth, 'dev_tokens'), 'private_key');
  if (typeof privateKey === 'string' && privateKey !== '') problems.push(...devKeyProblems(privateKey));
  return problems;
}

function publicKeyProblems(pem: string): string[] {
  const where = 'auth.jwt.public_key';
  if (isPrivateKey(pem)) return [`${where}: is a private key; set the public key (SPKI PEM) here and keep the private one secret`];
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return [`${where}: not a PEM public key or certificate ("-----BEGIN PUBLIC KEY-----" …)`];
  }
  return typeProblem(key, where);
}

function jwkProblems(jwk: unknown, where: string): string[] {
  if (typeof jwk !== 'object' || jwk === null) return []; // the schema reports it
  const record = jwk as Record<string, unknown>;
  if (record.kty === 'oct') return [`${where}: symmetric keys do not belong in a JWKS here; set the HS256 secret with auth.jwt.secret`];
  if ('d' in record || 'priv' in record) return [`${where}: is a private key; publish public keys only`];
  let key: KeyObject;
  try {
    key = createPublicKey({ key: record as JsonWebKey, format: 'jwk' });
  } catch (error) {
    return [`${where}: not a usable public JSON Web Key (${(error as Error).message})`];
  }
  return typeProblem(key, where);
}

function devKeyProblems(pem: string): string[] {
  const where = 'auth.dev_tokens.private_key';
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    return [`${where}: not a PEM private key ("-----BEGIN PRIVATE KEY-----" …)`];
  }
  return typeProblem(key, where);
}

function typeProblem(key: KeyObject, where: string): string[] {
  const inferred = algorithmsForKey(key);
  return inferred.ok ? [] : [`${where}: ${inferred.problem}`];
}

function isPrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}
