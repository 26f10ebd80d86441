import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  token = await server.token('u1');
});
afterAll(() => server?.close());

const post = (batch: unknown[], clientId = randomUUID()) => postBatch(server, token, { client_id: clientId, batch });

/** The response invariants of PROTOCOL.md section 3, checked on every 200 below. */
function expectInvariants(body: any, entries: number) {
  expect(body.applied + body.duplicates + body.skipped + body.rejected.length).toBe(entries);
  const ids = body.rejected.map((r: any) => r.op_id);
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  for (const r of body.rejected) for (const value of Object.values(r)) expect(value).not.toBeNull();
}

async function listNames(ids: string[]) {
  const rows = await sql(server.databaseUrl, 'SELECT id::text, name FROM lists WHERE id = ANY($1::uuid[]) ORDER BY name', [ids]);
  return rows.map((r) => r.name);
}

describe('client transactions', () => {
  it('rejects a whole three-entry transaction for one bad entry while the other transactions commit', async () => {
    const [a, b, c, d, e] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const batch = [
      { op_id: 1, tx_id: 10, op: 'PUT', type: 'lists', id: a, data: { name: 'before' } },
      { op_id: 2, tx_id: 11, op: 'PUT', type: 'lists', id: b, data: { name: 'bad tx 1' } },
      { op_id: 3, tx_id: 11, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'x', list_id: b, completed: 'yes' } },
      { op_id: 4, tx_id: 11, op: 'PUT', type: 'lists', id: c, data: { name: 'bad tx 3' } },
      { op_id: 5, tx_id: 12, op: 'PUT', type: 'lists', id: d, data: { name: 'after' } },
      { op_id: 6, op: 'PUT', type: 'lists', id: e, data: { name: 'no tx id' } },
    ];
    const { status, body } = await post(batch);
    expect(status).toBe(200);
    expectInvariants(body, 6);
    expect(body.applied).toBe(3);
    expect(body.rejected).toEqual([
      { op_id: 2, tx_id: 11, op: 'PUT', type: 'lists', id: b, code: 'transaction_rejected', cause_op_id: 3, message: expect.any(String) },
      {
        op_id: 3, tx_id: 11, op: 'PUT', type: 'todos', id: batch[2]!.id, code: 'invalid_value', column: 'completed',
        message: 'todos.completed: expected 0, 1, true or false, got "yes"',
      },
      { op_id: 4, tx_id: 11, op: 'PUT', type: 'lists', id: c, code: 'transaction_rejected', cause_op_id: 3, message: expect.any(String) },
    ]);
    expect(await listNames([a, b, c, d, e])).toEqual(['after', 'before', 'no tx id']);
  });

  it('rejects a transaction whose statement violates a constraint, and stores every entry of it', async () => {
    const clientId = randomUUID();
    const [a, b] = [randomUUID(), randomUUID()];
    const batch = [
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'lists', id: a, data: { name: 'kept' } },
      { op_id: 2, tx_id: 2, op: 'PUT', type: 'lists', id: b, data: { name: 'half' } },
      // No such list: a foreign key violation, found only by the database.
      { op_id: 3, tx_id: 2, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'orphan', list_id: randomUUID() } },
      // Missing NOT NULL description.
      { op_id: 4, tx_id: 3, op: 'PUT', type: 'todos', id: randomUUID(), data: { list_id: a } },
    ];
    const { body } = await post(batch, clientId);
    expectInvariants(body, 4);
    expect(body.applied).toBe(1);
    expect(body.rejected.map((r: any) => [r.op_id, r.code])).toEqual([
      [2, 'transaction_rejected'],
      [3, 'constraint_violation'],
      [4, 'constraint_violation'],
    ]);
    expect(body.rejected[1].message).toMatch(/foreign key/);
    expect(body.rejected[2]).toMatchObject({ column: 'description' });
    expect(await listNames([a, b])).toEqual(['kept']);

    const stored = await sql(
      server.databaseUrl,
      `SELECT op_id::int, tx_id::int, op, type, code, column_name, data, user_id FROM writepath_rejections WHERE client_id = $1 ORDER BY op_id`,
      [clientId],
    );
    expect(stored.map((r) => [r.op_id, r.tx_id, r.code, r.column_name, r.user_id])).toEqual([
      [2, 2, 'transaction_rejected', null, 'u1'],
      [3, 2, 'constraint_violation', null, 'u1'],
      [4, 3, 'constraint_violation', 'description', 'u1'],
    ]);
    expect(stored[0].data).toEqual({ name: 'half' });
  });

  it('rejects malformed entries, unknown tables and unknown columns without an HTTP error', async () => {
    const id = randomUUID();
    const batch = [
      { op_id: 1, op: 'UPSERT', type: 'lists', id, data: {} },
      { op_id: 2, op: 'PUT', type: 'lists', data: { name: 'no id' } },
      { op_id: 3, op: 'PUT', type: 'lists', id, data: 'name=x' },
      { op_id: 4, op: 'PUT', id, data: { name: 'no type' } },
      { op_id: 5, op: 'PUT', type: 'pg_authid', id, data: { name: 'x' } },
      { op_id: 6, op: 'PUT', type: 'writepath_ledger', id, data: {} },
      { op_id: 7, op: 'PUT', type: 'lists', id, data: { name: 'x', colour: 'red' } },
      { op_id: 8, op: 'PATCH', type: 'lists', id, data: { id: randomUUID() } },
      { op_id: 9, op: 'PUT', type: 'lists', id: 'not-a-uuid', data: { name: 'x' } },
    ];
    const { status, body } = await post(batch);
    expect(status).toBe(200);
    expectInvariants(body, 9);
    expect(body.rejected.map((r: any) => [r.op_id, r.code, r.column])).toEqual([
      [1, 'malformed_operation', undefined],
      [2, 'malformed_operation', undefined],
      [3, 'malformed_operation', undefined],
      [4, 'malformed_operation', undefined],
      [5, 'unknown_table', undefined],
      [6, 'unknown_table', undefined],
      [7, 'unknown_column', 'colour'],
      [8, 'unknown_column', 'id'],
      [9, 'invalid_value', 'id'],
    ]);
    expect(body.rejected[8].message).toBe('lists.id: expected a uuid (8-4-4-4-12 hex digits), got "not-a-uuid"');
    expect(await listNames([id])).toEqual([]);
  });

  it('treats a PATCH or DELETE of a missing row as applied (deletes win)', async () => {
    const id = randomUUID();
    const { body } = await post([
      { op_id: 1, op: 'PATCH', type: 'lists', id, data: { name: 'ghost' } },
      { op_id: 2, op: 'DELETE', type: 'lists', id },
      { op_id: 3, op: 'PATCH', type: 'lists', id, data: {} },
    ]);
    expect(body).toMatchObject({ applied: 3, rejected: [] });
    expect(await listNames([id])).toEqual([]);
  });

  it('applies entries in op order within a batch: PUT, PATCH, DELETE, PUT again', async () => {
    const id = randomUUID();
    const { body } = await post([
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'lists', id, data: { name: 'one', owner_id: 'u1' } },
      { op_id: 2, tx_id: 1, op: 'PATCH', type: 'lists', id, data: { name: 'two' } },
      { op_id: 3, tx_id: 2, op: 'DELETE', type: 'lists', id },
      { op_id: 4, tx_id: 3, op: 'PUT', type: 'lists', id, data: { name: 'three' } },
    ]);
    expect(body.applied).toBe(4);
    const rows = await sql(server.databaseUrl, 'SELECT name, owner_id FROM lists WHERE id = $1', [id]);
    // The DELETE then PUT is a fresh row: owner_id from the first PUT is gone.
    expect(rows).toEqual([{ name: 'three', owner_id: null }]);
  });

  it('sets a column to NULL on a PATCH that carries null', async () => {
    const id = randomUUID();
    await post([{ op_id: 1, op: 'PUT', type: 'lists', id, data: { name: 'n', owner_id: 'u1' } }]);
    const { body } = await post([{ op_id: 1, op: 'PATCH', type: 'lists', id, data: { owner_id: null } }]);
    expect(body.applied).toBe(1);
    expect(await sql(server.databaseUrl, 'SELECT owner_id FROM lists WHERE id = $1', [id])).toEqual([{ owner_id: null }]);
  });
});

describe('storing rejections', () => {
  it('stores a rejection whose data holds a lone surrogate or a NUL, in values and in keys', async () => {
    const clientId = randomUUID();
    const { status, body } = await post(
      [
        { op_id: 1, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: 'half an emoji \ud83d' } },
        { op_id: 2, op: 'PUT', type: 'lists', id: randomUUID(), data: { 'na\u0000me': 'x' } },
        { op_id: 3, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: 'nul \u0000 inside' } },
      ],
      clientId,
    );
    expect(status).toBe(200);
    expect(body.rejected.map((r: any) => r.code)).toEqual(['invalid_value', 'unknown_column', 'invalid_value']);
    const stored = await sql(server.databaseUrl, 'SELECT op_id::int, data FROM writepath_rejections WHERE client_id = $1 ORDER BY op_id', [clientId]);
    expect(stored).toEqual([
      { op_id: 1, data: { name: 'half an emoji \ufffd' } },
      { op_id: 2, data: { 'na\ufffdme': 'x' } },
      { op_id: 3, data: { name: 'nul \ufffd inside' } },
    ]);
  });
});
