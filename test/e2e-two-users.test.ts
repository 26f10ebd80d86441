/**
 * Two users with the real PowerSync client: the second tries to PUT, PATCH and DELETE the
 * first one's rows, directly and through the parent list, and each attempt is rejected as
 * `forbidden` with the first user's data unchanged (issue 3).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { openClient, uploadPending, type TestClient } from './support/powersync-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let alice: TestClient;
let mallory: TestClient;

beforeAll(async () => {
  server = await startTestServer({
    config: {
      tables: {
        lists: { owner_column: 'owner_id' },
        todos: { owner: { through: 'list_id', table: 'lists', column: 'owner_id' } },
      },
    },
  });
  [alice, mallory] = await Promise.all([openClient(), openClient()]);
});
afterAll(async () => {
  await Promise.all([alice?.close(), mallory?.close()]);
  await server?.close();
});

async function serverRows() {
  return sql(server.databaseUrl, `SELECT 'list' AS kind, id::text, name AS text, owner_id AS link FROM lists
                                 UNION ALL SELECT 'todo', id::text, description, list_id::text FROM todos ORDER BY 1, 2`);
}

/** Puts rows in a client database as if synced to it: present locally, nothing to upload. */
async function asIfSynced(client: TestClient, statements: Array<[string, unknown[]]>) {
  await client.db.writeTransaction(async (tx) => {
    for (const [text, params] of statements) await tx.execute(text, params);
  });
  const pending = await client.db.getNextCrudTransaction();
  await pending?.complete();
  expect(await client.db.getNextCrudTransaction()).toBeNull();
}

describe('two users with the real PowerSync client', () => {
  it("rejects every write of the second user to the first one's rows as forbidden", async () => {
    const [list, todo] = [randomUUID(), randomUUID()];
    await alice.db.writeTransaction(async (tx) => {
      await tx.execute('INSERT INTO lists (id, name, created_at) VALUES (?, ?, ?)', [list, 'Alice groceries', new Date().toISOString()]);
      await tx.execute('INSERT INTO todos (id, list_id, description, completed) VALUES (?, ?, ?, 0)', [todo, list, 'milk']);
    });
    const aliceUploads = await uploadPending(alice.db, { url: server.url, token: await server.token('alice') });
    expect(aliceUploads.flatMap((u) => u.body.rejected)).toEqual([]);
    const before = await serverRows();
    expect(before.find((r) => r.id === list)).toMatchObject({ link: 'alice' });

    // Mallory's own list, and Alice's rows as a sync would have put them on her device.
    const own = randomUUID();
    await asIfSynced(mallory, [
      ['INSERT INTO lists (id, name, owner_id) VALUES (?, ?, ?)', [list, 'Alice groceries', 'alice']],
      ['INSERT INTO todos (id, list_id, description, completed) VALUES (?, ?, ?, 0)', [todo, list, 'milk']],
    ]);
    await mallory.db.execute('INSERT INTO lists (id, name) VALUES (?, ?)', [own, 'mine']);
    const attempts: Array<[string, unknown[]]> = [
      ['UPDATE lists SET name = ? WHERE id = ?', ['pwned', list]], // PATCH directly
      ['UPDATE todos SET description = ? WHERE id = ?', ['pwned', todo]], // PATCH through the parent
      ['INSERT INTO todos (id, list_id, description, completed) VALUES (?, ?, ?, 0)', [randomUUID(), list, 'planted']], // PUT through the parent
      ['UPDATE todos SET list_id = ? WHERE id = ?', [own, todo]], // moving Alice's todo away
      ['DELETE FROM todos WHERE id = ?', [todo]], // DELETE through the parent
      ['DELETE FROM lists WHERE id = ?', [list]], // DELETE directly
      ['INSERT OR REPLACE INTO lists (id, name, owner_id) VALUES (?, ?, ?)', [list, 'replaced', 'mallory']], // PUT directly
    ];
    for (const attempt of attempts) await mallory.db.execute(...attempt);

    const uploads = await uploadPending(mallory.db, { url: server.url, token: await server.token('mallory') });
    const rejected = uploads.flatMap((u) => u.body.rejected);
    // Mallory's own list went through; every attempt on Alice's rows came back forbidden.
    expect(uploads.reduce((n, u) => n + u.body.applied, 0)).toBe(1);
    expect(rejected.length).toBeGreaterThanOrEqual(attempts.length);
    for (const r of rejected) expect(r.code, JSON.stringify(r)).toBe('forbidden');
    expect(new Set(rejected.map((r) => r.op))).toEqual(new Set(['PUT', 'PATCH', 'DELETE']));
    // The queue moved on: rejections do not block it.
    expect(await mallory.db.getNextCrudTransaction()).toBeNull();

    const after = await serverRows();
    expect(after.filter((r) => r.id !== own)).toEqual(before);
  });
});
