import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { writepathPlugin, type WritepathPluginOptions } from './plugin.ts';

export interface AppOptions extends WritepathPluginOptions {
  logger?: FastifyServerOptions['logger'];
}

/** A standalone fastify server with writepath's routes. */
export function buildApp(options: AppOptions): FastifyInstance {
  const { logger, ...plugin } = options;
  // The batch route enforces max_body_bytes itself, after gzip is undone.
  const app = Fastify({ logger: logger ?? false, bodyLimit: Number.MAX_SAFE_INTEGER, return503OnClosing: false });
  app.register(writepathPlugin, plugin);
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: { code: 'not_found', message: `no route for ${request.method} ${request.url}` } });
  });
  return app;
}
