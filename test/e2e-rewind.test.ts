/**
 * End to end with the real PowerSync client: a client database restored from a copy of its
 * SQLite file (a device backup) keeps its client_id and hands out op_ids the server has
 * seen already. Its new writes must reach Postgres; the entries the backup still had
 * queued, uploaded since, must not be applied again.
 */
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { openClient, uploadPending, type TestClient } from './support/powersync-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let parent: string;
let client: TestClient | undefined;

beforeAll(async () => {
  server = await startTestServer();
  parent = await mkdtemp(join(tmpdir(), 'writepath-rewind-'));
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  if (parent) await rm(parent, { recursive: true, force: true });
});

const live = () => join(parent, 'live');
const backup = () => join(parent, 'backup');

/** Closes the client (SQLite checkpoints its WAL into the file), then opens the same files again. */
async function reopen(between?: () => Promise<void>): Promise<TestClient> {
  await client?.close();
  await between?.();
  client = await openClient({ dir: live() });
  return client;
}

async function copyFiles(from: string, to: string): Promise<void> {
  await rm(to, { recursive: true, force: true });
  await cp(from, to, { recursive: true });
}

it('applies a restored client\'s new writes and skips what it had queued and was uploaded since', async () => {
  const user = `user-${randomUUID()}`;
  const token = await server.token(user);
  const list = randomUUID();
  const todo = (description: string) => [randomUUID(), '2024-05-02T10:00:00Z', description, user, list];
  const insertTodo = 'INSERT INTO todos (id, created_at, description, completed, created_by, list_id) VALUES (?, ?, ?, 0, ?, ?)';

  let { db } = await reopen();
  const clientId = await db.getClientId();
  await db.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [list, '2024-05-01T08:00:00Z', 'List', user]);
  await db.execute(insertTodo, todo('uploaded before the backup'));
  await uploadPending(db, { url: server.url, token });
  // Queued when the backup is taken, uploaded after it: the restored client sends it again.
  await db.execute(insertTodo, todo('queued in the backup'));

  ({ db } = await reopen(() => copyFiles(live(), backup())));
  await db.execute(insertTodo, todo('written after the backup'));
  const beforeRestore = await uploadPending(db, { url: server.url, token, transactionsPerRequest: 10 });
  expect(beforeRestore.map((r) => r.body)).toEqual([expect.objectContaining({ last_op_id: 4, applied: 2, duplicates: 0 })]);

  // The device is restored from the backup: same client_id, op_ids from 4 on again.
  ({ db } = await reopen(async () => copyFiles(backup(), live())));
  expect(await readdir(live())).toContain('client.db');
  expect(await db.getClientId()).toBe(clientId);
  await db.execute(insertTodo, todo('written after the restore'));
  const afterRestore = await uploadPending(db, { url: server.url, token, transactionsPerRequest: 10 });
  expect(afterRestore.map((r) => r.opIds)).toEqual([[3, 4]]);
  expect(afterRestore.map((r) => r.body)).toEqual([
    { client_id: clientId, last_op_id: 4, applied: 1, duplicates: 1, skipped: 0, rejected: [] },
  ]);

  const rows = await sql(server.databaseUrl, 'SELECT description FROM todos WHERE list_id = $1 ORDER BY description', [list]);
  expect(rows.map((r) => r.description)).toEqual([
    'queued in the backup',
    'uploaded before the backup',
    'written after the backup',
    'written after the restore',
  ]);
  expect((await db.getUploadQueueStats()).count).toBe(0);
});
