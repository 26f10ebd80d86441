/**
 * End to end with the real PowerSync client (`@powersync/node`, better-sqlite3): local writes
 * go through the SDK's upload queue, are read with `getCrudTransactions()` /
 * `getNextCrudTransaction()` and posted as `{client_id, batch}`; the Postgres rows must then
 * equal the client's rows value for value.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import {
  demoColumns,
  expectSameRows,
  openClient,
  uploadPending,
  type PowerSyncDatabase,
  type TestClient,
  type UploadResult,
} from './support/powersync-client.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.close();
});

async function newClient(): Promise<PowerSyncDatabase> {
  const client = await openClient({});
  clients.push(client);
  return client.db;
}

/** Client rows of a table whose id is in `ids` (the ids a test touched). */
async function clientRows(db: PowerSyncDatabase, table: 'lists' | 'todos', ids: string[]) {
  const all = await db.getAll<Record<string, unknown>>(`SELECT * FROM ${table}`);
  return all.filter((row) => ids.includes(String(row.id)));
}

/** Server rows of a table whose id is in `ids`: other tests share the database. */
async function serverRows(table: 'lists' | 'todos', ids: string[]) {
  return sql(server.databaseUrl, `SELECT * FROM ${table} WHERE id = ANY($1::uuid[])`, [ids]);
}

async function expectQueueEmpty(db: PowerSyncDatabase) {
  expect((await db.getUploadQueueStats()).count).toBe(0);
  expect(await db.getNextCrudTransaction()).toBeNull();
}

/** Every request was fully applied: no duplicates, no rejections, ledger at the last op_id. */
function expectAllApplied(results: UploadResult[]) {
  for (const r of results) {
    const entries = JSON.parse(r.sent).batch.length as number;
    expect(r.body).toMatchObject({ duplicates: 0, skipped: 0, rejected: [] });
    expect(r.body.applied + r.body.duplicates + r.body.skipped + r.body.rejected.length).toBe(entries);
    expect(r.body.applied).toBe(entries);
    expect(r.body.last_op_id).toBe(r.opIds.at(-1));
  }
}

function expectStrictlyIncreasing(values: number[]) {
  for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]!);
}

