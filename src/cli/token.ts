import { devTokenIssuer } from '../auth/dev-tokens.ts';
import { signToken } from '../auth/sign-token.ts';
import { describeProblems, loadConfig } from '../config/load.ts';

/** Options of {@link signDevToken}. */
export interface DevTokenOptions {
  /** The HS256 secret, used as its UTF-8 bytes (as `auth.jwt.secret` is). */
  secret: string;
  /** The user id, written to the `sub` claim (and to `userClaim` when that is another claim). */
  sub: string;
  /** Lifetime: seconds, or text like `30s`, `15m`, `1h`, `7d`. */
  ttl: string | number;
  issuer?: string;
  audience?: string;
  /** `auth.jwt.user_claim`, when the server reads the user from another claim than `sub`. */
  userClaim?: string;
}

/**
 * Signs a development token the server accepts when it verifies with `auth.jwt.secret`.
 *
 * @example
 * const token = await signDevToken({ secret: 'dev-secret', sub: 'u1', ttl: '1h' });
 */
export async function signDevToken(options: DevTokenOptions): Promise<string> {
  const ttlSeconds = typeof options.ttl === 'number' ? checkTtl(options.ttl, String(options.ttl)) : parseTtl(options.ttl);
  const { secret, sub: userId, issuer, audience, userClaim } = options;
  return signToken({ secret }, { userId, userClaim, ttlSeconds, issuer, audience });
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
 * that the configured server accepts: with `auth.dev_tokens.private_key` when dev tokens are
 * enabled (the token then works for a PowerSync service that reads `/api/auth/keys` too),
 * else with `auth.jwt.secret`; with the configured `iss`/`aud`, and the user in
 * `auth.jwt.user_claim` as well as `sub`.
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
  const ttlSeconds = parseTtl(ttl); // a bad --ttl is reported before a config problem hides it
  const loaded = loadConfig({ file: options.configPath, env: options.env ?? process.env });
  if (!loaded.ok) throw new Error(describeProblems(loaded.problems));
  const auth = loaded.config.auth;
  const jwt = auth?.jwt;
  if (auth?.dev_tokens.enabled && auth.dev_tokens.private_key) return (await devTokenIssuer(auth)).sign(options.sub, ttlSeconds);
  if (jwt?.secret) {
    return signDevToken({ secret: jwt.secret, sub: options.sub, ttl: ttlSeconds, issuer: jwt.issuer, audience: jwt.audience, userClaim: jwt.user_claim });
  }
  // Without a key of its own this tool cannot produce a token the server would accept.
  const hint = auth?.dev_tokens.enabled
    ? 'the dev key is made anew at every start: get a token from GET /api/auth/token, or set auth.dev_tokens.private_key'
    : jwt?.jwks_url || jwt?.jwks || jwt?.public_key
      ? 'the server verifies tokens with public keys; get a token from your identity provider (or enable auth.dev_tokens with a private_key)'
      : 'set auth.jwt.secret in the configuration or WRITEPATH_AUTH__JWT__SECRET in the environment';
  throw new Error(`no auth.jwt.secret or auth.dev_tokens.private_key configured (source: ${loaded.source}): ${hint}`);
}
