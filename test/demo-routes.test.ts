/**
 * The drop-in routes for PowerSync's demo connectors (PROTOCOL.md section 7): the request
 * shapes, the same checks and rejections as the batch endpoint, and what the missing
 * exactly-once guarantee means.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';

const MAX_BODY = 2048;
const MAX_OPS = 5;

let server: TestServer;
let off: TestServer;
let token: string;
let user: string;

beforeAll(async () => {
  server = await startTestServer({ config: { compat: { demo_routes: true }, server: { max_body_bytes: MAX_BODY, max_batch_ops: MAX_OPS } } });
  off = await startTestServer();
  user = `user-${randomUUID()}`;
  token = await server.token(user);
});
afterAll(async () => {
  await server?.close();
  await off?.close();
});

/** A request to /api/data with any method, as the demo connectors make it (plus a token). */
async function send(method: string, body: unknown, headers: Record<string, string> = {}, target = server) {
  const response = await fetch(`${target.url}/api/data`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body: parsed };
}

async function listNames(ids: string[]): Promise<Record<string, string>> {
  const rows = await sql(server.databaseUrl, 'SELECT id::text, name FROM lists WHERE id = ANY($1::uuid[])', [ids]);
  return Object.fromEntries(rows.map((r) => [r.id, r.name]));
}

async function ledgerRows(userId: string) {
  return sql(server.databaseUrl, 'SELECT * FROM writepath_ledger WHERE user_id = $1', [userId]);
}

describe('off by default', () => {
  it('has no PUT/PATCH/DELETE routes and wants a client_id on POST', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      expect((await send(method, { table: 'lists', data: { id: randomUUID(), name: 'x' } }, {}, off)).status).toBe(404);
    }
    const post = await send('POST', { batch: [{ op: 'PUT', table: 'lists', id: randomUUID(), data: { name: 'x' } }] }, {}, off);
    expect(post.status).toBe(400);
    expect(post.body.error.code).toBe('invalid_request');
  });
});

describe('POST /api/data with {batch} and no client_id', () => {
  it('applies the demo connector\'s batch as one client transaction, without touching the ledger', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const todo = randomUUID();
    const answer = await send('POST', {
      batch: [
        { op: 'PUT', table: 'lists', id: a, data: { name: 'Home', created_at: '2024-05-01 10:00:00' } },
        { op: 'PUT', table: 'lists', id: b, data: { name: 'Work' } },
        { op: 'PUT', table: 'todos', id: todo, data: { description: 'Milk', completed: 0, list_id: a } },
        { op: 'PATCH', table: 'lists', id: a, data: { name: 'Home (shared)' } },
        // The node backend demo also reads the id from data.
        { op: 'DELETE', table: 'lists', data: { id: b } },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ client_id: '', last_op_id: 0, applied: 5, duplicates: 0, skipped: 0, rejected: [] });
    expect(await listNames([a, b])).toEqual({ [a]: 'Home (shared)' });
    const [row] = await sql(server.databaseUrl, 'SELECT description, completed, list_id::text FROM todos WHERE id = $1', [todo]);
    expect(row).toEqual({ description: 'Milk', completed: false, list_id: a });
    expect(await ledgerRows(user)).toEqual([]);
  });

  it('accepts the SDK\'s own entry shape (type, op_id, tx_id) without client_id', async () => {
    const id = randomUUID();
    const answer = await send('POST', { batch: [{ op_id: 7, tx_id: 3, op: 'PUT', type: 'lists', id, data: { name: 'from toJSON' } }] });
    expect(answer.status).toBe(200);
    expect(answer.body.applied).toBe(1);
    expect(await listNames([id])).toEqual({ [id]: 'from toJSON' });
  });

  it('rejects the whole request for one bad entry, answers 200 and stores the rejections with client_id ""', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const answer = await send('POST', {
      batch: [
        { op: 'PUT', table: 'lists', id: a, data: { name: 'kept out' } },
        { op: 'PUT', table: 'todos', id: b, data: { description: 'x', completed: 'yes' } },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ client_id: '', last_op_id: 0, applied: 0, duplicates: 0, skipped: 0 });
    expect(answer.body.rejected).toEqual([
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'lists', id: a, code: 'transaction_rejected', cause_op_id: 2, message: expect.any(String) },
      { op_id: 2, tx_id: 1, op: 'PUT', type: 'todos', id: b, code: 'invalid_value', column: 'completed', message: 'todos.completed: expected 0, 1, true or false, got "yes"' },
    ]);
    expect(await listNames([a])).toEqual({});
    const stored = await sql(server.databaseUrl, 'SELECT client_id, op_id::int, tx_id::int, type, row_id, code, data FROM writepath_rejections WHERE user_id = $1 AND row_id = ANY($2) ORDER BY op_id', [user, [a, b]]);
    expect(stored).toEqual([
      { client_id: '', op_id: 1, tx_id: 1, type: 'lists', row_id: a, code: 'transaction_rejected', data: { name: 'kept out' } },
      { client_id: '', op_id: 2, tx_id: 1, type: 'todos', row_id: b, code: 'invalid_value', data: { description: 'x', completed: 'yes' } },
    ]);
  });

  it('rejects entries without table or id as malformed_operation, not as a 400', async () => {
    const answer = await send('POST', { batch: [{ op: 'PUT', data: { name: 'no table' } }, { op: 'PUT', table: 'lists', data: { name: 'no id' } }] });
    expect(answer.status).toBe(200);
    expect(answer.body.rejected.map((r: any) => r.code)).toEqual(['malformed_operation', 'transaction_rejected']);
  });

  it('still takes the batch format with client_id, exactly once', async () => {
    const clientId = randomUUID();
    const body = { client_id: clientId, batch: [{ op_id: 1, tx_id: 1, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: 'x' } }] };
    expect((await postBatch(server, token, body)).body).toMatchObject({ client_id: clientId, last_op_id: 1, applied: 1 });
    expect((await postBatch(server, token, body)).body).toMatchObject({ client_id: clientId, last_op_id: 1, applied: 0, duplicates: 1 });
  });
});