describe.each([
  { perRequest: 1, label: 'one client transaction per request' },
  { perRequest: 4, label: 'several client transactions per request' },
])('PowerSync client → writepath → Postgres ($label)', ({ perRequest }) => {
  it('ends with Postgres rows equal to the client rows and an empty upload queue', async () => {
    const db = await newClient();
    const user = `user-${randomUUID()}`;
    const token = await server.token(user);
    const clientId = await db.getClientId();
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/);

    const [home, work, errands] = [randomUUID(), randomUUID(), randomUUID()];
    const [milk, report, call, bread, stamps, tidy, fleeting, ghost] = [
      randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID(),
    ];
    const listIds = [home, work, errands];
    const todoIds = [milk, report, call, bread, stamps, tidy, fleeting, ghost];

    // 1. Lists, with both timestamp spellings the client produces (ISO with zone, SQLite's
    //    zone-less `YYYY-MM-DD HH:MM:SS[.SSS]`, which means UTC). A single execute() is a
    //    transaction of its own.
    await db.writeTransaction(async (tx) => {
      await tx.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [
        home, '2024-05-01T08:00:00.123Z', 'Home', user,
      ]);
      await tx.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [
        work, '2024-05-01 09:30:15.5', 'Work', user,
      ]);
    });
    await db.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [
      errands, '2024-05-01T12:00:00+02:00', 'Errands', user,
    ]);

    // 2. Todos (booleans are bound as 0/1: better-sqlite3 cannot bind JS booleans).
    await db.writeTransaction(async (tx) => {
      const insert = 'INSERT INTO todos (id, created_at, description, completed, created_by, list_id) VALUES (?, ?, ?, ?, ?, ?)';
      await tx.execute(insert, [milk, '2024-05-02T10:00:00.000Z', 'Buy milk', 0, user, home]);
      await tx.execute(insert, [report, '2024-05-02T10:01:00.000Z', 'Write report', 0, user, home]);
      await tx.execute(insert, [call, '2024-05-02T10:02:00.000Z', 'Call Bob', 0, user, work]);
      await tx.execute(insert, [bread, '2024-05-02T10:03:00.000Z', 'Buy bread', 0, user, errands]);
      await tx.execute(insert, [stamps, '2024-05-02T10:04:00.000Z', 'Buy stamps', 0, user, errands]);
      // created_at from SQLite itself: 'YYYY-MM-DD HH:MM:SS', UTC.
      await tx.execute(
        "INSERT INTO todos (id, created_at, description, completed, created_by, list_id) VALUES (?, datetime('now'), ?, 0, ?, ?)",
        [tidy, 'Tidy up', user, home],
      );
    });

    // 3. Updates: a plain edit, and a todo moved to another list.
    await db.writeTransaction(async (tx) => {
      await tx.execute('UPDATE todos SET description = ? WHERE id = ?', ['Buy oat milk', milk]);
      await tx.execute('UPDATE todos SET list_id = ? WHERE id = ?', [work, report]);
    });

    // 4. Completed, then un-completed with completed_at / completed_by set back to NULL.
    await db.writeTransaction(async (tx) => {
      await tx.execute('UPDATE todos SET completed = 1, completed_at = ?, completed_by = ? WHERE id = ?', [
        '2024-05-03T18:45:12.345Z', user, call,
      ]);
      await tx.execute('UPDATE todos SET completed = 1, completed_at = ?, completed_by = ? WHERE id = ?', [
        '2024-05-03T18:46:00.000Z', user, tidy,
      ]);
    });
    await db.writeTransaction(async (tx) => {
      await tx.execute('UPDATE todos SET completed = 0, completed_at = NULL, completed_by = NULL WHERE id = ?', [call]);
      // An UPDATE that changes nothing: the SDK queues a PATCH with empty data.
      await tx.execute('UPDATE todos SET description = description WHERE id = ?', [milk]);
    });

    // 5. A list deleted with its todos (the client has no foreign keys: deleted explicitly).
    await db.writeTransaction(async (tx) => {
      await tx.execute('DELETE FROM todos WHERE list_id = ?', [errands]);
      await tx.execute('DELETE FROM lists WHERE id = ?', [errands]);
    });

    // 6. Rows inserted and deleted before any upload: in separate transactions, and in one.
    await db.execute('INSERT INTO todos (id, created_at, description, completed, list_id) VALUES (?, ?, ?, 0, ?)', [
      fleeting, '2024-05-04T00:00:00Z', 'Fleeting', home,
    ]);
    await db.execute('DELETE FROM todos WHERE id = ?', [fleeting]);
    await db.writeTransaction(async (tx) => {
      await tx.execute('INSERT INTO todos (id, created_at, description, completed, list_id) VALUES (?, ?, ?, 0, ?)', [
        ghost, '2024-05-04T00:00:01Z', 'Ghost', work,
      ]);
      await tx.execute('UPDATE todos SET completed = 1 WHERE id = ?', [ghost]);
      await tx.execute('DELETE FROM todos WHERE id = ?', [ghost]);
    });

    // What the SDK queued: whole transactions, strictly increasing op_ids, SQLite values.
    const queued: { op_id: number; tx_id?: number; op: string; type: string; id: string; data?: Record<string, unknown> }[] = [];
    for await (const tx of db.getCrudTransactions()) {
      queued.push(...tx.crud.map((e) => e.toJSON() as (typeof queued)[number]));
    }
    expect(queued.length).toBe(23);
    expectStrictlyIncreasing(queued.map((e) => e.op_id));
    expect(queued.find((e) => e.id === call && e.op === 'PATCH' && e.data?.completed === 0)?.data).toEqual({
      completed: 0,
      completed_at: null,
      completed_by: null,
    });
    expect(queued.some((e) => e.op === 'PATCH' && e.id === milk && Object.keys(e.data ?? {}).length === 0)).toBe(true);

    const first = await uploadPending(db, { url: server.url, token, transactionsPerRequest: perRequest });
    expect(first.length).toBe(Math.ceil(10 / perRequest)); // 10 client transactions
    expectAllApplied(first);
    await expectQueueEmpty(db);

    expectSameRows(await clientRows(db, 'lists', listIds), await serverRows('lists', listIds), demoColumns.lists);
    expectSameRows(await clientRows(db, 'todos', todoIds), await serverRows('todos', todoIds), demoColumns.todos);
    expect((await serverRows('lists', listIds)).length).toBe(2);
    expect((await serverRows('todos', todoIds)).length).toBe(4);

    // A second round on the same client: op_ids keep growing after complete() emptied the queue.
    await db.writeTransaction(async (tx) => {
      await tx.execute('UPDATE todos SET completed = 1, completed_at = ?, completed_by = ? WHERE id = ?', [
        '2024-05-05 07:00:00', user, milk,
      ]);
      await tx.execute('UPDATE lists SET name = ?, owner_id = NULL WHERE id = ?', ['Home (shared)', home]);
      await tx.execute('DELETE FROM todos WHERE id = ?', [report]);
    });
    const second = await uploadPending(db, { url: server.url, token, transactionsPerRequest: perRequest });
    expect(second.length).toBe(1);
    expectAllApplied(second);
    await expectQueueEmpty(db);
    expectStrictlyIncreasing([...first, ...second].flatMap((r) => r.opIds));

    expectSameRows(await clientRows(db, 'lists', listIds), await serverRows('lists', listIds), demoColumns.lists);
    expectSameRows(await clientRows(db, 'todos', todoIds), await serverRows('todos', todoIds), demoColumns.todos);
    expect((await serverRows('todos', todoIds)).length).toBe(3);
  });
});

