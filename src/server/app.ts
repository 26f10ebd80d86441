import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { writepathPlugin, type WritepathPluginOptions } from './plugin.ts';

export interface AppOptions extends WritepathPluginOptions {
  logger?: FastifyServerOptions['logger'];
  /** server.request_timeout_ms; none when absent. */
  requestTimeoutMs?: number;
}

/** A standalone fastify server with writepath's routes. */
export function buildApp(options: AppOptions): FastifyInstance {
  const { logger, requestTimeoutMs, ...plugin } = options;
  const app = createHostApp(logger, requestTimeoutMs);
  app.register(writepathPlugin, plugin);
  return app;
}

/**
 * A fastify instance set up to host writepath's plugin on its own: the standalone server,
 * and library mode's internal instance (registered with the plugin once the store opens;
 * it never listens, so it has no request timeout: the host's server has its own).
 */
export function createHostApp(logger: FastifyServerOptions['logger'] | undefined, requestTimeoutMs?: number): FastifyInstance {
  const app: FastifyInstance = Fastify({
    logger: logger ?? false,
    // The batch route enforces max_body_bytes itself, after gzip is undone.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    return503OnClosing: false,
    // Given to Node's server when it is made, with a headers timeout no longer than it: a
    // request timeout below Node's 60 s headers timeout, set afterwards as fastify sets it,
    // never fires on Node 20. Node checks running requests every 30 s by default: a shorter
    // timeout as often as it is long.
    ...(requestTimeoutMs && {
      requestTimeout: requestTimeoutMs,
      http: { requestTimeout: requestTimeoutMs, headersTimeout: headersTimeoutMs(requestTimeoutMs), connectionsCheckingInterval: Math.min(30_000, requestTimeoutMs) },
    }),
    clientErrorHandler: (error, socket) => answerClientError(app, error, socket, requestTimeoutMs),
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(notFound(request.method, request.url));
  });
  return app;
}

/** Node's own headers timeout (60 s), or the request timeout when that is shorter. */
const headersTimeoutMs = (requestTimeoutMs: number) => Math.min(60_000, requestTimeoutMs);

/**
 * What Node cannot hand over as a request (too slow to arrive, headers too large, not HTTP)
 * is answered on the socket itself, in the error format of every other answer, and the
 * connection is closed. Nothing is written once a response has begun. No route sees these,
 * so they are logged here, at info: a client's problem, not the server's.
 */
function answerClientError(app: FastifyInstance, error: Error & { code?: string }, socket: Socket, requestTimeoutMs: number | undefined): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [
          408,
          'Request Timeout',
          'request_timeout',
          `the request did not arrive in time: its headers within ${headersTimeoutMs(requestTimeoutMs ?? 0)} ms, all of it within ${requestTimeoutMs} ms (server.request_timeout_ms); nothing was applied, send it again`,
        ]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'the request headers are over the size Node accepts']
        : [400, 'Bad Request', 'malformed_request', 'the request is not valid HTTP/1.1'];
  app.log.info({ remoteAddress: socket.remoteAddress, code }, message);
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const body = JSON.stringify({ error: { code, message } });
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

/** The 404 body for a request no route serves. */
export function notFound(method: string, url: string): { error: { code: 'not_found'; message: string } } {
  return { error: { code: 'not_found', message: `no route for ${method} ${url}` } };
}
