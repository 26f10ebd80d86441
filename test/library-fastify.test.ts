import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartupError, type Writepath } from '../src/index.ts';
import { batchRequest, describeMounting, exampleDatabase, fetchFrom, newWritepath, sampleBatch, stateOf, type Send } from './support/library.ts';

/** A host app of its own: a small body limit, a JSON route, writepath under /sync. */
async function hostApp(wp: Writepath): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ bodyLimit: 1024 });
  app.post('/echo', async (request) => ({ echoed: request.body }));
  app.register(wp.fastifyPlugin, { prefix: '/sync' });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

describeMounting('fastify plugin under a prefix', async (wp) => {
  const { app, url } = await hostApp(wp);
  return { send: fetchFrom(`${url}/sync`), close: () => app.close() };
});

describe('fastify plugin: living in a host app', () => {
  let databaseUrl: string;
  let wp: Writepath;
  let app: FastifyInstance;
  let send: Send;
  let host: Send;

  beforeAll(async () => {
    databaseUrl = await exampleDatabase();
    wp = newWritepath(databaseUrl, { server: { max_body_bytes: 4096 } });
    let url: string;
    ({ app, url } = await hostApp(wp));
    send = fetchFrom(`${url}/sync`);
    host = fetchFrom(url);
  });
  afterAll(async () => {
    await app?.close();
    await wp?.close();
  });

  it("leaves the host's own routes, body parser and 404s as they were", async () => {
    const echoed = await host({ path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(echoed).toMatchObject({ status: 200, body: { echoed: { a: 1 } } });
    expect((await host({ path: '/echo', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(2000) }) })).status).toBe(413);
    expect((await host({ method: 'GET', path: '/api/data' })).status).toBe(404);
  });

  it("limits batches by server.max_body_bytes, not by the host's bodyLimit", async () => {
    const { clientId, list, body } = sampleBatch();
    body.batch[0]!.data.name = 'x'.repeat(2000); // over the host's 1024, under 4096
    const answer = await send(await batchRequest(body));
    expect(answer.status).toBe(200);
    expect(await stateOf(databaseUrl, clientId, list)).toMatchObject({ lists: 1, ledger: [3] });
    body.batch[0]!.data.name = 'x'.repeat(5000);
    const tooLarge = await send(await batchRequest({ ...body, client_id: 'another' }));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.message).toMatch(/4096 bytes \(server\.max_body_bytes/);
  });

  it('fails the host boot with a StartupError when a configured table is missing', async () => {
    const broken = newWritepath(databaseUrl, { tables: { todos: {}, notes: {} } });
    const other = Fastify();
    other.register(broken.fastifyPlugin, { prefix: '/sync' });
    try {
      const error = await other.ready().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(StartupError);
      expect((error as StartupError).problems).toEqual(['tables.notes: table notes does not exist in the database']);
    } finally {
      await other.close().catch(() => {});
      await broken.close();
    }
  });

  it('shares one store with handle(): a batch through one is a duplicate through the other', async () => {
    const { clientId, body } = sampleBatch();
    expect((await send(await batchRequest(body))).body).toMatchObject({ applied: 3 });
    const request = await batchRequest(body);
    const viaHandle = await wp.handle(new Request('http://localhost/api/data', { method: 'POST', headers: request.headers, body: request.body as string }));
    expect(await viaHandle.json()).toEqual({ client_id: clientId, last_op_id: 3, applied: 0, duplicates: 3, skipped: 0, rejected: [] });
  });
});
