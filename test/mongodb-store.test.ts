import { randomUUID } from 'node:crypto';
import { Decimal128, Double, Int32, Long, ObjectId, UUID, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoTestDatabase, withMongo } from './support/mongo.ts';
import { configSchema } from '../src/config/schema.ts';
import { processBatch } from '../src/core/process-batch.ts';
import { MongoStore } from '../src/mongodb/mongo-store.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';

/** What only the MongoDB Store has: declared types, open collections, its conflict checks. */
const TABLES = {
  typed: {
    types: {
      _id: 'uuid', i: 'int', l: 'long', d: 'double', dec: 'decimal', b: 'bool', t: 'date',
      o: 'objectId', s: 'string', obj: 'object', arr: 'array', j: 'json',
    },
  },
  notes: {},
  memos: { put: 'replace' },
  cards: { types: { a: 'string', b: 'string' }, put: 'replace' },
  docs: { types: { title: 'string', version: 'int' }, conflict: { strategy: 'version', column: 'version' } },
  events: { types: { title: 'string', at: 'date' }, conflict: { strategy: 'timestamp', column: 'at' } },
  flags: { types: { title: 'string', n: 'int' }, conflict: { strategy: 'previous_values', on_conflict: 'skip' } },
  codes: { types: { code: 'string' } },
  cells: { conflict: { strategy: 'field_timestamps' } },
  tasks: { types: { title: 'string', deleted: 'bool' }, soft_delete: { column: 'deleted' } },
  logs: { soft_delete: { column: 'gone_at' } },
  boards: { types: { _id: 'uuid', owner: 'string' }, owner_column: 'owner' },
  pins: { types: { board: 'string' }, owner: { through: 'board', table: 'boards', column: 'owner' } },
};

let server: TestServer;
let token: string;
const url = createMongoTestDatabase('store');

beforeAll(async () => {
  await withMongo(url, (db) => db.collection('codes').createIndex({ code: 1 }, { unique: true, sparse: true }));
  server = await startTestServer({ databaseUrl: url, config: { tables: TABLES } });
  token = await server.token('u1');
});
afterAll(() => server?.close());

const post = (batch: unknown[], clientId = randomUUID()) => postBatch(server, token, { client_id: clientId, batch });
const find = (collection: string, id: unknown, options: { promoteValues?: boolean } = {}) =>
  withMongo(url, (db) => db.collection(collection).findOne({ _id: id } as Document, options));

describe('MongoDB: declared types', () => {
  it('stores each declared type as its BSON type', async () => {
    const id = randomUUID();
    const { body } = await post([
      {
        op_id: 1, op: 'PUT', type: 'typed', id: id.toUpperCase(),
        data: {
          i: 7, l: '9007199254740993', d: '2.5', dec: '10.10', b: 1, t: '2024-05-01 10:20:30', o: '65a1b2c3d4e5f60718293a4b',
          s: 'text', obj: '{"a":{"b":[1,2]}}', arr: '[1,"x"]', j: '"just text"',
        },
      },
    ]);
    expect(body).toMatchObject({ applied: 1, rejected: [] });
    const stored = await find('typed', new UUID(id), { promoteValues: false });
    expect(stored).not.toBeNull();
    expect(stored!.i).toBeInstanceOf(Int32);
    expect(stored!.l).toBeInstanceOf(Long);
    expect(String(stored!.l)).toBe('9007199254740993');
    expect(stored!.d).toBeInstanceOf(Double);
    expect(stored!.dec).toEqual(Decimal128.fromString('10.10'));
    expect(stored!.b).toBe(true);
    expect(stored!.t).toEqual(new Date('2024-05-01T10:20:30Z'));
    expect(stored!.o).toEqual(new ObjectId('65a1b2c3d4e5f60718293a4b'));
    const plain = await find('typed', new UUID(id));
    expect(plain).toMatchObject({ s: 'text', obj: { a: { b: [1, 2] } }, arr: [1, 'x'], j: 'just text' });
  });

  it('rejects a value that does not convert, naming the field and what it expected', async () => {
    const { body } = await post([{ op_id: 1, op: 'PUT', type: 'typed', id: randomUUID(), data: { t: 'tomorrow' } }]);
    expect(body.rejected).toEqual([
      expect.objectContaining({ code: 'invalid_value', column: 't', message: 'typed.t: expected an ISO-8601 timestamp or YYYY-MM-DD HH:MM:SS[.SSS], got "tomorrow"' }),
    ]);
    const badId = await post([{ op_id: 1, op: 'PUT', type: 'typed', id: 'not-a-uuid', data: {} }]);
    expect(badId.body.rejected[0]).toMatchObject({ code: 'invalid_value', column: 'id' });
  });

  it('rejects an undeclared field of a declared collection', async () => {
    const { body } = await post([{ op_id: 1, op: 'PUT', type: 'cards', id: 'c0', data: { a: 'x', z: 1 } }]);
    expect(body.rejected[0]).toMatchObject({ code: 'unknown_column', column: 'z' });
  });

  it('put: replace sets the declared fields a PUT leaves out to null', async () => {
    await post([{ op_id: 1, op: 'PUT', type: 'cards', id: 'c1', data: { a: 'x', b: 'y' } }]);
    await post([{ op_id: 1, op: 'PUT', type: 'cards', id: 'c1', data: { a: 'z' } }]);
    expect(await find('cards', 'c1')).toEqual({ _id: 'c1', a: 'z', b: null });
  });
});

