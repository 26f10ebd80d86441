/**
 * Temporary failures of the database (PROTOCOL.md 2.5): Postgres down between batches,
 * stopped or cut off while a batch runs. Every case must answer 503 with Retry-After, leave
 * nothing behind, and let the same batch apply exactly once afterwards.
 *
 * These tests stop and start Postgres, so they run on a dedicated embedded server of their
 * own, never on the shared one of the other test files.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/postgres/embedded.ts';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { sql } from './support/pg.ts';
import { SLOW_TABLE_SQL, slowPut, sleep, waitForSleepingBackend } from './support/slow.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';
import { startTcpProxy } from './support/tcp-proxy.ts';

const TABLES = { lists: {}, todos: {}, slow: {} };

let dataDir: string;
let pgServer: EmbeddedServer;
let databaseUrl: string;
let server: TestServer;
let token: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'writepath-failures-pg-'));
  pgServer = await startEmbeddedPostgres({ dataDir });
  databaseUrl = pgServer.url;
  await sql(databaseUrl, exampleSchemaSql + SLOW_TABLE_SQL);
  server = await startTestServer({ databaseUrl, config: { tables: TABLES } });
  token = await server.token('u1');
});

afterAll(async () => {
  await server?.close();
  await pgServer?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/**
 * Four client transactions: a list, two todos in it, a todo that is rejected (completed: 7),
 * and, when `delayMs` is given, a slow row last, so that the others are already written in
 * the database transaction when the batch is caught in the slow one.
 */
function outageBatch(clientId: string, firstOpId: number, delayMs?: number) {
  const list = randomUUID();
  const slowId = randomUUID();
  const o = firstOpId;
  const batch: Record<string, unknown>[] = [
    { op_id: o, tx_id: o, op: 'PUT', type: 'lists', id: list, data: { name: 'outage', owner_id: 'u1' } },
    { op_id: o + 1, tx_id: o + 1, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'a', list_id: list, completed: 0 } },
    { op_id: o + 2, tx_id: o + 1, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'b', list_id: list, completed: 1 } },
    { op_id: o + 3, tx_id: o + 3, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'c', list_id: list, completed: 7 } },
  ];
  if (delayMs !== undefined) batch.push(slowPut(o + 4, delayMs, slowId));
  return { list, slowId, lastOpId: o + batch.length - 1, body: { client_id: clientId, batch } };
}

/** What the database holds of one outage batch, and the client's ledger and rejection rows. */
async function stateOf(url: string, clientId: string, list: string, slowId: string) {
  const [row] = await sql(
    url,
    `SELECT (SELECT count(*) FROM lists WHERE id = $2)::int AS lists,
            (SELECT count(*) FROM todos WHERE list_id = $2)::int AS todos,
            (SELECT count(*) FROM slow WHERE id = $3)::int AS slow,
            (SELECT count(*) FROM writepath_rejections WHERE client_id = $1)::int AS rejections,
            (SELECT last_op_id FROM writepath_ledger WHERE client_id = $1 AND user_id = 'u1')::int AS ledger`,
    [clientId, list, slowId],
  );
  return row;
}

function expect503(answer: { status: number; body: any; headers: Headers }, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(503);
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(answer.body).toEqual({ error: { code, message: expect.any(String) } });
}

