import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { badRequest, unavailable, WritepathError } from '../core/errors.ts';
import { processBatch, type EngineOptions, type RewindEvent } from '../core/process-batch.ts';
import type { BatchResponse } from '../protocol/response.ts';
import { isObject, parseBatchRequest, type BatchRequest } from '../protocol/wire.ts';
import type { WritepathMetrics } from './metrics.ts';
import type { Lifecycle, WritepathPluginOptions } from './plugin.ts';
import { RateLimiter } from './rate-limit.ts';
import { heapGuard } from './heap-guard.ts';
import { readBody } from './read-body.ts';
import { ROUTE_PATHS } from './route-paths.ts';

/** Turns a decoded JSON body into a batch request, or throws a 400 WritepathError. */
export type ParseBatch = (body: unknown) => BatchRequest;

/** The hooks of a route that runs a batch: the checks of PROTOCOL.md section 2.1, then the engine. */
export interface BatchRouteHandlers {
  onRequest: (request: FastifyRequest) => Promise<void>;
  handler: (request: FastifyRequest, reply: FastifyReply) => Promise<BatchResponse>;
  onResponse: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

/** Makes the handlers of a batch route for a body format; every route made by one endpoint shares its rate limit. */
export type BatchEndpoint = (parse: ParseBatch) => BatchRouteHandlers;

export function createBatchEndpoint(options: WritepathPluginOptions, lifecycle: Lifecycle, metrics: WritepathMetrics): BatchEndpoint {
  const { config, store, rules, authenticate, hooks, onRewind } = options;
  const limiter = config.server.rate_limit ? new RateLimiter(config.server.rate_limit.per_user_per_minute) : undefined;
  return (parse) => ({
    onRequest: async (request) => {
      if (lifecycle.closing) throw unavailable('shutting_down', 'the server is shutting down; retry');
      request.auth = await authenticate(request.headers.authorization);
    },
    handler: async (request) => {
      const done = metrics.batchStarted();
      try {
        const result = await handleBatch(request, parse);
        metrics.batchProcessed(result);
        return result;
      } finally {
        done();
      }
    },
    onResponse: async (_request, reply) => {
      metrics.batchAnswered(reply.statusCode, reply.elapsedTime / 1000);
    },
  });

  async function handleBatch(request: FastifyRequest, parse: ParseBatch): Promise<BatchResponse> {
    // Without a content type and a body no parser runs: nothing says the body is JSON.
    if (!isStream(request.body)) throw unsupportedMediaType();
    let raw: Buffer | undefined = await readBody(
      request.body,
      request.headers['content-encoding'],
      config.server.max_body_bytes,
      request.headers['content-length'],
    );
    metrics.bodyRead(raw.length);
    // Before the JSON is parsed: the parsed body is most of a large batch's memory.
    const release = heapGuard.hold(raw.length);
    try {
      // A large body is tens of MB as bytes and again as text: each is let go as soon as
      // the next form is made, so that the collections while it is parsed can free it.
      let text: string | undefined = raw.toString('utf8');
      raw = undefined;
      const body = parseJson(text);
      text = undefined;
      return await processBody(request, parse, body);
    } finally {
      release();
    }
  }

  async function processBody(request: FastifyRequest, parse: ParseBatch, body: unknown): Promise<BatchResponse> {
    if (isObject(body) && Array.isArray(body.batch) && body.batch.length > config.server.max_batch_ops) {
      throw new WritepathError({
        code: 'too_many_operations',
        status: 413,
        message: `the batch has ${body.batch.length} entries, over the limit of ${config.server.max_batch_ops} (server.max_batch_ops); send fewer transactions per request`,
      });
    }
    const batch = parse(body);
    const auth = request.auth!;
    limiter?.take(auth.userId);
    const engine: EngineOptions = {
      store,
      rules,
      hooks,
      onHookError: (error) => request.log.error({ err: error }, 'afterCommit hook or onRewind failed'),
      onRewind: (event) => {
        logRewind(request, event);
        metrics.onRewind();
        onRewind?.(event);
      },
    };
    return processBatch(engine, batch, auth);
  }
}

/**
 * A restored client is worth an operator's look (PROTOCOL.md 2.2): its rewound entries were
 * applied as new work. The op_ids are summed up, a batch may hold thousands.
 */
function logRewind(request: FastifyRequest, event: RewindEvent): void {
  const { userId, clientId, opIds } = event;
  request.log.warn(
    { user_id: userId, client_id: clientId, rewound: opIds.length, first_op_id: opIds[0], last_op_id: opIds[opIds.length - 1] },
    'client database restored from a backup: entries at or below the ledger with new content were processed as new',
  );
}

export function unsupportedMediaType(): WritepathError {
  return new WritepathError({ code: 'unsupported_media_type', status: 415, message: 'Content-Type must be application/json' });
}

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable | undefined)?.pipe === 'function';
}

/** `POST /api/data`: the batch endpoint of PROTOCOL.md section 1. */
export function registerBatchRoute(app: FastifyInstance, endpoint: BatchEndpoint, parse: ParseBatch = parseBatchRequest): void {
  app.post(ROUTE_PATHS.batch, endpoint(parse));
}

/** The body's text as JSON, or 400. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('invalid_json', 'the body is not valid JSON');
  }
}