describe('MongoDB: ownership through a parent', () => {
  it('finds the parent by its id type; a link that cannot be such an id names no parent', async () => {
    const board = randomUUID();
    const { body } = await post([
      { op_id: 1, op: 'PUT', type: 'boards', id: board, data: {} },
      { op_id: 2, op: 'PUT', type: 'pins', id: 'p1', data: { board } },
      { op_id: 3, op: 'PUT', type: 'pins', id: 'p2', data: { board: 'not-a-uuid' } },
    ]);
    expect(body.applied).toBe(2);
    expect(body.rejected).toEqual([expect.objectContaining({ op_id: 3, code: 'forbidden', message: expect.stringContaining('does not exist') })]);
    expect(await find('boards', new UUID(board))).toMatchObject({ owner: 'u1' });
  });
});

describe('MongoDB: collections without declared fields', () => {
  it('stores any field as it came: text stays text, numbers numbers', async () => {
    const { body } = await post([{ op_id: 1, op: 'PUT', type: 'notes', id: 'n1', data: { n: 5, s: '5', r: 1.5, none: null } }]);
    expect(body.applied).toBe(1);
    expect(await find('notes', 'n1')).toEqual({ _id: 'n1', n: 5, s: '5', r: 1.5, none: null });
  });

  it('rejects field names MongoDB would read as operators or paths, and _id; stores the rejected data as JSON text', async () => {
    const clientId = randomUUID();
    const { body } = await post([
      { op_id: 1, op: 'PUT', type: 'notes', id: 'n2', data: { $set: 1 } },
      { op_id: 2, op: 'PUT', type: 'notes', id: 'n2', data: { 'a.b': 1 } },
      { op_id: 3, op: 'PATCH', type: 'notes', id: 'n1', data: { _id: 'other' } },
    ], clientId);
    expect(body.rejected.map((r: any) => [r.code, r.column])).toEqual([
      ['unknown_column', '$set'],
      ['unknown_column', 'a.b'],
      ['unknown_column', '_id'],
    ]);
    expect(await find('notes', 'n2')).toBeNull();
    const stored = await withMongo(url, (db) => db.collection('writepath_rejections').find({ client_id: clientId }).sort({ op_id: 1 }).toArray());
    expect(stored.map((r) => r.data)).toEqual(['{"$set":1}', '{"a.b":1}', '{"_id":"other"}']);
  });

  it('rejects a nested key holding NUL (BSON cannot store it) instead of failing the batch, and commits the rest', async () => {
    const { status, body } = await post([
      { op_id: 1, op: 'PUT', type: 'notes', id: 'k1', data: { x: { 'a\u0000b': 1 } } },
      { op_id: 2, op: 'PUT', type: 'typed', id: randomUUID(), data: { obj: '{"a\\u0000b":1}' } },
      { op_id: 3, op: 'PUT', type: 'notes', id: 'k3', data: { x: { ab: 'c\u0000d' } } },
    ]);
    expect(status).toBe(200);
    expect(body.rejected.map((r: any) => [r.op_id, r.code, r.column])).toEqual([
      [1, 'invalid_value', 'x'],
      [2, 'invalid_value', 'obj'],
    ]);
    expect(body.applied).toBe(1);
    expect(await find('notes', 'k1')).toBeNull();
    expect(await find('notes', 'k3')).toEqual({ _id: 'k3', x: { ab: 'c\u0000d' } });
  });

  it('put: replace replaces the whole document', async () => {
    await post([{ op_id: 1, op: 'PUT', type: 'memos', id: 'm1', data: { a: 1, b: 2 } }]);
    await post([{ op_id: 1, op: 'PUT', type: 'memos', id: 'm1', data: { c: 3 } }]);
    expect(await find('memos', 'm1')).toEqual({ _id: 'm1', c: 3 });
  });
});

