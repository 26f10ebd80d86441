import type { FastifyInstance } from 'fastify';
import { devTokenIssuer } from '../auth/dev-tokens.ts';
import { badRequest } from '../core/errors.ts';
import type { WritepathPluginOptions } from './plugin.ts';

const MAX_USER_ID_LENGTH = 255;

/**
 * The development token endpoints the PowerSync demo backends offer, registered only with
 * `auth.dev_tokens.enabled` (otherwise they do not exist: 404):
 *
 * - `GET /api/auth/token[?user_id=U]` answers `{ token, user_id, powersync_url? }`: a token
 *   for U, else for `auth.dev_tokens.user_id`, else for a UUID made at start, valid 1 hour,
 *   signed with the dev key (never the HS256 secret, which must not leave the server).
 * - `GET /api/auth/keys` answers the dev key's public half as a JWKS, so a local PowerSync
 *   service (`client_auth.jwks_uri`) accepts the same tokens.
 */
export function registerAuthRoutes(app: FastifyInstance, options: WritepathPluginOptions): void {
  const auth = options.config.auth;
  if (!auth?.dev_tokens.enabled) return;
  const powersyncUrl = auth.dev_tokens.powersync_url;

  app.get('/api/auth/token', async (request, reply) => {
    const issuer = await devTokenIssuer(auth);
    const userId = requestedUser(request.query) ?? issuer.defaultUserId;
    const token = await issuer.sign(userId);
    // A token is a credential: no shared cache may keep it.
    reply.header('cache-control', 'no-store');
    return { token, user_id: userId, ...(powersyncUrl ? { powersync_url: powersyncUrl } : {}) };
  });

  app.get('/api/auth/keys', async () => (await devTokenIssuer(auth)).jwks);
}

function requestedUser(query: unknown): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.user_id;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_USER_ID_LENGTH) {
    throw badRequest('invalid_user_id', `user_id must be one non-empty value of at most ${MAX_USER_ID_LENGTH} characters`);
  }
  return value;
}
