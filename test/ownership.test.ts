import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';

/** lists belong to their owner_id; a todo belongs to whoever owns its list. */
const ownedTables = {
  lists: { owner_column: 'owner_id' },
  todos: { owner: { through: 'list_id', table: 'lists', column: 'owner_id' } },
};

let server: TestServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestServer({ config: { tables: ownedTables } });
  tokens.u1 = await server.token('u1');
  tokens.u2 = await server.token('u2');
});
afterAll(() => server?.close());

const post = (user: 'u1' | 'u2', batch: unknown[]) => postBatch(server, tokens[user]!, { client_id: randomUUID(), batch });
const list = (opId: number, id: string, data: Record<string, unknown> = { name: 'l' }, txId = opId) => ({ op_id: opId, tx_id: txId, op: 'PUT', type: 'lists', id, data });
const todo = (opId: number, id: string, listId: string | null, txId = opId) => ({
  op_id: opId, tx_id: txId, op: 'PUT', type: 'todos', id, data: { description: 'd', list_id: listId },
});
const codes = (body: any) => body.rejected.map((r: any) => [r.op_id, r.code]);

async function snapshot() {
  return sql(server.databaseUrl, `SELECT 'list' AS kind, id::text, name AS value, owner_id AS extra FROM lists
                                 UNION ALL SELECT 'todo', id::text, description, list_id::text FROM todos ORDER BY 1, 2`);
}

/** u1's list with one todo, created through the server. */
async function seedU1() {
  const [l, t] = [randomUUID(), randomUUID()];
  const { body } = await post('u1', [list(1, l), todo(2, t, l)]);
  expect(body).toMatchObject({ applied: 2, rejected: [] });
  return { l, t };
}

