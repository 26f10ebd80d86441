import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { writepathPlugin, type WritepathPluginOptions } from './plugin.ts';

export interface AppOptions extends WritepathPluginOptions {
  logger?: FastifyServerOptions['logger'];
}

/** A standalone fastify server with writepath's routes. */
export function buildApp(options: AppOptions): FastifyInstance {
  const { logger, ...plugin } = options;
  const app = createHostApp(logger);
  app.register(writepathPlugin, plugin);
  return app;
}

/**
 * A fastify instance set up to host writepath's plugin on its own: the standalone server,
 * and library mode's internal instance (registered with the plugin once the store opens).
 */
export function createHostApp(logger: FastifyServerOptions['logger'] | undefined): FastifyInstance {
  // The batch route enforces max_body_bytes itself, after gzip is undone.
  const app = Fastify({ logger: logger ?? false, bodyLimit: Number.MAX_SAFE_INTEGER, return503OnClosing: false });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(notFound(request.method, request.url));
  });
  return app;
}

/** The 404 body for a request no route serves. */
export function notFound(method: string, url: string): { error: { code: 'not_found'; message: string } } {
  return { error: { code: 'not_found', message: `no route for ${method} ${url}` } };
}