describe('MongoDB: conflict strategies', () => {
  it('version: the server counts; a write based on an older version loses with the current row', async () => {
    const first = await post([{ op_id: 1, op: 'PUT', type: 'docs', id: 'd1', data: { title: 'a', version: 99 } }]);
    expect(first.body.applied).toBe(1);
    expect(await find('docs', 'd1')).toEqual({ _id: 'd1', title: 'a', version: 1 });
    const next = await post([{ op_id: 1, op: 'PATCH', type: 'docs', id: 'd1', data: { title: 'b' }, old: { version: 1 } }]);
    expect(next.body.applied).toBe(1);
    const stale = await post([{ op_id: 1, op: 'PATCH', type: 'docs', id: 'd1', data: { title: 'c' }, old: { version: 1 } }]);
    expect(stale.body.rejected).toEqual([expect.objectContaining({ code: 'conflict', current: { id: 'd1', title: 'b', version: 2 } })]);
    expect(await find('docs', 'd1')).toEqual({ _id: 'd1', title: 'b', version: 2 });
  });

  it('timestamp: a write older than the stored time loses; its whole client transaction is left out', async () => {
    await post([{ op_id: 1, op: 'PUT', type: 'events', id: 'e1', data: { title: 'new', at: '2024-05-02 00:00:00' } }]);
    const { body } = await post([
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'events', id: 'e2', data: { title: 'undone', at: '2024-05-01T00:00:00Z' } },
      { op_id: 2, tx_id: 1, op: 'PATCH', type: 'events', id: 'e1', data: { title: 'old', at: '2024-05-01T00:00:00Z' } },
      { op_id: 3, tx_id: 2, op: 'PATCH', type: 'events', id: 'e1', data: { title: 'newer', at: '2024-05-03T00:00:00Z' } },
    ]);
    expect(body.rejected.map((r: any) => [r.op_id, r.code])).toEqual([[1, 'transaction_rejected'], [2, 'conflict']]);
    expect(body.applied).toBe(1);
    expect(await find('events', 'e2')).toBeNull();
    expect(await find('events', 'e1')).toMatchObject({ title: 'newer' });
  });

  it('previous_values with on_conflict: skip drops the losing transaction and counts it as skipped', async () => {
    await post([{ op_id: 1, op: 'PUT', type: 'flags', id: 'f1', data: { title: 'a', n: 1 } }]);
    await post([{ op_id: 1, op: 'PATCH', type: 'flags', id: 'f1', data: { n: 2 }, old: { n: 1 } }]);
    const clientId = randomUUID();
    const { body } = await post([{ op_id: 1, op: 'PATCH', type: 'flags', id: 'f1', data: { n: 3 }, old: { n: 1 } }], clientId);
    expect(body).toMatchObject({ applied: 0, skipped: 1, rejected: [] });
    expect(await find('flags', 'f1')).toMatchObject({ n: 2 });
    const stored = await withMongo(url, (db) => db.collection('writepath_rejections').find({ client_id: clientId }).toArray());
    expect(stored.map((r) => [r.code, r.data, r.old, r.tx_id])).toEqual([['conflict', '{"n":3}', '{"n":1}', null]]);
  });
});

