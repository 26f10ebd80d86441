import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { WritepathConfig } from '../config/schema.ts';
import { serverError, unavailable, WritepathError } from '../core/errors.ts';
import { toBatchError } from '../postgres/error-map.ts';
import { createHostApp, notFound } from '../server/app.ts';
import type { Hooks } from '../core/hooks.ts';
import { openWritepath, StartupError, type OpenedWritepath } from '../server/open.ts';
import { writepathPlugin } from '../server/plugin.ts';
import { ADMIN_PATHS, ROUTE_PATHS } from '../server/route-paths.ts';

const WRITEPATH_PATHS: ReadonlySet<string> = new Set(Object.values(ROUTE_PATHS));
const ADMIN: ReadonlySet<string> = new Set(Object.values(ADMIN_PATHS));

/** A request as the adapters hand it over: `url` is the path (and query) below the mount point. */
export interface RuntimeRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  payload?: Readable | Buffer | string;
}

/** What the adapters write back: the whole response, small by construction. */
export interface RuntimeResponse {
  /** False when no route of writepath's matched (a 404): an adapter sharing a router passes it on. */
  routed: boolean;
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

// Per connection, not per response: the host's server owns the connection.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

/**
 * What handle() and the Express adapter share: one store, opened on first use (or by
 * ready()), and an internal fastify instance with writepath's plugin that every request is
 * injected into, so the protocol has one code path whatever the host.
 */
export class Runtime {
  private storeOpening: Promise<OpenedWritepath> | undefined;
  private appOpening: Promise<FastifyInstance> | undefined;
  private closing: Promise<void> | undefined;
  /** Set once close() has waited for the requests in flight: no store opens after it. */
  private closed = false;
  private inFlight = 0;
  private drained: (() => void) | undefined;

  constructor(
    readonly config: WritepathConfig,
    private readonly logger: FastifyServerOptions['logger'],
    private readonly hooks?: Hooks,
  ) {}

  /** Whether a path below the mount point is one of writepath's; the admin paths only with `admin.token`. */
  servesPath(path: string): boolean {
    return WRITEPATH_PATHS.has(path) || (this.config.admin.token !== undefined && ADMIN.has(path));
  }

  /**
   * Opens the store and checks the configured tables, once; a failed open is forgotten, so
   * the next call tries again (a database that was down at boot comes back).
   */
  openStore(): Promise<OpenedWritepath> {
    // Requests in flight when close() began may still need it; close() waits for them.
    if (this.closed) return Promise.reject(new Error('writepath is closed'));
    this.storeOpening ??= openWritepath(this.config, this.hooks).catch((error: unknown) => {
      this.storeOpening = undefined;
      throw error;
    });
    return this.storeOpening;
  }

  /**
   * Runs a request through writepath's plugin. Never throws for a request writepath
   * refuses: a store that cannot open is a 503 (database unreachable) or 500 (the tables do
   * not match the configuration), like the standalone server would answer.
   */
  async serve(request: RuntimeRequest): Promise<RuntimeResponse> {
    const path = request.url.split('?')[0]!;
    if (!this.servesPath(path)) return notFoundResponse(request.method, request.url);
    if (this.closing) return fromError(unavailable('shutting_down', 'the server is shutting down; retry'));
    this.inFlight++;
    try {
      let app: FastifyInstance;
      try {
        app = await this.openApp();
      } catch (error) {
        return fromError(openFailure(error));
      }
      if (!app.hasRoute({ method: request.method.toUpperCase() as 'POST', url: path })) {
        return notFoundResponse(request.method, request.url);
      }
      const response = await app.inject({
        method: request.method.toUpperCase() as 'POST',
        url: request.url,
        headers: request.headers,
        ...(request.payload !== undefined && { payload: request.payload }),
      });
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        headers[name] = Array.isArray(value) ? value : String(value);
      }
      return { routed: true, status: response.statusCode, headers, body: response.rawPayload };
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  /**
   * Refuses new requests, waits for those in flight (at most server.shutdown_timeout_ms),
   * then closes the internal instance and the pool. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.config.server.shutdown_timeout_ms);
        timer.unref();
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.closed = true;
    const app = await this.appOpening?.catch(() => undefined);
    await app?.close();
    const opened = await this.storeOpening?.catch(() => undefined);
    await opened?.store.close();
  }

  /**
   * The internal instance, built once the store is open. Built per attempt: a fastify
   * instance whose boot failed cannot boot again. Its logger reports why an open failed.
   */
  private openApp(): Promise<FastifyInstance> {
    this.appOpening ??= (async () => {
      const app = createHostApp(this.logger);
      app.register(async (scope) => {
        await scope.register(writepathPlugin, await this.openStore());
      });
      try {
        await app.ready();
        return app;
      } catch (error) {
        this.appOpening = undefined;
        const problems = error instanceof StartupError ? error.problems : undefined;
        app.log.error({ err: error, problems }, 'writepath could not open the database');
        await app.close().catch(() => {});
        throw error;
      }
    })();
    return this.appOpening;
  }
}

/** A failed open as the client sees it; the details are in the log, never on the wire. */
function openFailure(error: unknown): WritepathError {
  if (error instanceof StartupError) {
    return serverError('misconfigured', 'the server cannot start: its configuration does not match the database (see the server log)', error);
  }
  return toBatchError(error);
}

/** The standalone server's 404, for a request to a path writepath does not serve. */
export function notFoundResponse(method: string, url: string): RuntimeResponse {
  return { ...errorResponse(404, notFound(method, url)), routed: false };
}

function fromError(error: WritepathError): RuntimeResponse {
  const response = errorResponse(error.status, error.toJSON());
  if (error.retryAfterSeconds !== undefined) response.headers['retry-after'] = String(error.retryAfterSeconds);
  return response;
}

function errorResponse(status: number, body: unknown): RuntimeResponse {
  return { routed: true, status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: Buffer.from(JSON.stringify(body)) };
}
