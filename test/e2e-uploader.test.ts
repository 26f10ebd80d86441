/**
 * The uploader end to end: the real PowerSync client connected (`db.connect()`, its own
 * upload loop calling `uploadData`) with a stub sync service, uploading to a real writepath
 * server on a real Postgres. Postgres stopped mid-drain: e2e-uploader-restart.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UploadError } from '../src/client/index.ts';
import type { RejectedEntry } from '../src/protocol/response.ts';
import { sql } from './support/pg.ts';
import { demoColumns, expectSameRows, type PowerSyncDatabase, type TestClient } from './support/powersync-client.ts';
import { startTestServer, TEST_SECRET, type TestServer } from './support/server.ts';
import { connectUploader, expectWholeTransactions, openSyncedClient, processed, recordingFetch, waitFor, waitForEmptyQueue } from './support/sync-service.ts';

let server: TestServer;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map(async (c) => {
    await c.db.disconnect();
    await c.close();
  }));
});
afterAll(() => server?.close());

async function newClient(): Promise<PowerSyncDatabase> {
  const client = await openSyncedClient();
  clients.push(client);
  return client.db;
}

const insertList = 'INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)';
const insertTodo = 'INSERT INTO todos (id, created_at, description, completed, created_by, list_id) VALUES (?, ?, ?, ?, ?, ?)';

async function expectSameTables(db: PowerSyncDatabase, target: TestServer, listIds: string[], todoIds: string[]) {
  const client = async (table: string, ids: string[]) => (await db.getAll<Record<string, unknown>>(`SELECT * FROM ${table}`)).filter((r) => ids.includes(String(r.id)));
  const stored = (table: string, ids: string[]) => sql(target.databaseUrl, `SELECT * FROM ${table} WHERE id = ANY($1::uuid[])`, [ids]);
  expectSameRows(await client('lists', listIds), await stored('lists', listIds), demoColumns.lists);
  expectSameRows(await client('todos', todoIds), await stored('todos', todoIds), demoColumns.todos);
}

const sumOf = (uploads: ReturnType<typeof recordingFetch>['uploads'], field: 'applied' | 'duplicates') =>
  processed(uploads).reduce((n, r) => n + r[field], 0);

it('uploads by itself after local writes, online and after coming online', async () => {
  const db = await newClient();
  const user = `user-${randomUUID()}`;
  const token = await server.token(user);
  const { fetch, uploads } = recordingFetch();
  const [offline, online] = [randomUUID(), randomUUID()];
  const todo = randomUUID();

  // Written before connect(): uploaded once connected.
  await db.execute(insertList, [offline, '2024-05-01T08:00:00Z', 'Written offline', user]);
  await connectUploader(db, { url: server.url, credentials: async () => token, fetch });
  await waitForEmptyQueue(db);
  expect(uploads).toHaveLength(1);

  // Written while connected: the SDK's crud listener starts the upload; nobody calls it.
  await db.writeTransaction(async (tx) => {
    await tx.execute(insertList, [online, '2024-05-01 09:30:15.5', 'Written online', user]);
    await tx.execute(insertTodo, [todo, '2024-05-02T10:00:00.000Z', 'Milk', 0, user, online]);
  });
  await db.execute('UPDATE todos SET completed = 1, completed_at = ? WHERE id = ?', ['2024-05-02T11:00:00Z', todo]);
  await waitForEmptyQueue(db);
  await waitFor('the server rows', async () => (await sql(server.databaseUrl, 'SELECT 1 FROM todos WHERE id = $1 AND completed', [todo])).length === 1);

  await expectSameTables(db, server, [offline, online], [todo]);
  expect(uploads.every((u) => u.status === 200)).toBe(true);
  expect(sumOf(uploads, 'applied')).toBe(4);
});

it('drains 10,000 pending entries to zero, in whole transactions, each applied once', async () => {
  const db = await newClient();
  const user = `user-${randomUUID()}`;
  const token = await server.token(user);
  const list = randomUUID();
  const todoIds: string[] = [];
  await db.execute(insertList, [list, '2024-05-01T08:00:00Z', 'Big list', user]);
  // 1 + 1,111 transactions of 9 entries = 10,000 entries.
  for (let t = 0; t < 1111; t++) {
    const rows = Array.from({ length: 9 }, (_, i) => {
      const id = randomUUID();
      todoIds.push(id);
      return [id, '2024-05-02T10:00:00.000Z', `todo ${t}.${i}`, i % 2, user, list];
    });
    await db.writeTransaction((tx) => tx.executeBatch(insertTodo, rows));
  }
  expect((await db.getUploadQueueStats()).count).toBe(10_000);

  const { fetch, uploads } = recordingFetch();
  await connectUploader(db, { url: server.url, credentials: async () => token, fetch, maxBatchOps: 1000 });
  await waitForEmptyQueue(db, 25_000);

  expect(uploads.every((u) => u.status === 200)).toBe(true);
  expect(Math.max(...uploads.map((u) => u.entries))).toBeLessThanOrEqual(1000);
  expect(uploads.length).toBeGreaterThanOrEqual(10);
  expect(expectWholeTransactions(uploads).size).toBe(1112);
  expect(sumOf(uploads, 'applied')).toBe(10_000);
  expect(sumOf(uploads, 'duplicates')).toBe(0);
  const [{ count }] = await sql(server.databaseUrl, 'SELECT count(*)::int AS count FROM todos WHERE list_id = $1', [list]);
  expect(count).toBe(9999);
  await expectSameTables(db, server, [list], todoIds);
}, 40_000);

it('hands a rejected transaction to onRejected, and the queue keeps moving', async () => {
  const db = await newClient();
  const user = `user-${randomUUID()}`;
  const token = await server.token(user);
  const [before, refused, after, later] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const badTodo = randomUUID();
  await db.execute(insertList, [before, '2024-05-01T08:00:00Z', 'Before', user]);
  await db.writeTransaction(async (tx) => {
    await tx.execute(insertList, [refused, '2024-05-01T08:00:00Z', 'Refused with its transaction', user]);
    // completed is a boolean on the server: 7 does not convert.
    await tx.execute(insertTodo, [badTodo, '2024-05-01T08:00:00Z', 'Bad', 7, user, refused]);
  });
  await db.execute(insertList, [after, '2024-05-01T08:00:00Z', 'After', user]);

  const rejected: RejectedEntry[] = [];
  const errors: UploadError[] = [];
  await connectUploader(db, {
    url: server.url,
    credentials: async () => token,
    onRejected: (entries) => void rejected.push(...entries),
    onError: (error) => void errors.push(error),
  });
  await waitForEmptyQueue(db);
  expect(rejected).toEqual([
    expect.objectContaining({ type: 'lists', id: refused, code: 'transaction_rejected', cause_op_id: expect.any(Number) }),
    expect.objectContaining({ type: 'todos', id: badTodo, code: 'invalid_value', column: 'completed' }),
  ]);
  expect(errors).toEqual([]);

  // Later writes still go up.
  await db.execute(insertList, [later, '2024-05-01T08:00:00Z', 'Later', user]);
  await waitForEmptyQueue(db);
  await waitFor('the later list', async () => (await sql(server.databaseUrl, 'SELECT 1 FROM lists WHERE id = $1', [later])).length === 1);

  const names = await sql(server.databaseUrl, 'SELECT name FROM lists WHERE id = ANY($1::uuid[]) ORDER BY name', [[before, refused, after, later]]);
  expect(names.map((r) => r.name)).toEqual(['After', 'Before', 'Later']);
  const stored = await sql(server.databaseUrl, 'SELECT row_id, code FROM writepath_rejections WHERE user_id = $1 ORDER BY op_id', [user]);
  expect(stored).toEqual([{ row_id: refused, code: 'transaction_rejected' }, { row_id: badTodo, code: 'invalid_value' }]);
});

it('fetches a fresh token after a 401 and goes on', async () => {
  const db = await newClient();
  const user = `user-${randomUUID()}`;
  const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(TEST_SECRET));
  const tokens = [expired, await server.token(user)];
  let calls = 0;
  const { fetch, uploads } = recordingFetch();
  const list = randomUUID();
  await db.execute(insertList, [list, '2024-05-01T08:00:00Z', 'Needs a fresh token', user]);
  // The connector's own fetchCredentials shape, endpoint and all.
  await connectUploader(db, { url: server.url, credentials: async () => ({ endpoint: 'ignored', token: tokens[Math.min(calls++, 1)]! }), fetch });
  await waitForEmptyQueue(db);
  expect(uploads.map((u) => u.status)).toEqual([401, 200]);
  expect(calls).toBe(2);
  expect(await sql(server.databaseUrl, 'SELECT name FROM lists WHERE id = $1', [list])).toEqual([{ name: 'Needs a fresh token' }]);
});

describe('a low body limit', () => {
  const LIMIT = 16 * 1024;
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ config: { server: { max_body_bytes: LIMIT } } });
  });
  afterAll(() => small?.close());

  it('makes the uploader shrink its batches, and the queue still drains', async () => {
    const db = await newClient();
    const user = `user-${randomUUID()}`;
    const token = await small.token(user);
    const listIds = Array.from({ length: 600 }, () => randomUUID());
    for (const id of listIds) await db.execute(insertList, [id, '2024-05-01T08:00:00Z', `A list with a longish name, to fill the body ${id}`, user]);

    const { fetch, uploads } = recordingFetch();
    await connectUploader(db, { url: small.url, credentials: async () => token, fetch });
    await waitForEmptyQueue(db);

    const refused = uploads.filter((u) => u.status === 413);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.map((u) => u.entries)).toEqual([...refused.map((u) => u.entries)].sort((a, b) => b - a));
    expect(refused[0]!.entries).toBe(600);
    const accepted = uploads.filter((u) => u.status === 200);
    expect(accepted.every((u) => u.bytes <= LIMIT)).toBe(true);
    expect(Math.max(...accepted.map((u) => u.entries))).toBeLessThan(Math.min(...refused.map((u) => u.entries)));
    expect(uploads.every((u) => u.status === 200 || u.status === 413)).toBe(true);
    expect(sumOf(uploads, 'applied')).toBe(600);
    await expectSameTables(db, small, listIds, []);
  });

  it('reports a transaction over the limit as transaction_too_large and keeps it queued', async () => {
    const db = await newClient();
    const user = `user-${randomUUID()}`;
    const token = await small.token(user);
    const list = randomUUID();
    await db.writeTransaction(async (tx) => {
      await tx.execute(insertList, [list, '2024-05-01T08:00:00Z', 'Huge transaction', user]);
      await tx.executeBatch(insertTodo, Array.from({ length: 150 }, (_, i) => [randomUUID(), '2024-05-02T10:00:00.000Z', `todo ${i} `.padEnd(80, '.'), 0, user, list]));
    });
    await db.execute(insertList, [randomUUID(), '2024-05-01T08:00:00Z', 'Behind it', user]);

    const errors: UploadError[] = [];
    await connectUploader(db, { url: small.url, credentials: async () => token, onError: (e) => void errors.push(e) });
    await waitFor('three reports', () => errors.length >= 3);
    await db.disconnect();

    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['transaction_too_large']));
    expect(errors[0]!.message).toContain('151 entries');
    // Never completed, never dropped: the whole transaction and the one behind it are queued.
    expect((await db.getUploadQueueStats()).count).toBe(152);
    expect(await sql(small.databaseUrl, 'SELECT 1 FROM lists WHERE owner_id = $1', [user])).toEqual([]);
  });
});