describe('MongoDB: soft deletes', () => {
  it('DELETE marks the document: true in a bool field, else the time of the delete', async () => {
    const { body } = await post([
      { op_id: 1, op: 'PUT', type: 'tasks', id: 't1', data: { title: 'x' } },
      { op_id: 2, op: 'DELETE', type: 'tasks', id: 't1' },
      { op_id: 3, op: 'PUT', type: 'logs', id: 'l1', data: { line: 'y' } },
      { op_id: 4, op: 'DELETE', type: 'logs', id: 'l1' },
      { op_id: 5, op: 'DELETE', type: 'logs', id: 'missing' },
    ]);
    expect(body).toMatchObject({ applied: 5, rejected: [] });
    expect(await find('tasks', 't1')).toEqual({ _id: 't1', title: 'x', deleted: true });
    expect((await find('logs', 'l1'))?.gone_at).toBeInstanceOf(Date);
    expect(await find('logs', 'missing')).toBeNull();
  });
});

describe('MongoDB: field_timestamps', () => {
  it('per field, the later time wins; losing fields are dropped from an entry that otherwise applies', async () => {
    const times = (t: Record<string, string>) => JSON.stringify({ field_timestamps: t });
    await post([{ op_id: 1, op: 'PUT', type: 'cells', id: 'x1', data: { a: 'a1', b: 'b1' }, metadata: times({ a: '2024-05-02T00:00:00Z', b: '2024-05-02T00:00:00Z' }) }]);
    const { body } = await post([
      { op_id: 1, op: 'PATCH', type: 'cells', id: 'x1', data: { a: 'old', b: 'new', c: 'untimed' }, metadata: times({ a: '2024-05-01T00:00:00Z', b: '2024-05-03T00:00:00Z' }) },
    ]);
    expect(body).toMatchObject({ applied: 1, rejected: [] });
    expect(await find('cells', 'x1')).toEqual({
      _id: 'x1', a: 'a1', b: 'new', c: 'untimed',
      field_timestamps: { a: '2024-05-02T00:00:00Z', b: '2024-05-03T00:00:00Z' },
    });
  });
});

describe('MongoDB: the first failure in op order decides', () => {
  it('a conflict lost only because of an earlier transaction that is itself left out is not blamed', async () => {
    const code = `taken-${randomUUID()}`;
    await post([
      { op_id: 1, op: 'PUT', type: 'docs', id: 'd9', data: { title: 'v1' } },
      { op_id: 2, op: 'PUT', type: 'codes', id: 'k-taken', data: { code } },
    ]);
    // One bulk per collection would write both docs entries first; the second would lose its
    // version check to the first, whose transaction fails later in op order (a duplicate code).
    const { body } = await post([
      { op_id: 1, tx_id: 1, op: 'PATCH', type: 'docs', id: 'd9', data: { title: 'by tx 1' }, old: { version: 1 } },
      { op_id: 2, tx_id: 1, op: 'PUT', type: 'codes', id: 'k-dup', data: { code } },
      { op_id: 3, tx_id: 2, op: 'PATCH', type: 'docs', id: 'd9', data: { title: 'by tx 2' }, old: { version: 1 } },
    ]);
    expect(body.rejected.map((r: any) => [r.op_id, r.code])).toEqual([[1, 'transaction_rejected'], [2, 'constraint_violation']]);
    expect(body.applied).toBe(1);
    expect(await find('docs', 'd9')).toEqual({ _id: 'd9', title: 'by tx 2', version: 2 });
  });
});

