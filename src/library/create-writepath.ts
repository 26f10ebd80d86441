import type { Hooks } from '../core/hooks.ts';
import type { FastifyPluginAsync, FastifyServerOptions } from 'fastify';
import { createAuthenticator } from '../auth/authenticate.ts';
import { validateConfig } from '../config/load.ts';
import type { WritepathConfig } from '../config/schema.ts';
import { databaseProblems, StartupError } from '../server/open.ts';
import { writepathPlugin } from '../server/plugin.ts';
import { createExpressHandler, type ExpressHandler } from './express-adapter.ts';
import { Runtime } from './runtime.ts';
import { createWebHandler } from './web-handler.ts';

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * The configuration as you write it: the same keys as the configuration file (PROTOCOL.md
 * section 5), every key with a default optional. `database.url` is required in library
 * mode; `server.host` and `server.port` do not apply (your app listens).
 */
export type WritepathConfigInput = DeepPartial<WritepathConfig>;

/** Settings of library mode that the configuration file does not have. */
export interface WritepathOptions {
  /**
   * The path below which `handle()` serves `/api/data`, `/health` and `/ready` (default
   * `''`: `POST /api/data`, what a Next.js `app/api/data/route.ts` receives). With
   * `'/sync'`, `handle()` serves `POST /sync/api/data`. The fastify plugin takes a
   * `prefix` and the Express adapter its mount path instead.
   */
  basePath?: string;
  /**
   * The logger of `handle()` and `express()`, as fastify's `logger` option: `false`, `true`
   * or pino options. Default `{ level: 'warn' }`: 5xx causes and failed opens are logged as
   * JSON lines on stdout. The fastify plugin logs with the host app's logger.
   */
  logger?: FastifyServerOptions['logger'];
  /**
   * Custom logic: `beforeApply`, per-table validators (functions or zod schemas) and
   * handlers that run in the batch's transaction, `afterCommit`. See the README.
   */
  hooks?: Hooks;
}

/** writepath embedded in an app: one pool, one ledger, mounted in any of three ways. */
export interface Writepath {
  /** The validated configuration, defaults filled in. */
  readonly config: WritepathConfig;
  /**
   * Opens the pool and checks the configured tables against the database, once. Optional:
   * the first request does it otherwise. Call it at boot to fail there, with a
   * `StartupError` listing every problem (or the connection error), rather than answer
   * the first uploads with 500/503. A failed open is retried by the next call or request.
   */
  ready(): Promise<void>;
  /**
   * A web-standard handler: `POST {basePath}/api/data`, `GET {basePath}/health` and
   * `GET {basePath}/ready` (with `admin.token`, also `/metrics`, `/dashboard` and
   * `/admin/*`); anything else is a 404. Bound: pass it around as it is.
   *
   * @example
   * // app/api/data/route.ts (Next.js)
   * export const POST = wp.handle;
   */
  readonly handle: (request: Request) => Promise<Response>;
  /**
   * A fastify plugin with the routes under the prefix you register it with. Its boot
   * opens the store, so the host's `ready()`/`listen()` fails on a bad configuration.
   * Close the host app before `wp.close()`: its close lets in-flight batches finish.
   *
   * @example
   * app.register(wp.fastifyPlugin, { prefix: '/sync' }); // POST /sync/api/data
   */
  readonly fastifyPlugin: FastifyPluginAsync;
  /**
   * An Express middleware serving the routes below its mount path and passing every other
   * request on. Mount it before `express.json()`; after it also works (the parsed body is
   * serialized again) but the parser's limit (100 kB by default) and errors then apply first.
   *
   * @example
   * app.use('/sync', wp.express()); // POST /sync/api/data
   */
  express(): ExpressHandler;
  /**
   * Refuses new requests (503 `shutting_down`), waits for those in flight through
   * `handle()` and `express()` (at most `server.shutdown_timeout_ms`), and closes the pool.
   */
  close(): Promise<void>;
}

/**
 * writepath as a library: the batch endpoint of the standalone server, mounted in your own
 * server. Validates the configuration at once and throws a `StartupError` listing every
 * problem; the database is opened by `ready()` or the first request.
 *
 * @example
 * import { createWritepath } from 'writepath';
 *
 * export const wp = createWritepath({
 *   database: { url: process.env.DATABASE_URL },
 *   auth: { jwt: { secret: process.env.JWT_SECRET } },
 *   tables: { lists: {}, todos: {} },
 * });
 * await wp.ready(); // optional: fail at boot rather than on the first upload
 *
 * // Next.js, app/api/data/route.ts:  export const POST = wp.handle;
 * // Hono:     app.all('/api/*', (c) => wp.handle(c.req.raw));
 * // fastify:  app.register(wp.fastifyPlugin, { prefix: '/sync' });
 * // Express:  app.use('/sync', wp.express());
 */
export function createWritepath(input: WritepathConfigInput, options: WritepathOptions = {}): Writepath {
  const config = checkedConfig(input);
  const basePath = checkedBasePath(options.basePath ?? '');
  const runtime = new Runtime(config, options.logger ?? { level: 'warn' }, options.hooks);

  const fastifyPlugin: FastifyPluginAsync = async (scope) => {
    await scope.register(writepathPlugin, await runtime.openStore());
  };

  return {
    config,
    ready: async () => {
      await runtime.openStore();
    },
    handle: createWebHandler(runtime, basePath),
    fastifyPlugin,
    express: () => createExpressHandler(runtime),
    close: () => runtime.close(),
  };
}

/** The configuration validated as a file's would be, plus what library mode needs at once. */
function checkedConfig(input: WritepathConfigInput): WritepathConfig {
  const checked = validateConfig(input);
  const url = (input as { database?: { url?: unknown } } | undefined)?.database?.url;
  const problems = [...(checked.ok ? [] : checked.problems), ...(url === undefined || (typeof url === 'string' && url !== '') ? databaseProblems(url) : [])];
  if (checked.ok && problems.length === 0) {
    // The key settings are checked now, not at the first request.
    try {
      createAuthenticator(checked.config.auth);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (!checked.ok || problems.length > 0) throw new StartupError(problems);
  return checked.config;
}

function checkedBasePath(basePath: string): string {
  const trimmed = basePath.replace(/\/+$/, '');
  if (trimmed !== '' && !trimmed.startsWith('/')) {
    throw new StartupError([`basePath: must start with / (got ${JSON.stringify(basePath)})`]);
  }
  return trimmed;
}
