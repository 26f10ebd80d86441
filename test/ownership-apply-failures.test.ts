/**
 * Ownership checks walk a part before it is applied; a transaction they relied on that
 * then fails at apply must not leave a verdict behind that held only if it had applied.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { processBatch, type EngineOptions } from '../src/core/process-batch.ts';
import { PgStore } from '../src/postgres/pg-store.ts';
import type { BatchResponse } from '../src/protocol/response.ts';
import type { BatchRequest } from '../src/protocol/wire.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { sqlSent } from './support/sql-sent.ts';

let db: string;
let store: PgStore;

beforeAll(async () => {
  db = await createTestDatabase('ownfail');
  await sql(
    db,
    `CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text UNIQUE);
     CREATE TABLE todos (id text PRIMARY KEY, list_id text, title text);
     CREATE TABLE flists (id text PRIMARY KEY, owner_id text NOT NULL, name text UNIQUE);
     CREATE TABLE ftodos (id text PRIMARY KEY, list_id text REFERENCES flists (id), title text);
     CREATE TABLE pins (id text PRIMARY KEY, list_id text REFERENCES lists (id));
     CREATE TABLE notes (id text PRIMARY KEY, body text);
     CREATE TABLE tags (id text PRIMARY KEY, list_id text, label text UNIQUE);`,
  );
  store = await PgStore.open({ url: db });
});
afterAll(async () => store?.close());

const through = (table: string) => ({ owner: { through: 'list_id', table, column: 'owner_id' } });
const rules = new TableRules(
  configSchema.parse({
    tables: {
      lists: { owner_column: 'owner_id' },
      todos: through('lists'),
      flists: { owner_column: 'owner_id' },
      ftodos: through('flists'),
      notes: {},
      tags: through('lists'),
    },
  }).tables,
);
const engine = (partEntries?: number): EngineOptions => ({ store, rules, ...(partEntries && { partEntries }) });
const as = (userId: string) => ({ userId, claims: {} });

/** Entries with op_ids from 1; each its own client transaction unless it names a tx_id. */
function request(entries: Array<Record<string, unknown>>): BatchRequest {
  return {
    clientId: randomUUID(),
    entries: entries.map(({ tx, ...fields }, i) => ({ opId: i + 1, txId: (tx as number | undefined) ?? 100 + i, fields })),
  };
}
const codes = (result: { rejected: Array<{ op_id: number; code: string }> }) => result.rejected.map((r) => [r.op_id, r.code]);

describe.each([
  ['without a foreign key', 'lists', 'todos'],
  ['with a foreign key', 'flists', 'ftodos'],
])('a child under a parent whose creation fails at apply, %s', (_name, lists, todos) => {
  it('is forbidden and not written; the rest commits', async () => {
    const taken = `taken-${randomUUID()}`;
    await processBatch(engine(), request([{ op: 'PUT', type: lists, id: randomUUID(), data: { name: taken } }]), as('u1'));
    const [ghost, real, orphan, later, kept] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const result = await processBatch(engine(), request([
      // Refused by the unique index on name: the list never exists.
      { op: 'PUT', type: lists, id: ghost, data: { name: taken } },
      { op: 'PUT', type: todos, id: orphan, data: { list_id: ghost, title: 'under nothing' } },
      { op: 'PUT', type: lists, id: real, data: { name: `fine-${real}` } },
      { op: 'PUT', type: todos, id: kept, data: { list_id: real, title: 'kept' } },
      { tx: 7, op: 'PUT', type: 'notes', id: later, data: { body: 'same transaction' } },
      { tx: 7, op: 'PUT', type: todos, id: randomUUID(), data: { list_id: ghost, title: 'also under nothing' } },
    ]), as('u2'));
    expect(codes(result)).toEqual([[1, 'constraint_violation'], [2, 'forbidden'], [5, 'transaction_rejected'], [6, 'forbidden']]);
    expect(result.rejected[1]!.message).toMatch(/does not exist/);
    expect(result.rejected[2]).toMatchObject({ cause_op_id: 6 });
    expect(result.applied).toBe(2);
    expect(await sql(db, `SELECT id FROM ${todos} WHERE list_id IN ($1, $2)`, [ghost, real])).toEqual([{ id: kept }]);
    expect(await sql(db, `SELECT id FROM notes WHERE id = $1`, [later])).toEqual([]);

    // Whoever creates the list later owns nothing under it.
    const next = await processBatch(engine(), request([{ op: 'PUT', type: lists, id: ghost, data: { name: `late-${ghost}` } }]), as('u1'));
    expect(next).toMatchObject({ applied: 1, rejected: [] });
    expect(await sql(db, `SELECT id FROM ${todos} WHERE list_id = $1`, [ghost])).toEqual([]);
  });
});

