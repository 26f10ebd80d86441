/**
 * A batch applied in parts (one client transaction each here), where the engine checks and
 * plans each part while the database applies the one before it: the parts still behave as
 * one batch applied in op order, and a failure on either side leaves nothing applied.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processBatch, type EngineOptions } from '../src/core/process-batch.ts';
import { PgStore } from '../src/postgres/pg-store.ts';
import type { BatchRequest } from '../src/protocol/wire.ts';
import type { TableConfig } from '../src/config/schema.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { createTestDatabase, sql } from './support/pg.ts';

let db: string;
let store: PgStore;

beforeAll(async () => {
  db = await createTestDatabase('parts');
  await sql(
    db,
    `CREATE TABLE lists (id text PRIMARY KEY, owner_id text NOT NULL, name text);
     CREATE TABLE todos (id text PRIMARY KEY, list_id text REFERENCES lists (id), title text NOT NULL);
     CREATE TABLE notes (id text PRIMARY KEY, body text);
     CREATE TABLE flaky (id text PRIMARY KEY, body text);
     CREATE FUNCTION fail_serialization() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40001'; END $$;
     CREATE TRIGGER always_conflicts BEFORE INSERT ON flaky FOR EACH ROW EXECUTE FUNCTION fail_serialization();`,
  );
  store = await PgStore.open({ url: db });
});
afterAll(async () => store?.close());

const table = (extra: Partial<TableConfig> = {}): TableConfig => ({ id_column: 'id', put: 'merge', apply: 'fast', on_unknown_column: 'reject', ...extra });
const rules = new TableRules({
  lists: table({ owner_column: 'owner_id' }),
  todos: table({ owner: { through: 'list_id', table: 'lists', column: 'owner_id' } }),
  notes: table(),
  flaky: table(),
  ghosts: table({ columns: ['body'] }),
});
/** One client transaction per part; no retry of the simulated serialization failure. */
const engine = (): EngineOptions => ({ store, rules, partEntries: 1, maxAttempts: 1 });

function request(entries: Array<Record<string, unknown>>, clientId = randomUUID()): BatchRequest {
  return { clientId, entries: entries.map((fields, i) => ({ opId: i + 1, txId: i + 1, fields: { ...fields } })) };
}

describe('a batch applied in parts', () => {
  it('checks ownership against what the parts before it applied', async () => {
    const result = await processBatch(engine(), request([
      { op: 'PUT', type: 'lists', id: 'L1', data: { name: 'mine' } },
      { op: 'PUT', type: 'todos', id: 'T1', data: { list_id: 'L1', title: 'in my list' } },
      { op: 'PUT', type: 'notes', id: 'N1', data: { body: 'free' } },
      { op: 'PATCH', type: 'lists', id: 'L1', data: { owner_id: 'u2' } },
      { op: 'PUT', type: 'notes', id: 'N2', data: { body: 'after the refusal' } },
    ]), { userId: 'u1', claims: {} });
    expect(result).toMatchObject({ applied: 4, rejected: [{ op_id: 4, code: 'forbidden' }] });
    expect(await sql(db, `SELECT id, owner_id FROM lists`)).toEqual([{ id: 'L1', owner_id: 'u1' }]);
    expect(await sql(db, `SELECT id FROM todos UNION ALL SELECT id FROM notes ORDER BY 1`)).toEqual([{ id: 'N1' }, { id: 'N2' }, { id: 'T1' }]);

    const other = await processBatch(engine(), request([
      { op: 'PUT', type: 'notes', id: 'N3', data: { body: 'fine' } },
      { op: 'PUT', type: 'todos', id: 'T2', data: { list_id: 'L1', title: 'in their list' } },
    ]), { userId: 'u2', claims: {} });
    expect(other).toMatchObject({ applied: 1, rejected: [{ op_id: 2, code: 'forbidden' }] });
  });

  it('rejects bad values found in later parts, and keeps their data in the rejections table', async () => {
    const clientId = randomUUID();
    const result = await processBatch(engine(), request([
      { op: 'PUT', type: 'notes', id: 'P1', data: { body: 'one' } },
      { op: 'PUT', type: 'nowhere', id: 'P2', data: { body: 'two' } },
      { op: 'PUT', type: 'notes', id: 'P3', data: { body: 'three' } },
      { op: 'PUT', type: 'notes', id: 'P4', data: { body: 'four', color: 'red' } },
    ], clientId), { userId: 'u1', claims: {} });
    expect(result.rejected.map((r) => [r.op_id, r.code])).toEqual([[2, 'unknown_table'], [4, 'unknown_column']]);
    expect(result).toMatchObject({ applied: 2, last_op_id: 4 });
    const stored = await sql(db, `SELECT op_id::int AS op_id, code, data FROM writepath_rejections WHERE client_id = '${clientId}' ORDER BY op_id`);
    expect(stored).toEqual([
      { op_id: 2, code: 'unknown_table', data: { body: 'two' } },
      { op_id: 4, code: 'unknown_column', data: { body: 'four', color: 'red' } },
    ]);
  });

  it('applies nothing when checking a later part fails while an earlier one is in the database', async () => {
    const clientId = randomUUID();
    // `ghosts` is configured but has no table: the server's own problem, found ahead.
    const attempt = processBatch(engine(), request([
      { op: 'PUT', type: 'notes', id: 'G1', data: { body: 'before' } },
      { op: 'PUT', type: 'ghosts', id: 'G2', data: { body: 'boo' } },
    ], clientId), { userId: 'u1', claims: {} });
    await expect(attempt).rejects.toMatchObject({ status: 500, code: 'table_missing' });
    expect(await sql(db, `SELECT id FROM notes WHERE id = 'G1'`)).toEqual([]);
    expect(await sql(db, `SELECT count(*)::int AS n FROM writepath_ledger WHERE client_id = '${clientId}'`)).toEqual([{ n: 0 }]);
  });

  it('applies nothing when the part in the database fails while a later one is checked', async () => {
    const clientId = randomUUID();
    const attempt = processBatch(engine(), request([
      { op: 'PUT', type: 'notes', id: 'F1', data: { body: 'before' } },
      { op: 'PUT', type: 'flaky', id: 'F2', data: { body: 'conflicts' } },
      { op: 'PUT', type: 'notes', id: 'F3', data: { body: 'checked meanwhile' } },
    ], clientId), { userId: 'u1', claims: {} });
    await expect(attempt).rejects.toMatchObject({ status: 503 });
    expect(await sql(db, `SELECT id FROM notes WHERE id LIKE 'F%'`)).toEqual([]);
    expect(await sql(db, `SELECT count(*)::int AS n FROM writepath_ledger WHERE client_id = '${clientId}'`)).toEqual([{ n: 0 }]);
  });
});
