import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { buildApp } from '../src/server/app.ts';
import { openWritepath, StartupError } from '../src/server/open.ts';
import { createMongoTestDatabase, withMongo } from './support/mongo.ts';
import { startJongodb, type MongoTestServer } from './support/mongo-server.ts';
import { postBatch, signTestToken, startTestServer, TEST_SECRET, type TestServer } from './support/server.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

const TABLES = { items: { types: { title: 'string', n: 'int' } } };

const config = (url: string, extra: Record<string, unknown> = {}) =>
  configSchema.parse({ database: { url }, auth: { jwt: { secret: TEST_SECRET } }, server: { port: 0 }, tables: TABLES, ...extra });

/**
 * On a jongodb of its own, standalone and behind a proxy whose connections are cut: the
 * shared server is a replica set, and the driver would go round the proxy to the address
 * the set advertises.
 */
describe('MongoDB: the server goes away', () => {
  const dbName = `gone_${randomBytes(6).toString('hex')}`;
  let mongo: MongoTestServer;
  /** Straight to the server, for reading back what was committed. */
  let direct: string;
  let proxy: TcpProxy;
  let app: FastifyInstance;
  let token: string;
  /** The op_id at which the next batch loses its connection, in the middle of its transaction. */
  let cutAt: number | undefined;

  beforeAll(async () => {
    mongo = await startJongodb({ standalone: true });
    const target = new URL(mongo.url);
    direct = `mongodb://${target.host}/${dbName}`;
    proxy = await startTcpProxy(Number(target.port));
    const opened = await openWritepath(config(`mongodb://127.0.0.1:${proxy.port}/${dbName}`), {
      // Runs inside the batch's transaction, after the ledger is locked and before the writes.
      beforeApply: (entry) => {
        if (entry.opId === cutAt) {
          proxy.setDown(true);
          proxy.cut();
        }
        return entry;
      },
    });
    app = buildApp(opened);
    app.addHook('onClose', () => opened.store.close());
    token = await signTestToken('u1');
  });
  afterAll(async () => {
    await app?.close();
    await proxy?.close();
    await mongo?.stop();
  });

  const send = (body: unknown) =>
    app.inject({ method: 'POST', url: '/api/data', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  it('answers 503 with Retry-After and applies nothing; the same batch applies once the server is back', async () => {
    const clientId = randomUUID();
    const body = {
      client_id: clientId,
      batch: [
        { op_id: 1, tx_id: 1, op: 'PUT', type: 'items', id: 'a', data: { title: 'one' } },
        { op_id: 2, tx_id: 2, op: 'PUT', type: 'items', id: 'b', data: { title: 'two' } },
      ],
    };
    cutAt = 2;
    const failed = await send(body);
    cutAt = undefined;
    expect(failed.statusCode).toBe(503);
    expect(failed.headers['retry-after']).toBeDefined();
    expect(JSON.parse(failed.body).error.code).toBe('database_unavailable');
    expect((await app.inject({ url: '/ready' })).statusCode).toBe(503);

    const committed = await withMongo(direct, async (db) => ({
      items: await db.collection('items').countDocuments(),
      ledger: await db.collection('writepath_ledger').findOne({ _id: { user_id: 'u1', client_id: clientId } } as Document),
    }));
    expect(committed).toEqual({ items: 0, ledger: null });

    proxy.setDown(false);
    expect((await app.inject({ url: '/ready' })).statusCode).toBe(200);
    const retried = await send(body);
    expect(retried.statusCode).toBe(200);
    expect(JSON.parse(retried.body)).toMatchObject({ applied: 2, duplicates: 0, last_op_id: 2 });
    expect(await withMongo(direct, (db) => db.collection('items').countDocuments())).toBe(2);
  });
});

describe('MongoDB: two uploads of one client at once', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ databaseUrl: createMongoTestDatabase('twice'), config: { tables: TABLES } });
  });
  afterAll(() => server?.close());

  it('applies every entry exactly once, whichever commits first; the other retries or finds duplicates', async () => {
    const token = await server.token('u1');
    const clientId = randomUUID();
    const entries = Array.from({ length: 40 }, (_, i) => ({ op_id: i + 1, tx_id: i + 1, op: 'PUT', type: 'items', id: `r${i}`, data: { n: i } }));
    // A client that sent its queue again, longer by then, while the first upload still ran.
    const bodies = [entries.slice(0, 30), entries].map((batch) => ({ client_id: clientId, batch }));
    const results = await Promise.all(
      bodies.map(async (body) => {
        for (let attempt = 0; attempt < 20; attempt++) {
          const response = await postBatch(server, token, body);
          if (response.status !== 503) return response;
          expect(response.headers.get('retry-after')).toBeDefined();
        }
        throw new Error('still 503 after 20 attempts');
      }),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results[0]!.body.applied + results[1]!.body.applied).toBe(40);
    expect(results[0]!.body.duplicates + results[1]!.body.duplicates).toBe(30);
    const stored = await withMongo(server.databaseUrl, async (db) => ({
      items: await db.collection('items').countDocuments(),
      ledger: (await db.collection('writepath_ledger').findOne({ _id: { user_id: 'u1', client_id: clientId } } as Document))?.last_op_id,
    }));
    expect(stored).toEqual({ items: 40, ledger: 40 });
  });
});

describe('MongoDB: what stops the start', () => {
  const problemsOf = async (extra: Record<string, unknown>) => {
    const error = await openWritepath(config(createMongoTestDatabase('start'), extra)).then(
      async (opened) => {
        await opened.store.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StartupError);
    return (error as StartupError).problems;
  };

  it('RLS mode, an unknown type, field times in a field not declared object, an owner field not declared', async () => {
    const problems = await problemsOf({
      auth: { jwt: { secret: TEST_SECRET }, postgres_role: 'app' },
      tables: {
        a: { types: { x: 'text' } },
        b: { types: { x: 'string', field_timestamps: 'string' }, conflict: { strategy: 'field_timestamps' } },
        c: { types: { x: 'string' }, owner_column: 'owner_id' },
      },
    });
    expect(problems).toEqual([
      expect.stringContaining('auth.postgres_role'),
      expect.stringMatching(/^tables\.a\.types\.x: unknown type text/),
      expect.stringMatching(/^tables\.b\.conflict\.column: field_timestamps holds the field times, an embedded document: declare it object/),
      expect.stringMatching(/^tables\.c\.owner_column: owner_id is not a declared field/),
    ]);
  });

  it('answers /ready from the database', async () => {
    const server = await startTestServer({ databaseUrl: createMongoTestDatabase('ready'), config: { tables: TABLES } });
    try {
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