describe('MongoDB: many failing transactions in one batch', () => {
  it('leaves out exactly the client transactions that violate a unique index', async () => {
    const batch = Array.from({ length: 12 }, (_, i) => ({ op_id: i + 1, op: 'PUT', type: 'codes', id: `k${i}`, data: { code: `c${i % 4}` } }));
    const { body } = await post(batch);
    expect(body.applied).toBe(4);
    expect(body.rejected.map((r: any) => r.op_id)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(new Set(body.rejected.map((r: any) => r.code))).toEqual(new Set(['constraint_violation']));
    const ids = batch.map((entry) => entry.id);
    const stored = await withMongo(url, (db) => db.collection('codes').find({ _id: { $in: ids } } as Document).sort({ _id: 1 }).toArray());
    expect(stored.map((d) => d._id)).toEqual(['k0', 'k1', 'k2', 'k3']);
  });

  it('answers 413 with nothing applied past the bound on refused transactions, each of which costs a run', async () => {
    const { tables } = configSchema.parse({ tables: { codes: TABLES.codes } });
    const store = await MongoStore.open({ url, tables, maxRefused: 3 });
    const rules = new TableRules(tables);
    const clientId = randomUUID();
    const tag = randomUUID();
    const entries = Array.from({ length: 6 }, (_, i) => ({ opId: i + 1, txId: i + 1, fields: { op_id: i + 1, tx_id: i + 1, op: 'PUT', type: 'codes', id: `${tag}-${i}`, data: { code: `${tag}-dup` } } }));
    try {
      // Five of the six collide on the unique code: more than 3 refused.
      await expect(processBatch({ store, rules }, { clientId, entries }, { userId: 'u1', claims: {} })).rejects.toMatchObject({ status: 413, code: 'too_many_refused' });
      // Three refused are within the bound.
      const fewer = await processBatch({ store, rules }, { clientId, entries: entries.slice(0, 4) }, { userId: 'u1', claims: {} });
      expect(fewer).toMatchObject({ applied: 1, last_op_id: 4 });
      expect(fewer.rejected.map((r) => r.op_id)).toEqual([2, 3, 4]);
    } finally {
      await store.close();
    }
    const stored = await withMongo(url, (db) => db.collection('codes').find({ code: `${tag}-dup` } as Document).toArray());
    expect(stored.map((d) => d._id)).toEqual([`${tag}-0`]);
  });
});

describe('MongoDB: the server collections', () => {
  it('get the indexes of the sync, the digests and the admin endpoints, again at every start', async () => {
    // The test server opened this database already: a second start must find them in place.
    const store = await MongoStore.open({ url, tables: {} });
    await store.close();
    const names = await withMongo(url, async (db) => {
      const of = async (collection: string) => (await db.collection(collection).listIndexes().toArray()).map((i) => i.name).sort();
      return { rejections: await of('writepath_rejections'), ledger: await of('writepath_ledger'), digests: await of('writepath_digests') };
    });
    expect(names).toEqual({
      rejections: ['_id_', 'writepath_rejections_recent', 'writepath_rejections_user_id'],
      ledger: ['_id_', 'writepath_ledger_user'],
      digests: ['_id_', 'writepath_digests_client'],
    });
  });

  it('list a ledger written before updated_at was kept by its last batch, after the others', async () => {
    const userId = `legacy-${randomUUID()}`;
    const touched = new Date('2026-01-02T03:04:05.678Z');
    await withMongo(url, (db) => db.collection('writepath_ledger').insertOne({ _id: { user_id: userId, client_id: 'old' }, last_op_id: 3, touched_at: touched } as Document));
    const token = await server.token(userId);
    await postBatch(server, token, { client_id: 'new', batch: [{ op_id: 1, op: 'PUT', type: 'notes', id: randomUUID(), data: {} }] });
    const store = await MongoStore.open({ url, tables: {} });
    try {
      const clients = await store.admin.clients({ userId, limit: 10 });
      expect(clients.map((c) => [c.client_id, c.last_op_id])).toEqual([['new', 1], ['old', 3]]);
      expect(clients[1]!.updated_at).toBe(touched.toISOString());
    } finally {
      await store.close();
    }
  });
});
