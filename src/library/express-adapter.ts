import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Runtime } from './runtime.ts';

/**
 * An Express request as far as the adapter needs it: Node's request, plus the `body` a
 * body parser may have left. Structural, so Express is not a dependency of writepath.
 */
export type ExpressLikeRequest = IncomingMessage & { body?: unknown };

/** An Express middleware: `app.use(wp.express())` or `app.use('/sync', wp.express())`. */
export type ExpressHandler = (req: ExpressLikeRequest, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Serves writepath's paths below the mount point and passes every other request on with
 * `next()`, without opening the database for it.
 *
 * The body: read from the request stream when nothing read it yet (mount the adapter before
 * any body parser: the parser's own size limit and error format then never apply). When a
 * parser such as `express.json()` ran first, the stream is spent and `req.body` is what it
 * parsed; it is serialized again (JSON.parse then JSON.stringify keep every value the
 * protocol allows) and sent without Content-Encoding, which the parser has undone.
 */
export function createExpressHandler(runtime: Runtime): ExpressHandler {
  return (req, res, next) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    const method = req.method ?? 'GET';
    if (!runtime.servesPath(path)) {
      next();
      return;
    }
    void (async () => {
      const { headers, payload } = requestBody(req);
      const response = await runtime.serve({ method, url, headers, payload });
      // A host route of its own on the same path with another method (GET /api/data)
      // stays the host's.
      if (!response.routed) {
        next();
        return;
      }
      res.writeHead(response.status, response.headers);
      res.end(response.body);
    })().catch((error: unknown) => next(error));
  };
}

function requestBody(req: ExpressLikeRequest): { headers: IncomingHttpHeaders; payload: Readable | Buffer | string | undefined } {
  // The test body-parser itself uses (on-finished): the stream has been read to its end.
  const spent = req.readableEnded || (req.complete && !req.readable);
  if (!spent) return { headers: req.headers, payload: req };
  const { 'content-encoding': _encoding, 'content-length': _length, 'transfer-encoding': _transfer, ...headers } = req.headers;
  const body = req.body;
  let payload: Buffer | string;
  if (body === undefined) payload = '';
  else if (Buffer.isBuffer(body) || typeof body === 'string') payload = body;
  else payload = JSON.stringify(body);
  return { headers, payload };
}
