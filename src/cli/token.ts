import { SignJWT } from 'jose';
import { describeProblems, loadConfig } from '../config/load.ts';

/** Options of {@link signDevToken}. */
export interface DevTokenOptions {
  /** The HS256 secret, used as its UTF-8 bytes (as `auth.jwt.secret` is). */
  secret: string;
  /** The user id, written to the `sub` claim. */
  sub: string;
  /** Lifetime: seconds, or text like `30s`, `15m`, `1h`, `7d`. */
  ttl: string | number;
  issuer?: string;
  audience?: string;
}

/**
 * Signs a development token the server accepts when it verifies with `auth.jwt.secret`.
 *
 * @example
 * const token = await signDevToken({ secret: 'dev-secret', sub: 'u1', ttl: '1h' });
 */
export async function signDevToken(options: DevTokenOptions): Promise<string> {
  const seconds = typeof options.ttl === 'number' ? checkTtl(options.ttl, String(options.ttl)) : parseTtl(options.ttl);
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + seconds);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses a lifetime like `30s`, `15m`, `1h`, `7d` (or bare seconds) into seconds.
 * Throws an Error with a readable message on anything else.
 *
 * @example
 * parseTtl('15m'); // 900
 */
export function parseTtl(text: string): number {
  const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!match) throw new Error(`invalid ttl "${text}": use a number with s, m, h or d, e.g. 30s, 15m, 1h, 7d`);
  return checkTtl(Number(match[1]) * UNIT_SECONDS[match[2] || 's']!, text);
}

function checkTtl(seconds: number, text: string): number {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new Error(`invalid ttl "${text}": must be a positive whole number of seconds`);
  return seconds;
}

/**
 * `writepath token`: loads the configuration (file + environment) and signs a token for `sub`
 * with `auth.jwt.secret`, adding `iss`/`aud` when the server checks them.
 * Throws an Error whose message is meant for the terminal when it cannot.
 *
 * @example
 * const token = await runToken({ sub: 'u1', ttl: '1h', configPath: 'writepath.yaml', env: process.env });
 */
export async function runToken(options: {
  sub: string;
  ttl?: string;
  configPath?: string;
  env?: Record<string, string | undefined>;
}): Promise<string> {
  const ttl = options.ttl ?? '1h';
  parseTtl(ttl); // a bad --ttl is reported before a config problem hides it
  const loaded = loadConfig({ file: options.configPath, env: options.env ?? process.env });
  if (!loaded.ok) throw new Error(describeProblems(loaded.problems));
  const jwt = loaded.config.auth?.jwt;
  if (!jwt?.secret) {
    // Without a shared secret this tool cannot produce a token the server would accept.
    const hint = jwt?.jwks_url || jwt?.jwks || jwt?.public_key
      ? 'the server verifies tokens with public keys; get a token from your identity provider'
      : 'set auth.jwt.secret in the configuration or WRITEPATH_AUTH__JWT__SECRET in the environment';
    throw new Error(`no auth.jwt.secret configured (source: ${loaded.source}): ${hint}`);
  }
  return signDevToken({ secret: jwt.secret, sub: options.sub, ttl, issuer: jwt.issuer, audience: jwt.audience });
}
