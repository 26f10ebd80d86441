import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { captureLogs } from './support/logs.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let db: string;
let token: string;

beforeAll(async () => {
  server = await startTestServer({
    schemaSql: `CREATE TABLE notes (id uuid PRIMARY KEY, title text, body text, pinned boolean, words int GENERATED ALWAYS AS (length(body)) STORED);
     CREATE TABLE profiles (id uuid PRIMARY KEY, name text, bio text);
     CREATE SCHEMA app;
     CREATE TABLE app.items (item_key text PRIMARY KEY, label text NOT NULL, secret text);
     CREATE TABLE events (id uuid PRIMARY KEY, kind text);
     CREATE TABLE held (id uuid PRIMARY KEY, a text);`,
    config: {
      tables: {
        notes: {},
        profiles: { put: 'replace' },
        items: { table: 'app.items', id_column: 'item_key', columns: ['label'] },
        events: {},
        held: { on_unknown_column: 'hold' },
      },
    },
  });
  db = server.databaseUrl;
  token = await server.token('u1');
});
afterAll(() => server?.close());

const post = (batch: unknown[]) => postBatch(server, token, { client_id: randomUUID(), batch });

describe('put: merge and put: replace', () => {
  it('keeps a column the client no longer has under merge, clears it under replace', async () => {
    const note = randomUUID();
    const profile = randomUUID();
    await post([
      { op_id: 1, op: 'PUT', type: 'notes', id: note, data: { title: 't', body: 'kept under merge' } },
      { op_id: 2, op: 'PUT', type: 'profiles', id: profile, data: { name: 'n', bio: 'cleared under replace' } },
    ]);
    // The client lost `body` / `bio` locally (set to NULL there, so absent from its PUT).
    const { body } = await post([
      { op_id: 1, op: 'PUT', type: 'notes', id: note, data: { title: 't2' } },
      { op_id: 2, op: 'PUT', type: 'profiles', id: profile, data: { name: 'n2' } },
    ]);
    expect(body).toMatchObject({ applied: 2, rejected: [] });
    expect(await sql(db, 'SELECT title, body FROM notes WHERE id = $1', [note])).toEqual([{ title: 't2', body: 'kept under merge' }]);
    expect(await sql(db, 'SELECT name, bio FROM profiles WHERE id = $1', [profile])).toEqual([{ name: 'n2', bio: null }]);
  });
});

describe('writable tables and columns', () => {
  it('writes a table in another schema with its own key column and only the configured columns', async () => {
    const { body } = await post([
      { op_id: 1, op: 'PUT', type: 'items', id: 'k1', data: { label: 'one' } },
      { op_id: 2, op: 'PUT', type: 'items', id: 'k2', data: { label: 'two', secret: 'no' } },
      { op_id: 3, op: 'PUT', type: 'app.items', id: 'k3', data: { label: 'three' } },
    ]);
    expect(body.rejected.map((r: any) => [r.op_id, r.code, r.column])).toEqual([
      [2, 'unknown_column', 'secret'],
      [3, 'unknown_table', undefined],
    ]);
    expect(await sql(db, 'SELECT item_key, label, secret FROM app.items ORDER BY item_key')).toEqual([{ item_key: 'k1', label: 'one', secret: null }]);
  });

  it('refuses a generated column', async () => {
    const { body } = await post([{ op_id: 1, op: 'PUT', type: 'notes', id: randomUUID(), data: { body: 'abc', words: 3 } }]);
    expect(body.rejected).toMatchObject([{ code: 'unknown_column', column: 'words' }]);
  });

  it('re-reads the schema before rejecting an unknown column, so a migration applied meanwhile is seen', async () => {
    const id = randomUUID();
    await sql(db, 'ALTER TABLE events ADD COLUMN IF NOT EXISTS severity int');
    const { body } = await post([{ op_id: 1, op: 'PUT', type: 'events', id, data: { kind: 'k', severity: 3 } }]);
    expect(body).toMatchObject({ applied: 1, rejected: [] });
    expect(await sql(db, 'SELECT severity FROM events WHERE id = $1', [id])).toEqual([{ severity: 3 }]);
    // The converter comes from the fresh schema too: severity is an integer now.
    const bad = await post([{ op_id: 1, op: 'PATCH', type: 'events', id, data: { severity: 'high' } }]);
    expect(bad.body.rejected).toMatchObject([{ code: 'invalid_value', column: 'severity' }]);
  });

  it('holds the data of an unknown column with 503 under on_unknown_column: hold, and applies it once the column exists', async () => {
    const clientId = randomUUID();
    const id = randomUUID();
    const batch = { client_id: clientId, batch: [{ op_id: 1, op: 'PUT', type: 'held', id, data: { a: 'x', b: 'later' } }] };
    const held = await postBatch(server, token, batch);
    expect(held.status).toBe(503);
    expect(held.body.error.code).toBe('column_held');
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await sql(db, 'SELECT 1 FROM held')).toEqual([]);
    expect(await sql(db, 'SELECT 1 FROM writepath_ledger WHERE client_id = $1', [clientId])).toEqual([]);

    await sql(db, 'ALTER TABLE held ADD COLUMN b text');
    const applied = await postBatch(server, token, batch);
    expect(applied.body).toMatchObject({ applied: 1, rejected: [] });
    expect(await sql(db, 'SELECT a, b FROM held WHERE id = $1', [id])).toEqual([{ a: 'x', b: 'later' }]);
  });
});

describe('tables.<name>.types on Postgres', () => {
  it('is ignored with a warning at start: the live schema gives the types', async () => {
    const { lines, logger } = captureLogs();
    const typed = await startTestServer({ logger, config: { tables: { lists: { types: { name: 'string' } }, todos: {} } } });
    try {
      const warnings = lines.map((line) => JSON.parse(line) as { level: number; msg: string }).filter((l) => l.level === 40);
      expect(warnings.map((w) => w.msg)).toContain(
        "tables.lists.types is ignored: declared types are for MongoDB; Postgres converts values to the live schema's column types",
      );
      expect(warnings.some((w) => w.msg.includes('tables.todos'))).toBe(false);
    } finally {
      await typed.close();
    }
  });
});
