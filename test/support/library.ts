import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWritepath, type Writepath, type WritepathConfigInput, type WritepathOptions } from '../../src/index.ts';
import { exampleSchemaSql } from '../../src/playground/example-schema.ts';
import { createTestDatabase, sql } from './pg.ts';
import { signTestToken, TEST_SECRET } from './server.ts';

/** A fresh database with the example schema (lists, todos). */
export async function exampleDatabase(): Promise<string> {
  const url = await createTestDatabase('lib');
  await sql(url, exampleSchemaSql);
  return url;
}

/** The configuration of the library tests: lists/todos writable, HS256 with TEST_SECRET. */
export function libraryConfig(databaseUrl: string, extra: WritepathConfigInput = {}): WritepathConfigInput {
  return { database: { url: databaseUrl }, auth: { jwt: { secret: TEST_SECRET } }, tables: { lists: {}, todos: {} }, ...extra };
}

export function newWritepath(databaseUrl: string, extra: WritepathConfigInput = {}, options: WritepathOptions = {}): Writepath {
  return createWritepath(libraryConfig(databaseUrl, extra), { logger: false, ...options });
}

export interface SentRequest {
  method?: string;
  /** Below the mount point: `/api/data`, `/health`. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** How a test reaches a mounted writepath: through fetch, or by calling handle() itself. */
export type Send = (request: SentRequest) => Promise<Answer>;

export async function readAnswer(response: Response): Promise<Answer> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the assertion message
  }
  return { status: response.status, headers: response.headers, body };
}

/** A Send that fetches from a real server; `base` is the mount point's URL, no trailing slash. */
export function fetchFrom(base: string): Send {
  return async ({ method = 'POST', path, headers, body }) =>
    readAnswer(await fetch(`${base}${path}`, { method, headers, body: body as BodyInit | undefined }));
}

/** A list and two todos in it, in two client transactions. */
export function sampleBatch(clientId = randomUUID()) {
  const list = randomUUID();
  return {
    clientId,
    list,
    body: {
      client_id: clientId,
      batch: [
        { op_id: 1, tx_id: 1, op: 'PUT', type: 'lists', id: list, data: { name: 'groceries', owner_id: 'u1' } },
        { op_id: 2, tx_id: 2, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'milk', list_id: list, completed: 0 } },
        { op_id: 3, tx_id: 2, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'bread', list_id: list, completed: 1 } },
      ],
    },
  };
}

export async function batchRequest(body: unknown, headers: Record<string, string> = {}, sub = 'u1'): Promise<SentRequest> {
  return {
    path: '/api/data',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await signTestToken(sub)}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** What a batch left in the database: its todos, and the ledger and rejection rows of its client. */
export async function stateOf(databaseUrl: string, clientId: string, list: string) {
  const [row] = await sql(
    databaseUrl,
    `SELECT (SELECT count(*) FROM lists WHERE id = $2)::int AS lists,
            (SELECT array_agg(description || ':' || completed ORDER BY description) FROM todos WHERE list_id = $2) AS todos,
            (SELECT array_agg(last_op_id::int) FROM writepath_ledger WHERE client_id = $1) AS ledger`,
    [clientId, list],
  );
  return row;
}

/**
 * The same checks for every way of mounting writepath: a real batch lands in Postgres, its
 * retry is all duplicates, 401 and 415 leave nothing behind. `mount` starts the host (a
 * server on 127.0.0.1, or none for handle()) and returns how to reach writepath and how to
 * stop the host; the Writepath is closed after it.
 */
export function describeMounting(
  name: string,
  mount: (wp: Writepath) => Promise<{ send: Send; close?: () => Promise<void> }>,
  config: WritepathConfigInput = {},
): void {
  describe(`${name}: the protocol, as the standalone server`, () => {
    let databaseUrl: string;
    let wp: Writepath;
    let send: Send;
    let closeHost: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      databaseUrl = await exampleDatabase();
      wp = newWritepath(databaseUrl, config);
      ({ send, close: closeHost } = await mount(wp));
    });
    afterAll(async () => {
      await closeHost?.();
      await wp?.close();
    });

    it('applies a batch to Postgres and answers with the counts', async () => {
      const { clientId, list, body } = sampleBatch();
      const answer = await send(await batchRequest(body));
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.body).toEqual({ client_id: clientId, last_op_id: 3, applied: 3, duplicates: 0, skipped: 0, rejected: [] });
      expect(await stateOf(databaseUrl, clientId, list)).toEqual({ lists: 1, todos: ['bread:true', 'milk:false'], ledger: [3] });
    });

    it('applies a retried batch once: the retry is all duplicates', async () => {
      const { clientId, list, body } = sampleBatch();
      expect((await send(await batchRequest(body))).body).toMatchObject({ applied: 3, duplicates: 0 });
      const retry = await send(await batchRequest(body));
      expect(retry.status).toBe(200);
      expect(retry.body).toEqual({ client_id: clientId, last_op_id: 3, applied: 0, duplicates: 3, skipped: 0, rejected: [] });
      expect(await stateOf(databaseUrl, clientId, list)).toEqual({ lists: 1, todos: ['bread:true', 'milk:false'], ledger: [3] });
    });

    it('takes a gzip body', async () => {
      const { clientId, list, body } = sampleBatch();
      const gzipped = gzipSync(JSON.stringify(body));
      const answer = await send({ ...(await batchRequest(body, { 'content-encoding': 'gzip' })), body: gzipped });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ applied: 3 });
      expect(await stateOf(databaseUrl, clientId, list)).toMatchObject({ lists: 1, ledger: [3] });
    });

    it('answers 401 without a valid token, with nothing applied', async () => {
      const { clientId, list, body } = sampleBatch();
      const { authorization: _, ...headers } = (await batchRequest(body)).headers!;
      const missing = await send({ path: '/api/data', headers, body: JSON.stringify(body) });
      expect(missing.status).toBe(401);
      expect(missing.body).toEqual({ error: { code: 'token_missing', message: expect.any(String) } });
      const forged = await send({ ...(await batchRequest(body)), headers: { ...headers, authorization: `Bearer ${await signTestToken('u1', 'x'.repeat(40))}` } });
      expect(forged.status).toBe(401);
      expect(forged.body.error.code).toBe('token_signature');
      expect(await stateOf(databaseUrl, clientId, list)).toEqual({ lists: 0, todos: null, ledger: null });
    });

    it('answers 415 for a body that is not application/json, with nothing applied', async () => {
      const { clientId, list, body } = sampleBatch();
      const answer = await send(await batchRequest(body, { 'content-type': 'text/plain' }));
      expect(answer.status).toBe(415);
      expect(answer.body).toEqual({ error: { code: 'unsupported_media_type', message: expect.any(String) } });
      expect(await stateOf(databaseUrl, clientId, list)).toEqual({ lists: 0, todos: null, ledger: null });
    });

    it('serves /health and /ready', async () => {
      expect(await send({ method: 'GET', path: '/health' })).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(await send({ method: 'GET', path: '/ready' })).toMatchObject({ status: 200, body: { status: 'ready' } });
    });
  });
}
