import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Authenticate } from '../auth/authenticate.ts';
import type { WritepathConfig } from '../config/schema.ts';
import { serverError, WritepathError } from '../core/errors.ts';
import type { Hooks } from '../core/hooks.ts';
import type { RewindEvent } from '../core/process-batch.ts';
import type { AuthContext, Store } from '../core/store.ts';
import { isMongoUrl } from '../mongodb/mongo-config.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { registerAdminRoutes } from './admin-routes.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { createBatchEndpoint, registerBatchRoute, unsupportedMediaType } from './batch-route.ts';
import { parseBatchOrDemo, registerDemoRoutes } from './demo-routes.ts';
import { WritepathMetrics } from './metrics.ts';
import { ROUTE_PATHS } from './route-paths.ts';

export interface WritepathPluginOptions {
  config: WritepathConfig;
  store: Store;
  rules: TableRules;
  authenticate: Authenticate;
  /** Library mode: custom logic around the entries. */
  hooks?: Hooks;
  /** Told of every restored client's rewound entries, after the commit (the route also logs them at warn). */
  onRewind?: (event: RewindEvent) => void;
  /** The series of `/metrics`; absent, the plugin makes its own (one registry per instance). */
  metrics?: WritepathMetrics;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthContext;
  }
}

/** Shared by the routes of one plugin instance: whether close() has started. */
export interface Lifecycle {
  closing: boolean;
}

/**
 * writepath's routes as a fastify plugin. Registered without fastify-plugin, so its body
 * parser and error handler stay inside it: a host application's other routes keep theirs.
 */
export const writepathPlugin: FastifyPluginAsync<WritepathPluginOptions> = async (app, options) => {
  const lifecycle: Lifecycle = { closing: false };
  const { store } = options;
  const metrics = options.metrics ?? new WritepathMetrics({ pool: store.poolStats && (() => store.poolStats!()) });
  // preClose runs when close() starts, before in-flight requests finish; from then on new
  // batches are refused and every response closes its connection, so no idle keep-alive
  // connection holds the process open.
  app.addHook('preClose', async () => {
    lifecycle.closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (lifecycle.closing) reply.header('connection', 'close');
  });

  // The body is read by the route itself, so that its size is counted after gzip is undone
  // and the 401 check comes before it is read at all.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', (_request, payload, done) => done(null, payload));
  app.setErrorHandler((error, request, reply) => {
    const known = toWritepathError(error);
    // 501: a capability the Store does not have (the admin queries), nothing broken.
    if (known.status >= 500 && known.status !== 501) request.log.error({ err: known.cause ?? known }, known.message);
    // The client left part way through its body: no answer reaches it, so the log is all.
    if (known.code === 'body_incomplete') request.log.info({ code: known.code }, known.message);
    if (known.status === 503) metrics.answeredUnavailable(known.code);
    if (known.retryAfterSeconds !== undefined) reply.header('Retry-After', String(known.retryAfterSeconds));
    reply.status(known.status).send(known.toJSON());
  });

  registerHealthRoutes(app, options.store, lifecycle);
  const endpoint = createBatchEndpoint(options, lifecycle, metrics);
  if (options.config.compat.demo_routes) {
    registerBatchRoute(app, endpoint, parseBatchOrDemo);
    registerDemoRoutes(app, endpoint);
  } else {
    registerBatchRoute(app, endpoint);
  }
  registerAuthRoutes(app, options);
  const adminToken = options.config.admin.token;
  registerAdminRoutes(app, { token: adminToken, store, rules: options.rules, metrics });
  app.log.info(
    adminToken
      ? 'admin.token is set: /metrics, /dashboard and /admin/* are on, behind Authorization: Bearer <admin.token>'
      : 'admin.token is not set: /metrics, /dashboard and /admin/* are disabled (404)',
  );
  for (const name of typesIgnored(options.config)) {
    app.log.warn(`tables.${name}.types is ignored: declared types are for MongoDB; Postgres converts values to the live schema's column types`);
  }
};

/** Tables whose `types` mean nothing on this database (Postgres reads types from its schema). */
function typesIgnored(config: WritepathPluginOptions['config']): string[] {
  if (config.database.url !== undefined && isMongoUrl(config.database.url)) return [];
  return Object.entries(config.tables).flatMap(([name, table]) => (table.types ? [name] : []));
}

function registerHealthRoutes(app: FastifyInstance, store: Store, lifecycle: Lifecycle): void {
  app.get(ROUTE_PATHS.health, async () => ({ status: 'ok' }));
  app.get(ROUTE_PATHS.ready, async (_request, reply) => {
    if (lifecycle.closing) return reply.status(503).send({ status: 'shutting_down' });
    const up = await store.ping();
    return reply.status(up ? 200 : 503).send({ status: up ? 'ready' : 'database_unavailable' });
  });
}

/** Everything that ends a request becomes a WritepathError; fastify's own 4xx keep their status. */
function toWritepathError(error: unknown): WritepathError {
  if (error instanceof WritepathError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string };
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType();
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new WritepathError({ code: 'bad_request', status: e.statusCode, message: e.message ?? 'bad request' });
  }
  return serverError('internal', 'unexpected server error', error);
}