describe('a retried crud transaction (lost response)', () => {
  it('is applied once, and the retry reports every entry as a duplicate with the same last_op_id', async () => {
    const db = await newClient();
    const user = `user-${randomUUID()}`;
    const token = await server.token(user);
    const clientId = await db.getClientId();
    const list = randomUUID();
    const [a, b] = [randomUUID(), randomUUID()];

    await db.writeTransaction(async (tx) => {
      await tx.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [
        list, '2024-06-01T00:00:00.000Z', 'Groceries', user,
      ]);
      const insert = 'INSERT INTO todos (id, created_at, description, completed, created_by, list_id) VALUES (?, ?, ?, 0, ?, ?)';
      await tx.execute(insert, [a, '2024-06-01T00:00:01.000Z', 'Apples', user, list]);
      await tx.execute(insert, [b, '2024-06-01T00:00:02.000Z', 'Bananas', user, list]);
      await tx.execute('UPDATE todos SET completed = 1, completed_at = ? WHERE id = ?', ['2024-06-01T00:00:03.000Z', a]);
    });
    await db.execute('UPDATE todos SET description = ? WHERE id = ?', ['Green apples', a]);

    const tx = await db.getNextCrudTransaction();
    expect(tx).not.toBeNull();
    const entries = tx!.crud.length;
    expect(entries).toBe(4);
    const lastOpId = tx!.crud.at(-1)!.clientId;
    const body = JSON.stringify({ client_id: clientId, batch: tx!.crud });

    const firstAnswer = await postBatch(server, token, body);
    expect(firstAnswer.status).toBe(200);
    expect(firstAnswer.body).toMatchObject({
      client_id: clientId,
      last_op_id: lastOpId,
      applied: entries,
      duplicates: 0,
      skipped: 0,
      rejected: [],
    });

    // Someone else changes the row between the lost response and the retry: a retry that
    // re-applied the transaction would overwrite this.
    await sql(server.databaseUrl, 'UPDATE todos SET description = $1, completed = false WHERE id = $2', ['Changed on the server', b]);

    const retry = await postBatch(server, token, body);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({
      client_id: clientId,
      last_op_id: lastOpId,
      applied: 0,
      duplicates: entries,
      skipped: 0,
      rejected: [],
    });

    await tx!.complete();
    const [bananas] = await serverRows('todos', [b]);
    expect(bananas).toMatchObject({ description: 'Changed on the server', completed: false });
    expect((await serverRows('lists', [list])).length).toBe(1);

    // The rest of the queue goes through normally and continues the ledger.
    const rest = await uploadPending(db, { url: server.url, token });
    expect(rest.length).toBe(1);
    expectAllApplied(rest);
    expect(rest[0]!.opIds[0]).toBeGreaterThan(lastOpId);
    await expectQueueEmpty(db);

    // Apart from the server-side edit, the client and the server agree.
    expectSameRows(await clientRows(db, 'lists', [list]), await serverRows('lists', [list]), demoColumns.lists);
    expectSameRows(await clientRows(db, 'todos', [a]), await serverRows('todos', [a]), demoColumns.todos);

    // Retrying the first body yet again, after later transactions, is still all duplicates,
    // and reports the ledger position, which has moved on.
    const late = await postBatch(server, token, body);
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ applied: 0, duplicates: entries, rejected: [], last_op_id: rest[0]!.opIds.at(-1) });
  });
});
