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

/** A batch of three client transactions: a list, two todos in it, then a todo patched. */
function sampleBatch(clientId = randomUUID(), firstOpId = 1) {
  const list = randomUUID();
  const todo1 = randomUUID();
  const todo2 = randomUUID();
  const o = firstOpId;
  return {
    list,
    body: {
      client_id: clientId,
      batch: [
        { op_id: o, tx_id: 1, op: 'PUT', type: 'lists', id: list, data: { name: 'groceries', owner_id: 'u1' } },
        { op_id: o + 1, tx_id: 2, op: 'PUT', type: 'todos', id: todo1, data: { description: 'milk', list_id: list, completed: 0 } },
        { op_id: o + 2, tx_id: 2, op: 'PUT', type: 'todos', id: todo2, data: { description: 'bread', list_id: list, completed: 0 } },
        { op_id: o + 3, tx_id: 3, op: 'PATCH', type: 'todos', id: todo1, data: { completed: 1 } },
        // Bad on purpose: its rejection row must not be written twice either.
        { op_id: o + 4, tx_id: 4, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'x', completed: 7 } },
      ],
    },
  };
}

async function countFor(clientId: string, list: string) {
  const [row] = await sql(
    server.databaseUrl,
    `SELECT (SELECT count(*) FROM todos WHERE list_id = $2)::int AS todos,
            (SELECT count(*) FROM writepath_rejections WHERE client_id = $1)::int AS rejections,
            (SELECT last_op_id FROM writepath_ledger WHERE client_id = $1 AND user_id = 'u1')::int AS ledger`,
    [clientId, list],
  );
  return row;
}

describe('exactly once', () => {
  it('applies a batch sent twice once; the second answer is all duplicates with the same last_op_id', async () => {
    const { body, list } = sampleBatch();
    const first = await postBatch(server, token, body);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ client_id: body.client_id, last_op_id: 5, applied: 4, duplicates: 0, skipped: 0 });
    expect(first.body.rejected).toHaveLength(1);

    const second = await postBatch(server, token, body);
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ client_id: body.client_id, last_op_id: 5, applied: 0, duplicates: 5, skipped: 0, rejected: [] });
    expect(await countFor(body.client_id, list)).toEqual({ todos: 2, rejections: 1, ledger: 5 });
  });

  it('applies the same new batch sent twice at the same moment once', async () => {
    for (let round = 0; round < 5; round++) {
      const { body, list } = sampleBatch();
      const answers = await Promise.all([postBatch(server, token, body), postBatch(server, token, body), postBatch(server, token, body)]);
      for (const answer of answers) expect(answer.status).toBe(200);
      const applied = answers.map((a) => a.body.applied).sort();
      const duplicates = answers.map((a) => a.body.duplicates).sort();
      expect(applied).toEqual([0, 0, 4]);
      expect(duplicates).toEqual([0, 5, 5]);
      for (const answer of answers) expect(answer.body.last_op_id).toBe(5);
      expect(await countFor(body.client_id, list)).toEqual({ todos: 2, rejections: 1, ledger: 5 });
    }
  });

  it('skips only the entries at or below the ledger in a batch that overlaps an earlier one', async () => {
    const clientId = randomUUID();
    const { body } = sampleBatch(clientId);
    await postBatch(server, token, { ...body, batch: body.batch.slice(0, 3) });
    const answer = await postBatch(server, token, body);
    expect(answer.body).toMatchObject({ last_op_id: 5, applied: 1, duplicates: 3 });
    expect(answer.body.rejected.map((r: { op_id: number }) => r.op_id)).toEqual([5]);
  });

  it('keeps a ledger per user: the same client_id under another user moves nothing of the first', async () => {
    const clientId = randomUUID();
    const first = sampleBatch(clientId);
    await postBatch(server, token, first.body);
    const other = sampleBatch(clientId);
    const answer = await postBatch(server, await server.token('u2'), other.body);
    expect(answer.body).toMatchObject({ last_op_id: 5, applied: 4, duplicates: 0 });
    const ledgers = await sql(server.databaseUrl, 'SELECT user_id, last_op_id::int FROM writepath_ledger WHERE client_id = $1 ORDER BY user_id', [clientId]);
    expect(ledgers).toEqual([
      { user_id: 'u1', last_op_id: 5 },
      { user_id: 'u2', last_op_id: 5 },
    ]);
  });

  it('answers an all-duplicate batch with the ledger position, which may be past the batch', async () => {
    const clientId = randomUUID();
    const { body } = sampleBatch(clientId);
    await postBatch(server, token, body);
    const answer = await postBatch(server, token, { ...body, batch: body.batch.slice(0, 2) });
    expect(answer.body).toMatchObject({ last_op_id: 5, applied: 0, duplicates: 2, rejected: [] });
  });

  it('answers an empty batch of a new client with last_op_id 0', async () => {
    const answer = await postBatch(server, token, { client_id: randomUUID(), batch: [] });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ last_op_id: 0, applied: 0, duplicates: 0, skipped: 0, rejected: [] });
  });
});
