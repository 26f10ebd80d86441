import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { notFoundResponse, type Runtime, type RuntimeResponse } from './runtime.ts';

/**
 * `handle(request)`: a web-standard Request in, a Response out (Next.js route handlers,
 * Hono, Bun, Deno). The body is streamed into the route, which counts it against
 * server.max_body_bytes after gzip is undone, exactly as the standalone server does.
 */
export function createWebHandler(runtime: Runtime, basePath: string): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const path = belowBase(url.pathname, basePath);
    if (path === undefined) return toResponse(request, notFoundResponse(request.method, `${url.pathname}${url.search}`));
    const headers: IncomingHttpHeaders = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    let payload: Readable | undefined;
    if (request.body && request.method !== 'GET' && request.method !== 'HEAD') {
      payload = Readable.fromWeb(request.body as NodeReadableStream<Uint8Array>);
      // As a server would see a streamed body, so a body without a content type is refused
      // as such (415) rather than read as no body at all.
      if (headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
    }
    return toResponse(request, await runtime.serve({ method: request.method, url: `${path}${url.search}`, headers, payload }));
  };
}

function toResponse(request: Request, response: RuntimeResponse): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const bodyless = request.method === 'HEAD' || response.status === 204 || response.status === 304;
  return new Response(bodyless ? null : new Uint8Array(response.body), { status: response.status, headers });
}

/** The path below `basePath`, or undefined when the request is not under it. */
function belowBase(pathname: string, basePath: string): string | undefined {
  if (basePath === '') return pathname;
  if (pathname === basePath) return '/';
  return pathname.startsWith(`${basePath}/`) ? pathname.slice(basePath.length) : undefined;
}
