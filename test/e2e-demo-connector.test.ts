/**
 * Apps built on PowerSync's demo connectors switch to writepath (with
 * `compat.demo_routes: true`) keeping their uploadData: the real client, connected, sends
 * the demo connectors' request shapes and the rows land. The connectors below make the same
 * requests as the demos (one client transaction per upload, `{batch: [{op, table, id,
 * data}]}` or one `PUT`/`PATCH`/`DELETE {table, data: {id, …}}` per entry); the one change
 * is the Authorization header writepath requires.
 */
import { randomUUID } from 'node:crypto';
import type { PowerSyncBackendConnector } from '@powersync/node';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { demoColumns, expectSameRows, type PowerSyncDatabase, type TestClient } from './support/powersync-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { connectWith, openSyncedClient, SYNC_ENDPOINT, waitForEmptyQueue } from './support/sync-service.ts';

let server: TestServer;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startTestServer({ config: { compat: { demo_routes: true } } });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map(async (c) => {
    await c.db.disconnect();
    await c.close();
  }));
});
afterAll(() => server?.close());

type Shape = 'batch' | 'single';

function demoConnector(token: string, shape: Shape, seen: string[]): PowerSyncBackendConnector {
  const send = async (method: string, body: unknown) => {
    const response = await fetch(`${server.url}/api/data`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    seen.push(`${method} ${response.status}`);
    if (!response.ok) throw new Error(`Received ${response.status} from /api/data: ${await response.text()}`);
  };
  return {
    fetchCredentials: async () => ({ endpoint: SYNC_ENDPOINT, token }),
    async uploadData(database) {
      const transaction = await database.getNextCrudTransaction();
      if (!transaction) return;
      if (shape === 'batch') {
        await send('POST', { batch: transaction.crud.map((e) => ({ op: e.op, table: e.table, id: e.id, data: e.opData })) });
      } else {
        for (const e of transaction.crud) await send(e.op, { table: e.table, data: { ...e.opData, id: e.id } });
      }
      await transaction.complete();
    },
  };
}

async function writeSomeChanges(db: PowerSyncDatabase, user: string) {
  const [home, work] = [randomUUID(), randomUUID()];
  const [milk, report, gone] = [randomUUID(), randomUUID(), randomUUID()];
  const insertTodo = 'INSERT INTO todos (id, created_at, description, completed, created_by, list_id) VALUES (?, ?, ?, 0, ?, ?)';
  await db.writeTransaction(async (tx) => {
    await tx.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [home, '2024-05-01T08:00:00.123Z', 'Home', user]);
    await tx.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [work, '2024-05-01 09:30:15', 'Work', user]);
    await tx.execute(insertTodo, [milk, '2024-05-02T10:00:00Z', 'Buy milk', user, home]);
    await tx.execute(insertTodo, [report, '2024-05-02T10:01:00Z', 'Write report', user, work]);
    await tx.execute(insertTodo, [gone, '2024-05-02T10:02:00Z', 'Gone soon', user, work]);
  });
  await db.execute('UPDATE todos SET completed = 1, completed_at = ?, completed_by = ? WHERE id = ?', ['2024-05-03T18:45:12Z', user, milk]);
  await db.execute('UPDATE lists SET name = ? WHERE id = ?', ['Home (shared)', home]);
  await db.execute('DELETE FROM todos WHERE id = ?', [gone]);
  return { listIds: [home, work], todoIds: [milk, report, gone] };
}

for (const shape of ['batch', 'single'] as const) {
  it(`lands the demo connector's ${shape === 'batch' ? 'POST {batch}' : 'PUT/PATCH/DELETE'} requests`, async () => {
    const client = await openSyncedClient();
    clients.push(client);
    const { db } = client;
    const user = `user-${randomUUID()}`;
    const { listIds, todoIds } = await writeSomeChanges(db, user);
    const seen: string[] = [];
    await connectWith(db, demoConnector(await server.token(user), shape, seen));
    await waitForEmptyQueue(db);

    expect(seen).toEqual(shape === 'batch' ? Array(4).fill('POST 200') : ['PUT 200', 'PUT 200', 'PUT 200', 'PUT 200', 'PUT 200', 'PATCH 200', 'PATCH 200', 'DELETE 200']);
    const clientRows = async (table: string, ids: string[]) => (await db.getAll<Record<string, unknown>>(`SELECT * FROM ${table}`)).filter((r) => ids.includes(String(r.id)));
    const serverRows = (table: string, ids: string[]) => sql(server.databaseUrl, `SELECT * FROM ${table} WHERE id = ANY($1::uuid[])`, [ids]);
    expectSameRows(await clientRows('lists', listIds), await serverRows('lists', listIds), demoColumns.lists);
    expectSameRows(await clientRows('todos', todoIds), await serverRows('todos', todoIds), demoColumns.todos);
    expect(await sql(server.databaseUrl, 'SELECT 1 FROM writepath_ledger WHERE user_id = $1', [user])).toEqual([]);
  });
}