describe('a failure caused only by what should have been refused', () => {
  it('is not kept: the transaction applies once the refusal is known', async () => {
    const [taken, mine, ghost, label] = [`taken-${randomUUID()}`, randomUUID(), randomUUID(), `label-${randomUUID()}`];
    await processBatch(engine(), request([
      { op: 'PUT', type: 'lists', id: randomUUID(), data: { name: taken } },
      { op: 'PUT', type: 'lists', id: mine, data: { name: `mine-${mine}` } },
    ]), as('u1'));
    const [orphan, tag] = [randomUUID(), randomUUID()];
    const result = await processBatch(engine(), request([
      { op: 'PUT', type: 'lists', id: ghost, data: { name: taken } },
      // Applied as first checked, it takes the label...
      { op: 'PUT', type: 'tags', id: orphan, data: { list_id: ghost, label } },
      // ...which made this one fail; entry by entry it gets it.
      { op: 'PUT', type: 'tags', id: tag, data: { list_id: mine, label } },
    ]), as('u1'));
    expect(codes(result)).toEqual([[1, 'constraint_violation'], [2, 'forbidden']]);
    expect(await sql(db, `SELECT id FROM tags WHERE label = $1`, [label])).toEqual([{ id: tag }]);
  });
});

describe('a parent whose deletion fails at apply', () => {
  it('still owns the child written after it, in the same part and across parts', async () => {
    for (const partEntries of [undefined, 1]) {
      const [list, child, pin] = [randomUUID(), randomUUID(), randomUUID()];
      await processBatch(engine(), request([{ op: 'PUT', type: 'lists', id: list, data: { name: `pinned-${list}` } }]), as('u1'));
      await sql(db, `INSERT INTO pins VALUES ($1, $2)`, [pin, list]);
      const result = await processBatch(engine(partEntries), request([
        // The pin's foreign key keeps the list: entry by entry, the todo finds it.
        { op: 'DELETE', type: 'lists', id: list },
        { op: 'PUT', type: 'todos', id: child, data: { list_id: list, title: 'still mine' } },
      ]), as('u1'));
      expect(codes(result)).toEqual([[1, 'constraint_violation']]);
      expect(await sql(db, `SELECT id FROM todos WHERE list_id = $1`, [list])).toEqual([{ id: child }]);
    }
  });
});

describe('what it costs', () => {
  /** The SQL texts processBatch sends, one per round trip. */
  const statements = (batch: BatchRequest, check?: (result: BatchResponse) => void) =>
    sqlSent(async () => {
      const result = await processBatch(engine(), batch, as('u1'));
      check?.(result);
    });
  const savepoints = (texts: string[]) => texts.filter((t) => t.includes('wp_part'));

  it('takes no savepoint without an ownership rule, or when no check relied on an earlier transaction', async () => {
    const plain = await statements(request([{ op: 'PUT', type: 'notes', id: randomUUID(), data: { body: 'x' } }]));
    expect(plain).toHaveLength(3);
    const list = randomUUID();
    await processBatch(engine(), request([{ op: 'PUT', type: 'lists', id: list, data: { name: `own-${list}` } }]), as('u1'));
    const owned = await statements(request([{ op: 'PUT', type: 'todos', id: randomUUID(), data: { list_id: list, title: 't' } }]));
    expect(savepoints(owned)).toEqual([]);
  });

  it('takes one savepoint for a part whose checks relied on an earlier transaction of it', async () => {
    const list = randomUUID();
    const texts = await statements(request([
      { op: 'PUT', type: 'lists', id: list, data: { name: `new-${list}` } },
      { op: 'PUT', type: 'todos', id: randomUUID(), data: { list_id: list, title: 't' } },
    ]));
    expect(savepoints(texts)).toEqual(['SAVEPOINT wp_part', 'RELEASE SAVEPOINT wp_part']);
  });

  it('applies a part with many failing parents twice, not once per parent', async () => {
    const taken = `taken-${randomUUID()}`;
    await processBatch(engine(), request([{ op: 'PUT', type: 'lists', id: randomUUID(), data: { name: taken } }]), as('u1'));
    const batch = [1, 2, 3, 4].flatMap(() => {
      const ghost = randomUUID();
      return [
        { op: 'PUT', type: 'lists', id: ghost, data: { name: taken } },
        { op: 'PUT', type: 'todos', id: randomUUID(), data: { list_id: ghost, title: 'orphan' } },
      ];
    });
    const texts = await statements(request(batch), (result) => {
      expect(codes(result)).toEqual([1, 2, 3, 4].flatMap((i) => [[2 * i - 1, 'constraint_violation'], [2 * i, 'forbidden']]));
    });
    expect(savepoints(texts)).toEqual(['SAVEPOINT wp_part', 'ROLLBACK TO SAVEPOINT wp_part', 'RELEASE SAVEPOINT wp_part']);
  });
});
