import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Readable } from 'node:stream';
import type { Authenticate } from '../auth/authenticate.ts';
import type { WritepathConfig } from '../config/schema.ts';
import { badRequest, serverError, unavailable, WritepathError } from '../core/errors.ts';
import { processBatch } from '../core/process-batch.ts';
import type { AuthContext, Store } from '../core/store.ts';
import { isObject, parseBatchRequest } from '../protocol/wire.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { RateLimiter } from './rate-limit.ts';
import { readBody } from './read-body.ts';

export interface AppOptions {
  config: WritepathConfig;
  store: Store;
  rules: TableRules;
  authenticate: Authenticate;
  logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthContext;
  }
}

/**
 * The HTTP edge: routes, the checks of PROTOCOL.md section 2.1 in their order, and the
 * mapping of errors to status codes. Everything else happens in the engine.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const { config, store, rules, authenticate } = options;
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: Number.MAX_SAFE_INTEGER, return503OnClosing: false });
  const limiter = config.server.rate_limit ? new RateLimiter(config.server.rate_limit.per_user_per_minute) : undefined;
  // preClose runs when close() starts, before in-flight requests finish; from then on new
  // batches are refused and every response closes its connection, so no idle keep-alive
  // connection holds the process open.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  // The body is read by the route itself, so that its size is counted after gzip is undone
  // and the 401 check comes before it is read at all.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', (_request, payload, done) => done(null, payload));

  app.setErrorHandler((error, request, reply) => {
    const known = toWritepathError(error);
    if (known.status >= 500) request.log.error({ err: known.cause ?? known }, known.message);
    if (known.retryAfterSeconds !== undefined) reply.header('Retry-After', String(known.retryAfterSeconds));
    reply.status(known.status).send(known.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: { code: 'not_found', message: `no route for ${request.method} ${request.url}` } });
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
    if (closing) return reply.status(503).send({ status: 'shutting_down' });
    const up = await store.ping();
    return reply.status(up ? 200 : 503).send({ status: up ? 'ready' : 'database_unavailable' });
  });

  app.post('/api/data', {
    onRequest: async (request) => {
      if (closing) throw unavailable('shutting_down', 'the server is shutting down; retry');
      request.auth = await authenticate(request.headers.authorization);
    },
    handler: async (request) => {
      const raw = await readBody(request.body as Readable, request.headers['content-encoding'], config.server.max_body_bytes);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw badRequest('invalid_json', 'the body is not valid JSON');
      }
      if (isObject(body) && Array.isArray(body.batch) && body.batch.length > config.server.max_batch_ops) {
        throw new WritepathError({
          code: 'too_many_operations',
          status: 413,
          message: `the batch has ${body.batch.length} entries, over the limit of ${config.server.max_batch_ops} (server.max_batch_ops); send fewer transactions per request`,
        });
      }
      const batch = parseBatchRequest(body);
      const auth = request.auth!;
      limiter?.take(auth.userId);
      return processBatch({ store, rules }, batch, auth);
    },
  });
  return app;
}

/** Everything that ends a request becomes a WritepathError; fastify's own errors keep their status. */
function toWritepathError(error: unknown): WritepathError {
  if (error instanceof WritepathError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string };
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new WritepathError({ code: 'unsupported_media_type', status: 415, message: 'Content-Type must be application/json' });
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new WritepathError({ code: 'bad_request', status: e.statusCode, message: e.message ?? 'bad request' });
  }
  return serverError('internal', 'unexpected server error', error);
}