describe('owner_column', () => {
  it('fills in the owner of a PUT that lacks it, and refuses another owner', async () => {
    const [mine, theirs] = [randomUUID(), randomUUID()];
    const { body } = await post('u1', [list(1, mine), list(2, theirs, { name: 'x', owner_id: 'u2' })]);
    expect(codes(body)).toEqual([[2, 'forbidden']]);
    expect(body.rejected[0].message).toMatch(/owner_id must be the token's user/);
    expect(await sql(server.databaseUrl, 'SELECT id::text, owner_id FROM lists WHERE id = ANY($1::uuid[])', [[mine, theirs]])).toEqual([{ id: mine, owner_id: 'u1' }]);
  });

  it("refuses PUT, PATCH and DELETE of another user's row, and changing the owner, changing nothing", async () => {
    const { l } = await seedU1();
    const before = await snapshot();
    const { body } = await post('u2', [
      list(1, l, { name: 'taken over' }),
      { op_id: 2, op: 'PATCH', type: 'lists', id: l, data: { name: 'renamed' } },
      { op_id: 3, op: 'DELETE', type: 'lists', id: l },
    ]);
    expect(codes(body)).toEqual([[1, 'forbidden'], [2, 'forbidden'], [3, 'forbidden']]);
    for (const r of body.rejected) expect(r.message).toMatch(/belongs to another user/);
    const handOver = await post('u1', [{ op_id: 1, op: 'PATCH', type: 'lists', id: l, data: { owner_id: 'u2' } }]);
    expect(handOver.body.rejected).toMatchObject([{ code: 'forbidden', message: expect.stringMatching(/owner_id cannot be changed/) }]);
    expect(await snapshot()).toEqual(before);
  });

  it('lets the owner PATCH and DELETE, and treats a PATCH of a missing row as a no-op', async () => {
    const { l } = await seedU1();
    const { body } = await post('u1', [
      { op_id: 1, op: 'PATCH', type: 'lists', id: l, data: { name: 'renamed', owner_id: 'u1' } },
      { op_id: 2, op: 'PATCH', type: 'lists', id: randomUUID(), data: { name: 'ghost' } },
      { op_id: 3, op: 'DELETE', type: 'lists', id: l },
    ]);
    expect(body).toMatchObject({ applied: 3, rejected: [] });
    expect(await sql(server.databaseUrl, 'SELECT 1 FROM lists WHERE id = $1', [l])).toEqual([]);
  });
});

describe('owner through a parent row', () => {
  it("refuses a todo put into, patched in, deleted from or moved into another user's list", async () => {
    const { l, t } = await seedU1();
    const own = randomUUID();
    const ownTodo = randomUUID();
    await post('u2', [list(1, own), todo(2, ownTodo, own)]);
    const before = await snapshot();
    const { body } = await post('u2', [
      todo(1, randomUUID(), l),
      { op_id: 2, op: 'PATCH', type: 'todos', id: t, data: { description: 'mine now' } },
      { op_id: 3, op: 'DELETE', type: 'todos', id: t },
      { op_id: 4, op: 'PATCH', type: 'todos', id: ownTodo, data: { list_id: l } },
      // Moving u1's todo into a list of u2 is taking it, too.
      { op_id: 5, op: 'PATCH', type: 'todos', id: t, data: { list_id: own } },
    ]);
    expect(codes(body)).toEqual([[1, 'forbidden'], [2, 'forbidden'], [3, 'forbidden'], [4, 'forbidden'], [5, 'forbidden']]);
    expect(await snapshot()).toEqual(before);
  });

  it('sees parents created and children moved earlier in the same batch', async () => {
    const [a, b, t1, t2] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const { body } = await post('u1', [
      list(1, a, { name: 'a' }, 1),
      todo(2, t1, a, 1), // same transaction as its list
      list(3, b, { name: 'b' }, 2),
      { op_id: 4, tx_id: 3, op: 'PATCH', type: 'todos', id: t1, data: { list_id: b } },
      todo(5, t2, b, 4),
      { op_id: 6, tx_id: 5, op: 'DELETE', type: 'lists', id: a },
    ]);
    expect(body).toMatchObject({ applied: 6, rejected: [] });
    expect(await sql(server.databaseUrl, 'SELECT list_id::text FROM todos WHERE id = ANY($1::uuid[]) ORDER BY list_id', [[t1, t2]])).toEqual([
      { list_id: b },
      { list_id: b },
    ]);
  });

  it('refuses a missing parent and an empty link, and forgets what a refused transaction did', async () => {
    const { l } = await seedU1();
    const ghostList = randomUUID();
    const { body } = await post('u2', [
      todo(1, randomUUID(), randomUUID()),
      todo(2, randomUUID(), null),
      // This transaction is refused for its second entry, so its list never exists...
      list(3, ghostList, { name: 'g' }, 3),
      { op_id: 4, tx_id: 3, op: 'PATCH', type: 'lists', id: l, data: { name: 'stolen' } },
      // ...and a todo in it has no parent.
      todo(5, randomUUID(), ghostList, 4),
    ]);
    expect(codes(body)).toEqual([[1, 'forbidden'], [2, 'forbidden'], [3, 'transaction_rejected'], [4, 'forbidden'], [5, 'forbidden']]);
    expect(body.rejected[0].message).toMatch(/does not exist/);
    expect(body.rejected[1].message).toMatch(/list_id is empty/);
    expect(body.rejected[4].message).toMatch(/does not exist/);
  });
});

describe('ownership on a key that has several spellings', () => {
  it('finds the owner of numeric key 7 when another user names it 07 or 7.0', async () => {
    await sql(server.databaseUrl, 'CREATE TABLE IF NOT EXISTS counters (id numeric PRIMARY KEY, owner_id text, n int)');
    const numbered = await startTestServer({ databaseUrl: server.databaseUrl, config: { tables: { counters: { owner_column: 'owner_id' } } } });
    try {
      const as = async (user: string, batch: unknown[]) => postBatch(numbered, await numbered.token(user), { client_id: randomUUID(), batch });
      expect((await as('u1', [{ op_id: 1, op: 'PUT', type: 'counters', id: '7', data: { n: 1 } }])).body.applied).toBe(1);
      const { body } = await as('u2', [
        { op_id: 1, op: 'DELETE', type: 'counters', id: '07' },
        { op_id: 2, op: 'PUT', type: 'counters', id: '7.0', data: { n: 2 } },
        { op_id: 3, op: 'PATCH', type: 'counters', id: '7.00', data: { n: 3 } },
      ]);
      expect(codes(body)).toEqual([[1, 'forbidden'], [2, 'forbidden'], [3, 'forbidden']]);
      expect(await sql(server.databaseUrl, 'SELECT id::text, owner_id, n FROM counters')).toEqual([{ id: '7', owner_id: 'u1', n: 1 }]);
    } finally {
      await numbered.close();
    }
  });
});

describe('two users creating the same row at once', () => {
  it('lets one of them have it: the other is refused, never handed the first one\'s row', async () => {
    for (let round = 0; round < 10; round++) {
      const id = randomUUID();
      const [a, b] = await Promise.all(['u1', 'u2'].map((user) => post(user as 'u1' | 'u2', [list(1, id, { name: user })])));
      const applied = [a, b].map((answer) => answer!.body.applied);
      expect(applied.sort()).toEqual([0, 1]);
      const winner = a!.body.applied === 1 ? 'u1' : 'u2';
      expect(await sql(server.databaseUrl, 'SELECT name, owner_id FROM lists WHERE id = $1', [id])).toEqual([{ name: winner, owner_id: winner }]);
    }
  });
});
