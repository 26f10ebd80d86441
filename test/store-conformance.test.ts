import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postBatch, type TestServer } from './support/server.ts';
import { BACKENDS } from './support/store-backends.ts';

/**
 * The Store contract through HTTP, the same tests on every Store (DESIGN.md: one
 * conformance suite runs against every Store). Each test uses fresh ids and client ids.
 */
describe.each(BACKENDS)('Store conformance: $name', (backend) => {
  let server: TestServer;
  let u1: string;
  let u2: string;

  beforeAll(async () => {
    server = await backend.start();
    [u1, u2] = await Promise.all([server.token('u1'), server.token('u2')]);
  });
  afterAll(() => server?.close());

  const id = () => randomUUID();
  const post = (token: string, clientId: string, batch: unknown[]) => postBatch(server, token, { client_id: clientId, batch });

  it('applies PUT, PATCH and DELETE in order; PATCH and DELETE of a missing row are no-ops that count as applied', async () => {
    const [a, b, missing] = [id(), id(), id()];
    const { status, body } = await post(u1, id(), [
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'items', id: a, data: { title: 'milk', done: 0, qty: 2 } },
      { op_id: 2, tx_id: 2, op: 'PATCH', type: 'items', id: a, data: { done: 1, note: 'cold' } },
      { op_id: 3, tx_id: 3, op: 'PUT', type: 'items', id: b, data: { title: 'bread' } },
      { op_id: 4, tx_id: 4, op: 'DELETE', type: 'items', id: b },
      { op_id: 5, tx_id: 5, op: 'PATCH', type: 'items', id: missing, data: { title: 'x' } },
      { op_id: 6, tx_id: 6, op: 'DELETE', type: 'items', id: missing },
      { op_id: 7, tx_id: 7, op: 'PUT', type: 'items', id: a, data: { qty: 3 } },
    ]);
    expect(status).toBe(200);
    expect(body).toMatchObject({ last_op_id: 7, applied: 7, duplicates: 0, skipped: 0, rejected: [] });
    expect(await backend.row(server, 'items', a)).toMatchObject({ id: a, title: 'milk', done: true, qty: 3, note: 'cold', owner_id: 'u1' });
    expect(await backend.row(server, 'items', b)).toBeUndefined();
    expect(await backend.row(server, 'items', missing)).toBeUndefined();
  });

  it('stores null for a PATCH to null', async () => {
    const a = id();
    await post(u1, id(), [{ op_id: 1, op: 'PUT', type: 'items', id: a, data: { title: 'milk', note: 'n' } }]);
    const { body } = await post(u1, id(), [{ op_id: 1, op: 'PATCH', type: 'items', id: a, data: { note: null } }]);
    expect(body.applied).toBe(1);
    const row = await backend.row(server, 'items', a);
    expect(row).toHaveProperty('note', null);
    expect(row).toMatchObject({ title: 'milk' });
  });

  it('applies a retried batch once: the second answer is all duplicates with the same last_op_id, no second rejection row', async () => {
    const clientId = id();
    const a = id();
    const batch = [
      { op_id: 10, tx_id: 1, op: 'PUT', type: 'items', id: a, data: { title: 'x', qty: 1 } },
      { op_id: 11, tx_id: 2, op: 'PUT', type: 'items', id: id(), data: { qty: 'many' } },
    ];
    const first = await post(u1, clientId, batch);
    expect(first.body).toMatchObject({ last_op_id: 11, applied: 1, duplicates: 0 });
    await post(u1, clientId, [{ op_id: 12, op: 'PATCH', type: 'items', id: a, data: { qty: 5 } }]);
    const second = await post(u1, clientId, batch);
    expect(second.body).toEqual({ client_id: clientId, last_op_id: 12, applied: 0, duplicates: 2, skipped: 0, rejected: [] });
    expect(await backend.row(server, 'items', a)).toMatchObject({ qty: 5 });
    expect(await backend.rejections(server, clientId)).toEqual([{ op_id: 11, code: 'invalid_value', column_name: 'qty' }]);
    expect(await backend.ledger(server, 'u1', clientId)).toBe(12);
    // The ledger is per user: another user's same client_id starts from nothing.
    expect((await post(u2, clientId, [{ op_id: 1, op: 'PUT', type: 'items', id: id(), data: {} }])).body).toMatchObject({ applied: 1, last_op_id: 1 });
  });

  it('applies the rewound entries of a restored client, and keeps retries of them duplicates', async () => {
    const clientId = id();
    const [a, b, c] = [id(), id(), id()];
    const put = (opId: number, row: string, title: string) => ({ op_id: opId, tx_id: opId, op: 'PUT', type: 'items', id: row, data: { title } });
    expect((await post(u1, clientId, [put(1, a, 'one'), put(2, b, 'two'), put(3, b, 'three')])).body).toMatchObject({ applied: 3, last_op_id: 3 });
    // A backup taken after op 1, restored: ops 2 and 3 come again, with new work, and op 4 is fresh.
    const restored = [put(1, a, 'one'), put(2, c, 'new after restore'), put(3, c, 'newer'), put(4, a, 'four')];
    expect((await post(u1, clientId, restored)).body).toEqual({ client_id: clientId, last_op_id: 4, applied: 3, duplicates: 1, skipped: 0, rejected: [] });
    expect(await backend.row(server, 'items', c)).toMatchObject({ title: 'newer' });
    expect(await backend.row(server, 'items', a)).toMatchObject({ title: 'four' });
    // Sent again, the restored batch is all duplicates: the new content is what the ledger now knows.
    expect((await post(u1, clientId, restored)).body).toMatchObject({ applied: 0, duplicates: 4, last_op_id: 4 });
    await post(u1, id(), [{ op_id: 1, op: 'PATCH', type: 'items', id: c, data: { title: 'moved on' } }]);
    expect((await post(u1, clientId, restored.slice(1, 3))).body).toMatchObject({ applied: 0, duplicates: 2 });
    expect(await backend.row(server, 'items', c)).toMatchObject({ title: 'moved on' });
    expect(await backend.ledger(server, 'u1', clientId)).toBe(4);
  });

  it('rejects a client transaction with a bad value whole, stores its rejections, and commits the rest', async () => {
    const clientId = id();
    const [a, b, c] = [id(), id(), id()];
    const { status, body } = await post(u1, clientId, [
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'items', id: a, data: { title: 'kept' } },
      { op_id: 2, tx_id: 2, op: 'PUT', type: 'items', id: b, data: { title: 'lost' } },
      { op_id: 3, tx_id: 2, op: 'PATCH', type: 'items', id: a, data: { done: 2 } },
      { op_id: 4, tx_id: 3, op: 'PUT', type: 'items', id: c, data: { title: 'after' } },
    ]);
    expect(status).toBe(200);
    expect(body).toMatchObject({ last_op_id: 4, applied: 2 });
    expect(body.rejected).toEqual([
      { op_id: 2, tx_id: 2, op: 'PUT', type: 'items', id: b, code: 'transaction_rejected', message: expect.any(String), cause_op_id: 3 },
      { op_id: 3, tx_id: 2, op: 'PATCH', type: 'items', id: a, code: 'invalid_value', column: 'done', message: expect.stringContaining('expected 0, 1, true or false, got 2') },
    ]);
    expect(await backend.row(server, 'items', b)).toBeUndefined();
    expect(await backend.row(server, 'items', a)).toMatchObject({ title: 'kept' });
    expect(await backend.row(server, 'items', c)).toMatchObject({ title: 'after' });
    expect(await backend.rejections(server, clientId)).toEqual([
      { op_id: 2, code: 'transaction_rejected', column_name: null },
      { op_id: 3, code: 'invalid_value', column_name: 'done' },
    ]);
  });

  it('rejects a constraint violation with its whole client transaction, undoing what it wrote, and commits the rest', async () => {
    const code = `code-${id()}`;
    const [a, b, c, d] = [id(), id(), id(), id()];
    const { body } = await post(u1, id(), [
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'items', id: a, data: { title: 'first', code } },
      { op_id: 2, tx_id: 2, op: 'PUT', type: 'items', id: b, data: { title: 'undone' } },
      { op_id: 3, tx_id: 2, op: 'PATCH', type: 'items', id: a, data: { title: 'undone too' } },
      { op_id: 4, tx_id: 2, op: 'PUT', type: 'items', id: c, data: { code } },
      { op_id: 5, tx_id: 3, op: 'PUT', type: 'items', id: d, data: { title: 'after' } },
    ]);
    expect(body).toMatchObject({ applied: 2, last_op_id: 5 });
    expect(body.rejected.map((r: any) => [r.op_id, r.code])).toEqual([
      [2, 'transaction_rejected'],
      [3, 'transaction_rejected'],
      [4, 'constraint_violation'],
    ]);
    expect(await backend.row(server, 'items', a)).toMatchObject({ title: 'first', code });
    expect(await backend.row(server, 'items', b)).toBeUndefined();
    expect(await backend.row(server, 'items', c)).toBeUndefined();
    expect(await backend.row(server, 'items', d)).toMatchObject({ title: 'after' });
  });

  it('blames the first failure in op order: a transaction left out for a failure in one table no longer blocks a later one in another', async () => {
    const [parent, a, b, taken, clash] = [id(), id(), id(), id(), id()];
    const [code, label] = [`code-${id()}`, `label-${id()}`];
    await post(u1, id(), [
      { op_id: 1, op: 'PUT', type: 'items', id: parent, data: { title: 'parent' } },
      { op_id: 2, op: 'PUT', type: 'parts', id: taken, data: { item_id: parent, label } },
    ]);
    const { body } = await post(u1, id(), [
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'items', id: a, data: { code } },
      { op_id: 2, tx_id: 1, op: 'PUT', type: 'parts', id: clash, data: { item_id: parent, label } },
      { op_id: 3, tx_id: 2, op: 'PUT', type: 'items', id: b, data: { code } },
    ]);
    expect(body).toMatchObject({ applied: 1, last_op_id: 3 });
    expect(body.rejected.map((r: any) => [r.op_id, r.code])).toEqual([[1, 'transaction_rejected'], [2, 'constraint_violation']]);
    expect(await backend.row(server, 'items', a)).toBeUndefined();
    expect(await backend.row(server, 'items', b)).toMatchObject({ code });
  });

  it('rejects unknown tables and columns', async () => {
    const clientId = id();
    const { body } = await post(u1, clientId, [
      { op_id: 1, op: 'PUT', type: 'secrets', id: id(), data: { x: 1 } },
      { op_id: 2, op: 'PUT', type: 'items', id: id(), data: { nope: 1 } },
      { op_id: 3, op: 'PUT', type: 'items', id: id(), data: { title: 'ok' } },
    ]);
    expect(body).toMatchObject({ applied: 1, last_op_id: 3 });
    expect(body.rejected.map((r: any) => [r.op_id, r.code, r.column])).toEqual([
      [1, 'unknown_table', undefined],
      [2, 'unknown_column', 'nope'],
    ]);
    expect(await backend.rejections(server, clientId)).toEqual([
      { op_id: 1, code: 'unknown_table', column_name: null },
      { op_id: 2, code: 'unknown_column', column_name: 'nope' },
    ]);
  });

  it('checks owners: by the owner column, and through the parent as the batch leaves it', async () => {
    const [item, other, part, stray] = [id(), id(), id(), id()];
    const mine = await post(u1, id(), [
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'items', id: item, data: { title: 'mine' } },
      { op_id: 2, tx_id: 1, op: 'PUT', type: 'parts', id: part, data: { item_id: item, label: 'p' } },
    ]);
    expect(mine.body).toMatchObject({ applied: 2, rejected: [] });
    const theirs = await post(u2, id(), [
      { op_id: 1, op: 'PATCH', type: 'items', id: item, data: { title: 'taken' } },
      { op_id: 2, op: 'DELETE', type: 'items', id: item },
      { op_id: 3, op: 'PUT', type: 'items', id: other, data: { owner_id: 'u1' } },
      { op_id: 4, op: 'PUT', type: 'parts', id: stray, data: { item_id: item } },
      { op_id: 5, op: 'PATCH', type: 'parts', id: part, data: { label: 'taken' } },
    ]);
    expect(theirs.body.applied).toBe(0);
    expect(theirs.body.rejected.map((r: any) => r.code)).toEqual(['forbidden', 'forbidden', 'forbidden', 'forbidden', 'forbidden']);
    expect(await backend.row(server, 'items', item)).toMatchObject({ title: 'mine', owner_id: 'u1' });
    expect(await backend.row(server, 'parts', part)).toMatchObject({ label: 'p' });
    expect(await backend.row(server, 'parts', stray)).toBeUndefined();
    expect(await backend.row(server, 'items', other)).toBeUndefined();
  });

  it('refuses a part under a parent whose creation the database refused, as entry by entry', async () => {
    const [code, taken, ghost, real, orphan, kept] = [id(), id(), id(), id(), id(), id()];
    await post(u1, id(), [{ op_id: 1, op: 'PUT', type: 'items', id: taken, data: { code } }]);
    const { body } = await post(u2, id(), [
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'items', id: ghost, data: { code } },
      { op_id: 2, tx_id: 2, op: 'PUT', type: 'parts', id: orphan, data: { item_id: ghost } },
      { op_id: 3, tx_id: 3, op: 'PUT', type: 'items', id: real, data: { title: 'fine' } },
      { op_id: 4, tx_id: 4, op: 'PUT', type: 'parts', id: kept, data: { item_id: real } },
    ]);
    expect(body.rejected.map((r: any) => [r.op_id, r.code])).toEqual([[1, 'constraint_violation'], [2, 'forbidden']]);
    expect(body.applied).toBe(2);
    expect(await backend.row(server, 'parts', orphan)).toBeUndefined();
    expect(await backend.row(server, 'parts', kept)).toMatchObject({ item_id: real });
  });

  it('answers last_op_id as the ledger stands when every entry is a duplicate', async () => {
    const clientId = id();
    await post(u1, clientId, [{ op_id: 7, op: 'PUT', type: 'items', id: id(), data: {} }]);
    const { body } = await post(u1, clientId, [{ op_id: 3, op: 'PUT', type: 'items', id: id(), data: {} }]);
    expect(body).toEqual({ client_id: clientId, last_op_id: 7, applied: 0, duplicates: 1, skipped: 0, rejected: [] });
  });
});
