import type { Document } from 'mongodb';
import { createMongoTestDatabase, withMongo } from './mongo.ts';
import { createTestDatabase, sql } from './pg.ts';
import { startTestServer, type TestServer } from './server.ts';

/**
 * The same tables on every Store, for the conformance suite: `items` belong to a user
 * through `owner_id` and have a unique `code`; `parts` belong to whoever owns their item and
 * have a unique `label`.
 */
const POSTGRES_SCHEMA = `
CREATE TABLE items (id text PRIMARY KEY, title text, done boolean, qty integer, owner_id text, code text UNIQUE, note text);
CREATE TABLE parts (id text PRIMARY KEY, item_id text, label text UNIQUE);
`;

const MONGO_TYPES = {
  items: { title: 'string', done: 'bool', qty: 'int', owner_id: 'string', code: 'string', note: 'string' },
  parts: { item_id: 'string', label: 'string' },
};

export const CONFORMANCE_TABLES = {
  items: { owner_column: 'owner_id' },
  parts: { owner: { through: 'item_id', table: 'items', column: 'owner_id' } },
};

/** A row as stored, with the key as `id`; undefined when there is none. */
export type StoredRow = Record<string, unknown> | undefined;

export interface StoredRejection {
  op_id: number;
  code: string;
  column_name: string | null;
}

export interface Backend {
  name: string;
  /** A server on a fresh database holding the conformance tables. */
  start(): Promise<TestServer>;
  row(server: TestServer, table: 'items' | 'parts', id: string): Promise<StoredRow>;
  rejections(server: TestServer, clientId: string): Promise<StoredRejection[]>;
  ledger(server: TestServer, userId: string, clientId: string): Promise<number | undefined>;
}

const postgres: Backend = {
  name: 'postgres',
  async start() {
    return startTestServer({ databaseUrl: await schemaDatabase(), config: { tables: CONFORMANCE_TABLES } });
  },
  async row(server, table, id) {
    const [row] = await sql(server.databaseUrl, `SELECT * FROM ${table} WHERE id = $1`, [id]);
    return row;
  },
  rejections: (server, clientId) =>
    sql(server.databaseUrl, 'SELECT op_id::int, code, column_name FROM writepath_rejections WHERE client_id = $1 ORDER BY op_id', [clientId]),
  async ledger(server, userId, clientId) {
    const [row] = await sql(server.databaseUrl, 'SELECT last_op_id::int FROM writepath_ledger WHERE user_id = $1 AND client_id = $2', [userId, clientId]);
    return row?.last_op_id;
  },
};

async function schemaDatabase(): Promise<string> {
  const url = await createTestDatabase('conf');
  await sql(url, POSTGRES_SCHEMA);
  return url;
}

const mongodb: Backend = {
  name: 'mongodb',
  async start() {
    const url = createMongoTestDatabase('conf');
    // Sparse: documents without a code do not collide on a missing one.
    await withMongo(url, async (db) => {
      await db.collection('items').createIndex({ code: 1 }, { unique: true, sparse: true });
      await db.collection('parts').createIndex({ label: 1 }, { unique: true, sparse: true });
    });
    const tables = {
      items: { ...CONFORMANCE_TABLES.items, types: MONGO_TYPES.items },
      parts: { ...CONFORMANCE_TABLES.parts, types: MONGO_TYPES.parts },
    };
    return startTestServer({ databaseUrl: url, config: { tables } });
  },
  row: (server, table, id) =>
    withMongo(server.databaseUrl, async (db) => {
      const document = await db.collection(table).findOne({ _id: id } as Document);
      if (!document) return undefined;
      const { _id, ...rest } = document;
      return { id: _id, ...rest };
    }),
  rejections: (server, clientId) =>
    withMongo(server.databaseUrl, async (db) => {
      const rows = await db.collection('writepath_rejections').find({ client_id: clientId }).sort({ op_id: 1 }).toArray();
      return rows.map((r) => ({ op_id: r.op_id as number, code: r.code as string, column_name: r.column_name as string | null }));
    }),
  ledger: (server, userId, clientId) =>
    withMongo(server.databaseUrl, async (db) => {
      const ledger = await db.collection('writepath_ledger').findOne({ _id: { user_id: userId, client_id: clientId } } as Document);
      return ledger ? Number(ledger.last_op_id) : undefined;
    }),
};

export const BACKENDS: Backend[] = [postgres, mongodb];
