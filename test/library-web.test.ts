import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWritepath, StartupError, type Writepath } from '../src/index.ts';
import { sql } from './support/pg.ts';
import {
  batchRequest,
  describeMounting,
  exampleDatabase,
  fetchFrom,
  libraryConfig,
  newWritepath,
  readAnswer,
  sampleBatch,
  stateOf,
  type Send,
} from './support/library.ts';

/** Calls handle() with a Request, as Next.js, Hono, Bun or Deno would. */
function viaHandle(wp: Writepath, origin = 'http://localhost'): Send {
  return async ({ method = 'POST', path, headers, body }) =>
    readAnswer(await wp.handle(new Request(`${origin}${path}`, { method, headers, body: body as BodyInit | undefined })));
}

/**
 * The smallest web-standard host on node:http: Request in, Response out, the body streamed
 * both ways, as Bun.serve or Deno.serve do.
 */
function serveWeb(handle: (request: Request) => Promise<Response>): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      ...(hasBody && { body: Readable.toWeb(req) as ReadableStream, duplex: 'half' }),
    } as RequestInit);
    void handle(request).then(async (response) => {
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

describeMounting('handle(Request)', async (wp) => ({ send: viaHandle(wp) }));

describeMounting('handle() behind a node:http server', async (wp) => {
  const server = serveWeb(wp.handle);
  return { send: fetchFrom(await listen(server)), close: () => closeServer(server) };
});

describe('handle(): paths', () => {
  let databaseUrl: string;
  let wp: Writepath;
  beforeAll(async () => {
    databaseUrl = await exampleDatabase();
    wp = newWritepath(databaseUrl, {}, { basePath: '/sync/' });
  });
  afterAll(() => wp?.close());

  it('serves below basePath and answers 404 elsewhere', async () => {
    const send = viaHandle(wp);
    const { clientId, list, body } = sampleBatch();
    const request = await batchRequest(body);
    const outside = await send(request);
    expect(outside.status).toBe(404);
    expect(outside.body).toEqual({ error: { code: 'not_found', message: 'no route for POST /api/data' } });
    expect((await send({ ...request, path: '/sync/api/data' })).body).toMatchObject({ applied: 3 });
    expect(await stateOf(databaseUrl, clientId, list)).toMatchObject({ lists: 1, ledger: [3] });
    expect((await send({ method: 'GET', path: '/sync/health' })).status).toBe(200);
    expect((await send({ method: 'GET', path: '/sync/api/data' })).status).toBe(404);
    expect((await send({ method: 'GET', path: '/sync/other' })).status).toBe(404);
  });

  it('is bound: a route module can export it as it is', async () => {
    const { handle } = wp;
    const answer = await handle(new Request('http://localhost/sync/health'));
    expect(answer.status).toBe(200);
  });

  it('answers a body without a content type 415, as the standalone server', async () => {
    const send = viaHandle(wp);
    const request = await batchRequest(sampleBatch().body);
    const { 'content-type': _, ...headers } = request.headers!;
    expect((await send({ path: '/sync/api/data', headers, body: request.body })).status).toBe(415);
    expect((await send({ path: '/sync/api/data', headers })).status).toBe(415);
  });

  it('passes Retry-After through on a 429', async () => {
    const limited = newWritepath(databaseUrl, { server: { rate_limit: { per_user_per_minute: 1 } } });
    try {
      const send = viaHandle(limited);
      expect((await send(await batchRequest(sampleBatch().body))).status).toBe(200);
      const refused = await send(await batchRequest(sampleBatch().body));
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe('createWritepath: configuration and lifecycle', () => {
  it('throws a StartupError listing every problem of the configuration', () => {
    let thrown: unknown;
    try {
      createWritepath({
        database: { url: 'postgres://localhost/app' },
        server: { max_batch_ops: 0 },
        tables: { todos: { put: 'upsert' as 'merge' } },
        bogus: 1,
      } as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StartupError);
    expect((thrown as StartupError).problems).toEqual(
      expect.arrayContaining([
        'bogus: unknown key',
        expect.stringMatching(/^server\.max_batch_ops: /),
        expect.stringMatching(/^tables\.todos\.put: /),
        expect.stringMatching(/^no auth section/),
      ]),
    );
    expect(() => createWritepath({ tables: { todos: {} } })).toThrow(/database\.url is not set/);
    expect(() => createWritepath(libraryConfig('postgres://localhost/app'), { basePath: 'sync' })).toThrow(/basePath: must start with \//);
  });

  it('ready() rejects with every table problem; requests answer 500 until the database matches, then work', async () => {
    const databaseUrl = await exampleDatabase();
    const wp = newWritepath(databaseUrl, { tables: { lists: {}, todos: {}, notes: {} } });
    try {
      const error = await wp.ready().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StartupError);
      expect((error as StartupError).problems).toEqual(['tables.notes: table notes does not exist in the database']);
      const send = viaHandle(wp);
      const { clientId, list, body } = sampleBatch();
      const refused = await send(await batchRequest(body));
      expect(refused.status).toBe(500);
      expect(refused.body.error.code).toBe('misconfigured');
      // The operator's migration lands: the next request opens again and is served.
      await sql(databaseUrl, 'CREATE TABLE notes (id uuid PRIMARY KEY, body text)');
      expect((await send(await batchRequest(body))).body).toMatchObject({ applied: 3 });
      expect(await stateOf(databaseUrl, clientId, list)).toMatchObject({ lists: 1, ledger: [3] });
    } finally {
      await wp.close();
    }
  });

  it('answers 503 with Retry-After while the database is unreachable, and 404 for other paths without trying', async () => {
    const wp = newWritepath('postgres://writepath@127.0.0.1:1/none');
    try {
      await expect(wp.ready()).rejects.toThrow();
      const send = viaHandle(wp);
      const answer = await send(await batchRequest(sampleBatch().body));
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      expect((await send({ method: 'GET', path: '/elsewhere' })).status).toBe(404);
    } finally {
      await wp.close();
    }
  });

  it('close() lets a batch in flight commit, then refuses with 503 shutting_down', async () => {
    const databaseUrl = await exampleDatabase();
    const wp = newWritepath(databaseUrl);
    const send = viaHandle(wp);
    const { clientId, list, body } = sampleBatch();
    const inFlight = send(await batchRequest(body));
    await wp.close();
    expect((await inFlight).body).toMatchObject({ applied: 3 });
    expect(await stateOf(databaseUrl, clientId, list)).toMatchObject({ lists: 1, ledger: [3] });
    const refused = await send(await batchRequest(sampleBatch().body));
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('shutting_down');
    expect(refused.headers.get('retry-after')).toBe('1');
    await wp.close(); // idempotent
  });
});
