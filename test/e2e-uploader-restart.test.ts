/**
 * Postgres stopped and started again while the real PowerSync client drains its queue
 * through the uploader: nothing is lost and nothing is applied twice. A Postgres of its
 * own, since it is stopped; a trigger counts every row write the server makes.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/postgres/embedded.ts';
import { sql } from './support/pg.ts';
import { demoColumns, expectSameRows, type TestClient } from './support/powersync-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { connectUploader, expectWholeTransactions, openSyncedClient, processed, recordingFetch, waitFor, waitForEmptyQueue } from './support/sync-service.ts';

let parent: string;
let pg: EmbeddedServer;
let server: TestServer;
let client: TestClient | undefined;

const WRITE_LOG = `
CREATE TABLE todo_writes (n bigserial PRIMARY KEY, op text NOT NULL, id uuid NOT NULL);
CREATE FUNCTION log_todo_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO todo_writes (op, id) VALUES (TG_OP, COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END $$;
CREATE TRIGGER todo_writes AFTER INSERT OR UPDATE OR DELETE ON todos FOR EACH ROW EXECUTE FUNCTION log_todo_write();
`;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'writepath-restart-pg-'));
  // Tests run as root; Postgres runs as the `postgres` user and must reach its data dir.
  await chmod(parent, 0o755);
  pg = await startEmbeddedPostgres({ dataDir: join(parent, 'data'), port: 0 });
  await sql(pg.url, exampleSchemaSql + WRITE_LOG);
  server = await startTestServer({ databaseUrl: pg.url });
});

afterAll(async () => {
  if (client) {
    await client.db.disconnect();
    await client.close();
  }
  await server?.close();
  await pg?.stop();
  if (parent) await rm(parent, { recursive: true, force: true });
});

it('loses nothing and applies nothing twice when Postgres stops and starts mid-drain', async () => {
  client = await openSyncedClient();
  const { db } = client;
  const user = `user-${randomUUID()}`;
  const token = await server.token(user);
  const list = randomUUID();
  const todoIds = Array.from({ length: 2000 }, () => randomUUID());

  await db.execute('INSERT INTO lists (id, created_at, name, owner_id) VALUES (?, ?, ?, ?)', [list, '2024-05-01T08:00:00Z', 'List', user]);
  const insert = 'INSERT INTO todos (id, created_at, description, completed, created_by, list_id) VALUES (?, ?, ?, 0, ?, ?)';
  for (let t = 0; t < 200; t++) {
    await db.writeTransaction((tx) => tx.executeBatch(insert, todoIds.slice(t * 10, t * 10 + 10).map((id, i) => [id, '2024-05-02T10:00:00Z', `todo ${t}.${i}`, user, list])));
  }
  for (let t = 0; t < 50; t++) {
    await db.writeTransaction((tx) => tx.executeBatch('UPDATE todos SET completed = 1 WHERE id = ?', todoIds.slice(t * 10, t * 10 + 10).map((id) => [id])));
  }
  for (let t = 0; t < 20; t++) {
    await db.writeTransaction((tx) => tx.executeBatch('DELETE FROM todos WHERE id = ?', todoIds.slice(1500 + t * 10, 1510 + t * 10).map((id) => [id])));
  }
  const total = 1 + 2000 + 500 + 200;
  expect((await db.getUploadQueueStats()).count).toBe(total);

  // After the 5th answered request, the next one waits until Postgres is down.
  let release!: () => void;
  const outage = new Promise<void>((resolve) => (release = resolve));
  const { fetch, uploads } = recordingFetch(async (index) => {
    if (index === 5) await outage;
  });
  await connectUploader(db, { url: server.url, credentials: async () => token, fetch, maxBatchOps: 100 });
  await waitFor('5 uploads', () => uploads.length >= 5);

  await pg.stop();
  release();
  await waitFor('3 refused uploads', () => uploads.filter((u) => u.status === 503).length >= 3);
  const pendingDuringOutage = (await db.getUploadQueueStats()).count;
  expect(pendingDuringOutage).toBeGreaterThan(0);
  expect(pendingDuringOutage).toBeLessThan(total);
  await pg.start();
  await waitForEmptyQueue(db, 20_000);

  // Only 200 and 503; every entry applied exactly once (a retried request that had
  // committed comes back as duplicates, never applied again).
  expect(new Set(uploads.map((u) => u.status))).toEqual(new Set([200, 503]));
  expectWholeTransactions(uploads);
  expect(processed(uploads).reduce((n, r) => n + r.applied, 0)).toBe(total);

  const writes = await sql(pg.url, 'SELECT op, count(*)::int AS n FROM todo_writes GROUP BY op ORDER BY op');
  expect(writes).toEqual([{ op: 'DELETE', n: 200 }, { op: 'INSERT', n: 2000 }, { op: 'UPDATE', n: 500 }]);
  const clientTodos = await db.getAll<Record<string, unknown>>('SELECT * FROM todos');
  expect(clientTodos).toHaveLength(1800);
  expectSameRows(clientTodos, await sql(pg.url, 'SELECT * FROM todos'), demoColumns.todos);
  expectSameRows(await db.getAll('SELECT * FROM lists'), await sql(pg.url, 'SELECT * FROM lists'), demoColumns.lists);
}, 60_000);
