import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WritepathError } from '../core/errors.ts';

const ADMIN_REALM = 'writepath';

/**
 * The check in front of `/metrics`, `/dashboard` and `/admin/*`: `Authorization: Bearer
 * <admin.token>`, and with `basic` (the dashboard, for a browser) also HTTP Basic auth
 * with the token as the password, any user name. Users' JWTs are just wrong tokens here,
 * and a token in the query string is never read. A refusal is a 401 with the error body
 * and a `WWW-Authenticate` challenge (Basic on the dashboard, so the browser prompts).
 */
export function adminGuard(adminToken: string, options: { basic: boolean }) {
  const expected = digest(adminToken);
  // RFC 7617: charset tells the browser to send the password as UTF-8.
  const challenge = options.basic ? `Basic realm="${ADMIN_REALM}", charset="UTF-8"` : `Bearer realm="${ADMIN_REALM}"`;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const given = presentedToken(request.headers.authorization, options.basic);
    // Digests have one length whatever was sent, so the comparison takes the same time.
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return undefined;
    const error = given === undefined ? missing(options.basic) : invalid();
    return reply
      .status(401)
      .header('www-authenticate', challenge)
      .header('cache-control', 'no-store')
      .send(error.toJSON());
  };
}

/** The token of a Bearer (or, when allowed, Basic) Authorization header; undefined when there is none. */
function presentedToken(header: string | undefined, basic: boolean): string | undefined {
  if (!header) return undefined;
  // Whatever follows the scheme, so that any configured token (spaces included) matches.
  // Not a regular expression: a lazy match against a header of spaces took time quadratic
  // in its length, on requests that need no credential to send.
  if (/^bearer /i.test(header)) {
    const token = header.slice('bearer '.length).trim();
    if (token) return token;
  }
  const credentials = basic ? /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header) : null;
  if (credentials) {
    const decoded = Buffer.from(credentials[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : '';
  }
  // Some other scheme: a credential all the same, and a wrong one.
  return '';
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function missing(basic: boolean): WritepathError {
  const how = basic ? 'Authorization: Bearer <admin.token>, or Basic auth with admin.token as the password' : 'Authorization: Bearer <admin.token>';
  return new WritepathError({ code: 'admin_token_missing', status: 401, message: `this endpoint needs ${how}` });
}

function invalid(): WritepathError {
  return new WritepathError({ code: 'admin_token_invalid', status: 401, message: 'the credential is not the admin token' });
}
