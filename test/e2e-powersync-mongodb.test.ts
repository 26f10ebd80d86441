/**
 * End to end with the real PowerSync client against MongoDB: local writes go through the
 * SDK's upload queue and `getCrudTransactions()` to writepath, and the documents must then
 * equal the client's rows value for value (uuids as UUID, times as dates, booleans as bool).
 */
import { randomUUID } from 'node:crypto';
import { Binary, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoTestDatabase, withMongo } from './support/mongo.ts';
import { demoColumns, expectSameRows, openClient, uploadPending, type TestClient } from './support/powersync-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

/** The demo's lists and todos, declared for MongoDB. */
const TABLES = {
  lists: { types: { _id: 'uuid', created_at: 'date', name: 'string', owner_id: 'string' }, owner_column: 'owner_id' },
  todos: {
    types: {
      _id: 'uuid', created_at: 'date', completed_at: 'date', description: 'string', completed: 'bool',
      created_by: 'string', completed_by: 'string', list_id: 'uuid',
    },
  },
};

let server: TestServer;
let client: TestClient;

beforeAll(async () => {
  server = await startTestServer({ databaseUrl: createMongoTestDatabase('e2e'), config: { tables: TABLES } });
  client = await openClient({});
});
afterAll(async () => {
  await client?.close();
  await server?.close();
});

/** Documents as rows: `_id` as `id`, uuids as text, fields a PUT left out as NULL. */
async function serverRows(table: 'lists' | 'todos'): Promise<Record<string, unknown>[]> {
  const documents = await withMongo(server.databaseUrl, (db) => db.collection(table).find().toArray());
  return documents.map((document: Document) => {
    const row: Record<string, unknown> = {};
    for (const column of Object.keys(demoColumns[table])) {
      const value = document[column === 'id' ? '_id' : column];
      row[column] = value instanceof Binary ? value.toUUID().toHexString() : (value ?? null);
    }
    return row;
  });
}

describe('PowerSync client → writepath → MongoDB', () => {
  it('ends with documents equal to the client rows and an empty upload queue', async () => {
    const { db } = client;
    const user = `user-${randomUUID()}`;
    const [home, work] = [randomUUID(), randomUUID()];
    const [milk, call, gone] = [randomUUID(), randomUUID(), randomUUID()];

    await db.writeTransaction(async (tx) => {
      await tx.execute('INSERT INTO lists (id, created_at, name) VALUES (?, ?, ?)', [home, '2024-05-01T08:00:00.123Z', 'Home']);
      await tx.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [work, '2024-05-01 09:30:15.5', 'Work', user]);
    });
    await db.writeTransaction(async (tx) => {
      const insert = 'INSERT INTO todos (id, created_at, description, completed, created_by, list_id) VALUES (?, ?, ?, ?, ?, ?)';
      await tx.execute(insert, [milk, '2024-05-02T10:00:00.000Z', 'Buy milk', 0, user, home]);
      await tx.execute(insert, [call, '2024-05-02T10:02:00.000Z', 'Call Bob', 0, user, work]);
      await tx.execute(insert, [gone, '2024-05-02T10:03:00.000Z', 'Fleeting', 0, user, work]);
    });
    await db.execute('UPDATE todos SET completed = 1, completed_at = ?, completed_by = ? WHERE id = ?', ['2024-05-03T18:45:12.345Z', user, call]);
    await db.execute('UPDATE todos SET completed = 0, completed_at = NULL, completed_by = NULL WHERE id = ?', [call]);
    await db.execute('UPDATE todos SET description = ?, list_id = ? WHERE id = ?', ['Buy oat milk', work, milk]);
    await db.execute('DELETE FROM todos WHERE id = ?', [gone]);

    const results = await uploadPending(db, { url: server.url, token: await server.token(user), transactionsPerRequest: 2 });
    for (const r of results) expect(r.body).toMatchObject({ duplicates: 0, skipped: 0, rejected: [] });
    expect((await db.getUploadQueueStats()).count).toBe(0);

    expectSameRows(
      (await db.getAll<Record<string, unknown>>('SELECT * FROM lists')).map((row) => ({ ...row, owner_id: row.owner_id ?? user })),
      await serverRows('lists'),
      demoColumns.lists,
    );
    expectSameRows(await db.getAll('SELECT * FROM todos'), await serverRows('todos'), demoColumns.todos);
    // PATCH to NULL stored null: the field is there, holding null.
    const stored = await withMongo(server.databaseUrl, (db) => db.collection('todos').findOne({ completed_by: null, completed: false, description: 'Call Bob' }));
    expect(stored).toHaveProperty('completed_at', null);
  });
});
