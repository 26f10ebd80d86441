import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { WritepathConfig } from '../config/schema.ts';
import type { Store } from '../core/store.ts';
import { buildApp } from './app.ts';
import { openWritepath } from './open.ts';

export { StartupError } from './open.ts';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  /** `http://host:port` it listens on. */
  url: string;
  /** Stops accepting, lets in-flight batches finish, then closes the pool. */
  close(): Promise<void>;
}

/**
 * Opens the database, checks the configured tables against it, and listens. The database
 * URL must be set (the playground starts an embedded Postgres first and sets it).
 */
export async function startServer(config: WritepathConfig, options: { logger?: FastifyServerOptions['logger'] } = {}): Promise<RunningServer> {
  const opened = await openWritepath(config);
  const { store } = opened;
  const app = buildApp({ ...opened, logger: options.logger, requestTimeoutMs: config.server.request_timeout_ms });
  app.addHook('onClose', async () => store.close());
  try {
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return { app, store, url: `http://${host}:${port}`, close: () => app.close() };
}
