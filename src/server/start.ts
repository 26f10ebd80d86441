import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { createAuthenticator } from '../auth/authenticate.ts';
import { cachingAuthenticator } from '../auth/token-cache.ts';
import type { WritepathConfig } from '../config/schema.ts';
import { PgStore } from '../postgres/pg-store.ts';
import { TableRules } from '../rules/table-rules.ts';
import { buildApp } from './app.ts';
import { checkTables } from './check-tables.ts';

export interface RunningServer {
  app: FastifyInstance;
  store: PgStore;
  /** `http://host:port` it listens on. */
  url: string;
  /** Stops accepting, lets in-flight batches finish, then closes the pool. */
  close(): Promise<void>;
}

/** Thrown when the start cannot go on; lists every problem, for the operator to fix at once. */
export class StartupError extends Error {
  constructor(readonly problems: string[]) {
    super(`cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StartupError';
  }
}

/**
 * Opens the database, checks the configured tables against it, and listens. The database
 * URL must be set (the playground starts an embedded Postgres first and sets it).
 */
export async function startServer(config: WritepathConfig, options: { logger?: FastifyServerOptions['logger'] } = {}): Promise<RunningServer> {
  const url = config.database.url;
  if (!url) throw new StartupError(['database.url is not set']);
  if (url.startsWith('mongodb')) throw new StartupError(['database.url: MongoDB is not supported yet; use a postgres:// URL']);
  const authenticate = cachingAuthenticator(createAuthenticator(config.auth));
  const store = await PgStore.open({ url });
  const rules = new TableRules(config.tables);
  const problems = checkTables(rules, (name) => store.findTable(name));
  if (problems.length > 0) {
    await store.close();
    throw new StartupError(problems);
  }
  const app = buildApp({ config, store, rules, authenticate, logger: options.logger });
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