async function waitUntilReady(url: string) {
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${url}/ready`)).status === 200) return;
    await sleep(50);
  }
  throw new Error('the server did not become ready');
}

/** Applies an outage batch again and checks it lands exactly once, then only as duplicates. */
async function expectAppliedOnce(target: Pick<TestServer, 'url'>, url: string, b: ReturnType<typeof outageBatch>, before: number) {
  const entries = b.body.batch.length;
  const again = await postBatch(target, token, b.body);
  expect(again.status, JSON.stringify(again.body)).toBe(200);
  expect(again.body).toMatchObject({ last_op_id: b.lastOpId, applied: entries - 1, duplicates: 0, skipped: 0 });
  expect(again.body.rejected).toEqual([expect.objectContaining({ op_id: b.lastOpId - (entries - 4), code: 'invalid_value', column: 'completed' })]);
  expect(await stateOf(url, b.body.client_id, b.list, b.slowId)).toEqual({
    lists: 1, todos: 2, slow: entries === 5 ? 1 : 0, rejections: before + 1, ledger: b.lastOpId,
  });
  const third = await postBatch(target, token, b.body);
  expect(third.body).toEqual({ client_id: b.body.client_id, last_op_id: b.lastOpId, applied: 0, duplicates: entries, skipped: 0, rejected: [] });
  expect(await stateOf(url, b.body.client_id, b.list, b.slowId)).toMatchObject({ lists: 1, todos: 2, rejections: before + 1, ledger: b.lastOpId });
}

/** A TCP proxy in front of Postgres whose connections can be cut, as a network failure would. */
async function startProxy(targetPort: number): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const proxy = await startTcpProxy(targetPort);
  const url = new URL(databaseUrl);
  url.port = String(proxy.port);
  return { url: url.toString(), cut: proxy.cut, close: proxy.close };
}

describe('Postgres unavailable', () => {
  it('answers 503 with Retry-After while Postgres is down, /ready 503 and /health 200; the same batch applies once after', async () => {
    const clientId = randomUUID();
    const first = outageBatch(clientId, 1);
    expect((await postBatch(server, token, first.body)).status).toBe(200);
    expect(await stateOf(databaseUrl, clientId, first.list, first.slowId)).toMatchObject({ lists: 1, todos: 2, rejections: 1, ledger: 4 });

    const second = outageBatch(clientId, 5);
    await pgServer.stop();
    try {
      expect503(await postBatch(server, token, second.body), 'database_unavailable');
      expect((await fetch(`${server.url}/ready`)).status).toBe(503);
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(200);
      // Still down: a retry now is answered the same way.
      expect503(await postBatch(server, token, second.body), 'database_unavailable');
    } finally {
      await pgServer.start();
    }
    await waitUntilReady(server.url);
    expect(await stateOf(databaseUrl, clientId, second.list, second.slowId)).toMatchObject({ lists: 0, todos: 0, rejections: 1, ledger: 4 });
    await expectAppliedOnce(server, databaseUrl, second, 1);
  });

  it('rolls back a batch whose Postgres stops while it runs, then applies it once', async () => {
    const clientId = randomUUID();
    const first = outageBatch(clientId, 1);
    expect((await postBatch(server, token, first.body)).status).toBe(200);

    const caught = outageBatch(clientId, 5, 600);
    const inFlight = postBatch(server, token, caught.body);
    await waitForSleepingBackend(databaseUrl);
    await pgServer.stop();
    try {
      expect503(await inFlight, 'database_unavailable');
    } finally {
      await pgServer.start();
    }
    await waitUntilReady(server.url);
    // The list and todos were written before the slow row, in the same database transaction.
    expect(await stateOf(databaseUrl, clientId, caught.list, caught.slowId)).toEqual({ lists: 0, todos: 0, slow: 0, rejections: 1, ledger: 4 });
    await expectAppliedOnce(server, databaseUrl, caught, 1);
  });

  it('rolls back a batch whose backend is terminated (pg_terminate_backend), then applies it once', async () => {
    const clientId = randomUUID();
    const caught = outageBatch(clientId, 1, 600);
    const inFlight = postBatch(server, token, caught.body);
    const pid = await waitForSleepingBackend(databaseUrl);
    expect(await sql(databaseUrl, 'SELECT pg_terminate_backend($1) AS done', [pid])).toEqual([{ done: true }]);
    expect503(await inFlight, 'database_unavailable');
    expect(await stateOf(databaseUrl, clientId, caught.list, caught.slowId)).toEqual({ lists: 0, todos: 0, slow: 0, rejections: 0, ledger: null });
    await expectAppliedOnce(server, databaseUrl, caught, 0);
  });

  it('rolls back a batch whose connection drops without a word from Postgres, then applies it once', async () => {
    const proxy = await startProxy(pgServer.port);
    const viaProxy = await startTestServer({ databaseUrl: proxy.url, config: { tables: TABLES } });
    try {
      const clientId = randomUUID();
      const caught = outageBatch(clientId, 1, 600);
      const inFlight = postBatch(viaProxy, token, caught.body);
      await waitForSleepingBackend(databaseUrl);
      proxy.cut();
      expect503(await inFlight, 'database_unavailable');
      // The backend notices the lost client only when it next talks to it; wait for it to go.
      for (let i = 0; i < 100 && (await sql(databaseUrl, `SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'`)).length > 0; i++) {
        await sleep(25);
      }
      expect(await stateOf(databaseUrl, clientId, caught.list, caught.slowId)).toEqual({ lists: 0, todos: 0, slow: 0, rejections: 0, ledger: null });
      // The pool replaces the dropped connection: the retry goes through the same proxy.
      await expectAppliedOnce(viaProxy, databaseUrl, caught, 0);
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });
});