describe('PUT, PATCH, DELETE /api/data with {table, data: {id, …}}', () => {
  it('applies one operation per request and answers 200 with the batch result', async () => {
    const id = randomUUID();
    const put = await send('PUT', { table: 'lists', data: { id, name: 'Groceries', owner_id: user } });
    expect(put).toEqual({ status: 200, body: { client_id: '', last_op_id: 0, applied: 1, duplicates: 0, skipped: 0, rejected: [] } });
    expect(await listNames([id])).toEqual({ [id]: 'Groceries' });

    expect((await send('PATCH', { table: 'lists', data: { id, name: 'Groceries (Sat)' } })).body.applied).toBe(1);
    expect(await listNames([id])).toEqual({ [id]: 'Groceries (Sat)' });

    expect((await send('DELETE', { table: 'lists', data: { id } })).body.applied).toBe(1);
    expect(await listNames([id])).toEqual({});
    // A PATCH or DELETE of a missing row is a no-op that counts as applied, as in the batch format.
    expect((await send('DELETE', { table: 'lists', data: { id } })).body.applied).toBe(1);
  });

  it('answers a rejection with 200, not an error', async () => {
    const id = randomUUID();
    const answer = await send('PUT', { table: 'writepath_ledger', data: { id, user_id: 'x' } });
    expect(answer.status).toBe(200);
    expect(answer.body.rejected).toEqual([{ op_id: 1, tx_id: 1, op: 'PUT', type: 'writepath_ledger', id, code: 'unknown_table', message: expect.any(String) }]);
    const patch = await send('PATCH', { table: 'lists', data: { id, nope: 1 } });
    expect(patch.body.rejected).toMatchObject([{ code: 'unknown_column', column: 'nope' }]);
  });
});

describe('the same checks as the batch endpoint', () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    const body = method === 'POST' ? { batch: [{ op: 'PUT', table: 'lists', id: randomUUID(), data: { name: 'x' } }] } : { table: 'lists', data: { id: randomUUID(), name: 'x' } };
    it(`${method}: 401, 415, 413, 400, in that order, with nothing applied`, async () => {
      const noToken = await fetch(`${server.url}/api/data`, { method, headers: { 'content-type': 'text/plain' }, body: 'x' });
      expect(noToken.status).toBe(401);
      expect((await noToken.json()).error.code).toBe('token_missing');
      expect((await send(method, JSON.stringify(body), { 'content-type': 'text/plain' })).status).toBe(415);
      const tooBig = await send(method, method === 'POST' ? { ...body, padding: 'x'.repeat(MAX_BODY) } : { table: 'lists', data: { id: randomUUID(), name: 'x'.repeat(MAX_BODY) } });
      expect(tooBig.status).toBe(413);
      expect(tooBig.body.error.message).toContain(String(MAX_BODY));
      expect((await send(method, '{"table": ')).body.error.code).toBe('invalid_json');
      expect((await send(method, '[1, 2]')).body.error.code).toBe('invalid_request');
    });
  }

  it('DELETE without a body (so without a content type) is a 415, like any request that is not JSON', async () => {
    const response = await fetch(`${server.url}/api/data`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(415);
    expect((await response.json()).error.code).toBe('unsupported_media_type');
  });

  it('POST: more entries than max_batch_ops is a 413 stating the limit', async () => {
    const batch = Array.from({ length: MAX_OPS + 1 }, () => ({ op: 'PUT', table: 'lists', id: randomUUID(), data: { name: 'x' } }));
    const answer = await send('POST', { batch });
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatchObject({ code: 'too_many_operations', message: expect.stringContaining(String(MAX_OPS)) });
    expect(await listNames(batch.map((e) => e.id))).toEqual({});
  });
});

describe('no exactly-once: what a retried request does', () => {
  it('applies a replayed request again: an insert replayed after a later delete brings the row back', async () => {
    const id = randomUUID();
    const insert = { batch: [{ op: 'PUT', table: 'lists', id, data: { name: 'Old list' } }] };
    expect((await send('POST', insert)).body.applied).toBe(1);
    expect((await send('DELETE', { table: 'lists', data: { id } })).body.applied).toBe(1);
    // The first response was lost, so the connector sends the insert again: it lands again.
    expect((await send('POST', insert)).body).toMatchObject({ applied: 1, duplicates: 0 });
    expect(await listNames([id])).toEqual({ [id]: 'Old list' });
  });
});
