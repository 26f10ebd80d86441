/**
 * Two devices edit the same row offline and upload in both orders, with the real PowerSync
 * client (trackPrevious and trackMetadata on): the database ends as each strategy says.
 */
import { randomUUID } from 'node:crypto';
import { Schema, Table, column } from '@powersync/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, sql } from './support/pg.ts';
import { openClient, uploadPending, type TestClient } from './support/powersync-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const STRATEGIES = ['last_write_wins', 'version', 'previous_values', 'field_timestamps'] as const;
type Strategy = (typeof STRATEGIES)[number];

const docColumns = { title: column.text, body: column.text, version: column.integer };
const clientSchema = new Schema(
  Object.fromEntries(STRATEGIES.map((s) => [`docs_${s}`, new Table(docColumns, { trackPrevious: true, trackMetadata: true })])),
);

let server: TestServer;
let db: string;

beforeAll(async () => {
  db = await createTestDatabase();
  for (const s of STRATEGIES) {
    await sql(db, `CREATE TABLE docs_${s} (id uuid PRIMARY KEY, title text, body text, version int NOT NULL DEFAULT 1, field_timestamps jsonb)`);
  }
  server = await startTestServer({
    databaseUrl: db,
    config: {
      tables: Object.fromEntries(
        STRATEGIES.map((s) => [`docs_${s}`, s === 'version' ? { conflict: { strategy: s, column: 'version' } } : { conflict: { strategy: s } }]),
      ),
    },
  });
});
afterAll(() => server?.close());

/** Puts a row in a client database as if synced to it: present locally, nothing to upload. */
async function asIfSynced(client: TestClient, table: string, id: string) {
  const [row] = await sql(db, `SELECT title, body, version FROM ${table} WHERE id = $1`, [id]);
  await client.db.execute(`INSERT OR REPLACE INTO ${table} (id, title, body, version) VALUES (?, ?, ?, ?)`, [id, row.title, row.body, row.version]);
  for (let tx = await client.db.getNextCrudTransaction(); tx; tx = await client.db.getNextCrudTransaction()) await tx.complete();
}

const times = (fields: Record<string, string>) => JSON.stringify({ field_timestamps: fields });

async function scenario(strategy: Strategy, order: 'A then B' | 'B then A') {
  const table = `docs_${strategy}`;
  const id = randomUUID();
  const [a, b] = await Promise.all([openClient({ schema: clientSchema }), openClient({ schema: clientSchema })]);
  try {
    const tokenA = await server.token('alice');
    const tokenB = await server.token('bob');
    await a.db.execute(`INSERT INTO ${table} (id, title, body, _metadata) VALUES (?, ?, ?, ?)`, [
      id, 'v0', 'b0', times({ title: '2026-01-01T00:00:00Z', body: '2026-01-01T00:00:00Z' }),
    ]);
    await uploadPending(a.db, { url: server.url, token: tokenA });
    await asIfSynced(a, table, id);
    await asIfSynced(b, table, id);

    // Offline: A edits the title later than B does; B edits the title and the body.
    await a.db.execute(`UPDATE ${table} SET title = ?, _metadata = ? WHERE id = ?`, ['title by A', times({ title: '2026-01-03T00:00:00Z' }), id]);
    await b.db.execute(`UPDATE ${table} SET title = ?, body = ?, _metadata = ? WHERE id = ?`, [
      'title by B', 'body by B', times({ title: '2026-01-02T00:00:00Z', body: '2026-01-02T00:00:00Z' }), id,
    ]);
    const uploads = order === 'A then B' ? [[a, tokenA], [b, tokenB]] as const : [[b, tokenB], [a, tokenA]] as const;
    const results = [];
    for (const [client, token] of uploads) results.push(...(await uploadPending(client.db, { url: server.url, token })));
    // Whatever was decided, no queue is blocked.
    expect(await a.db.getNextCrudTransaction()).toBeNull();
    expect(await b.db.getNextCrudTransaction()).toBeNull();
    const [row] = await sql(db, `SELECT title, body, version FROM ${table} WHERE id = $1`, [id]);
    return { row, rejected: results.flatMap((r) => r.body.rejected) };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

describe('two devices edit the same row offline', () => {
  it('last_write_wins: the later upload wins every field it carries', async () => {
    expect((await scenario('last_write_wins', 'A then B')).row).toMatchObject({ title: 'title by B', body: 'body by B' });
    expect((await scenario('last_write_wins', 'B then A')).row).toMatchObject({ title: 'title by A', body: 'body by B' });
  });

  it('version: the first upload wins; the second, based on the old version, is rejected as a conflict', async () => {
    const ab = await scenario('version', 'A then B');
    expect(ab.row).toEqual({ title: 'title by A', body: 'b0', version: 2 });
    expect(ab.rejected).toMatchObject([{ code: 'conflict', current: { title: 'title by A', version: 2 } }]);
    const ba = await scenario('version', 'B then A');
    expect(ba.row).toEqual({ title: 'title by B', body: 'body by B', version: 2 });
    expect(ba.rejected).toMatchObject([{ code: 'conflict', current: { title: 'title by B' } }]);
  });

  it('previous_values: the second write loses because the title it changes is no longer what it saw', async () => {
    const ab = await scenario('previous_values', 'A then B');
    expect(ab.row).toMatchObject({ title: 'title by A', body: 'b0' });
    expect(ab.rejected).toMatchObject([{ code: 'conflict' }]);
    const ba = await scenario('previous_values', 'B then A');
    expect(ba.row).toMatchObject({ title: 'title by B', body: 'body by B' });
    expect(ba.rejected).toMatchObject([{ code: 'conflict' }]);
  });

  it('field_timestamps: per field, the later edit wins whatever the upload order', async () => {
    for (const order of ['A then B', 'B then A'] as const) {
      const { row, rejected } = await scenario('field_timestamps', order);
      expect(row, order).toMatchObject({ title: 'title by A', body: 'body by B' });
      expect(rejected).toEqual([]);
    }
  });
});
