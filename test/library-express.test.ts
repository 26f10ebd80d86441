import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Writepath } from '../src/index.ts';
import { batchRequest, describeMounting, exampleDatabase, fetchFrom, newWritepath, sampleBatch, stateOf, type Send } from './support/library.ts';

async function listen(app: Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

describeMounting('express, mounted before the body parser', async (wp) => {
  const app = express();
  app.use('/sync', wp.express());
  app.use(express.json());
  const { url, close } = await listen(app);
  return { send: fetchFrom(`${url}/sync`), close };
});

describeMounting('express, mounted after express.json()', async (wp) => {
  const app = express();
  app.use(express.json());
  app.use('/sync', wp.express());
  const { url, close } = await listen(app);
  return { send: fetchFrom(`${url}/sync`), close };
});

describe('express: living in a host app', () => {
  let databaseUrl: string;
  let wp: Writepath;
  let host: Send;
  let close: () => Promise<void>;

  beforeAll(async () => {
    databaseUrl = await exampleDatabase();
    wp = newWritepath(databaseUrl);
    const app = express();
    app.use(wp.express()); // at the root: /api/data, /health, /ready
    app.use(express.json());
    app.get('/api/data', (_req, res) => {
      res.json({ host: 'GET /api/data' });
    });
    app.post('/echo', (req, res) => {
      res.json({ echoed: req.body });
    });
    let url: string;
    ({ url, close } = await listen(app));
    host = fetchFrom(url);
  });
  afterAll(async () => {
    await close?.();
    await wp?.close();
  });

  it('serves its paths at the root and passes every other request on', async () => {
    const { clientId, list, body } = sampleBatch();
    expect((await host(await batchRequest(body))).body).toMatchObject({ applied: 3 });
    expect(await stateOf(databaseUrl, clientId, list)).toMatchObject({ lists: 1, ledger: [3] });
    // The host's routes, its body parser included, are untouched.
    expect(await host({ path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })).toMatchObject({ status: 200, body: { echoed: { a: 1 } } });
    expect(await host({ method: 'GET', path: '/api/data' })).toMatchObject({ status: 200, body: { host: 'GET /api/data' } });
    expect((await host({ method: 'GET', path: '/nowhere' })).status).toBe(404);
  });

  it('does not open the database for requests that are not its own', async () => {
    const unreachable = newWritepath('postgres://writepath@127.0.0.1:1/none');
    const app = express();
    app.use(unreachable.express());
    app.get('/hello', (_req, res) => {
      res.send('hi');
    });
    const server = await listen(app);
    try {
      const send = fetchFrom(server.url);
      expect(await send({ method: 'GET', path: '/hello' })).toMatchObject({ status: 200, body: 'hi' });
      const refused = await send(await batchRequest(sampleBatch().body));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
    } finally {
      await server.close();
      await unreachable.close();
    }
  });
});
