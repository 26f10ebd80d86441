import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWritepath, Rejection, type BatchResponse, type Hooks } from '../src/index.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { postBatch, signTestToken, TEST_SECRET } from './support/server.ts';

let db: string;
let url: string;
let close: () => Promise<unknown>;
const committed: BatchResponse[] = [];

const hooks: Hooks = {
  beforeApply(entry, ctx) {
    if (entry.type === 'notes' && String(entry.data.title ?? '').includes('spam')) return { reject: 'notes: no spam, please' };
    // Fill in who wrote a note: the client need not send it.
    if (entry.type === 'notes' && entry.op === 'PUT') return { ...entry, data: { ...entry.data, author: ctx.userId } };
    return entry;
  },
  tables: {
    notes: { validate: z.object({ title: z.string().max(20).optional() }) },
    orders: {
      handlers: {
        // Stock must never go below zero: checked and taken in the batch's own transaction.
        async PUT(entry, ctx) {
          const qty = Number(entry.data.qty);
          const { rows } = await ctx.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1 FOR UPDATE', [entry.data.product_id]);
          if (!rows[0] || rows[0].stock < qty) throw new Rejection(`orders ${entry.id}: only ${rows[0]?.stock ?? 0} left`);
          await ctx.query('UPDATE products SET stock = stock - $2 WHERE id = $1', [entry.data.product_id, qty]);
          await ctx.query('INSERT INTO audit (what) VALUES ($1)', [`order ${entry.id} by ${ctx.userId}`]);
          await ctx.apply();
        },
        async DELETE() {
          throw new Error('a bug in a handler');
        },
      },
    },
  },
  afterCommit(result) {
    committed.push(result);
    throw new Error('a failing side effect must not change the answer');
  },
};

beforeAll(async () => {
  db = await createTestDatabase();
  await sql(
    db,
    `CREATE TABLE notes (id uuid PRIMARY KEY, title text, author text);
     CREATE TABLE products (id text PRIMARY KEY, stock int NOT NULL CHECK (stock >= 0));
     CREATE TABLE orders (id uuid PRIMARY KEY, product_id text REFERENCES products, qty int NOT NULL);
     CREATE TABLE audit (id bigserial PRIMARY KEY, what text);
     INSERT INTO products VALUES ('apple', 5);`,
  );
  // Library mode, as an app embeds it: the web-standard handler behind a plain node:http server.
  const wp = createWritepath(
    { database: { url: db }, auth: { jwt: { secret: TEST_SECRET } }, tables: { notes: {}, orders: {} } },
    { hooks, logger: false },
  );
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const response = await wp.handle(
      new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body: Buffer.concat(chunks) }),
    );
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = async () => {
    await new Promise((resolve) => server.close(resolve));
    await wp.close();
  };
});
afterAll(() => close?.());

let opId = 0;
const post = async (...batch: unknown[]) => postBatch({ url }, await signTestToken('u1'), { client_id: randomUUID(), batch });
const order = (id: string, qty: number, txId?: number) => ({ op_id: ++opId, tx_id: txId, op: 'PUT', type: 'orders', id, data: { product_id: 'apple', qty } });

describe('library hooks', () => {
  it('beforeApply changes or rejects entries, and a zod validator rejects with its messages', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const { body } = await post(
      { op_id: ++opId, op: 'PUT', type: 'notes', id: a, data: { title: 'hello' } },
      { op_id: ++opId, op: 'PUT', type: 'notes', id: b, data: { title: 'buy spam now' } },
      { op_id: ++opId, op: 'PUT', type: 'notes', id: c, data: { title: 'x'.repeat(30) } },
    );
    expect(body.rejected.map((r: any) => r.code)).toEqual(['validation_failed', 'validation_failed']);
    expect(body.rejected[0].message).toBe('notes: no spam, please');
    expect(body.rejected[1].message).toMatch(/title: Too big/);
    expect(await sql(db, 'SELECT id::text, author FROM notes')).toEqual([{ id: a, author: 'u1' }]);
  });

  it('runs a handler in the batch transaction: it may reject, and what it wrote goes or stays with its client transaction', async () => {
    const [ok, tooMany, laterFails] = [randomUUID(), randomUUID(), randomUUID()];
    const { body } = await post(
      order(ok, 2),
      order(tooMany, 10),
      order(laterFails, 1, 42),
      // The same client transaction then fails: the handler's stock and audit writes go with it.
      { op_id: ++opId, tx_id: 42, op: 'PUT', type: 'notes', id: randomUUID(), data: { title: 'y'.repeat(30) } },
    );
    expect(body.applied).toBe(1);
    expect(body.rejected.map((r: any) => [r.id === tooMany || r.id === laterFails ? 'order' : 'note', r.code])).toEqual([
      ['order', 'validation_failed'],
      ['order', 'transaction_rejected'],
      ['note', 'validation_failed'],
    ]);
    expect(body.rejected[0].message).toBe(`orders ${tooMany}: only 3 left`);
    expect(await sql(db, 'SELECT stock FROM products')).toEqual([{ stock: 3 }]);
    expect(await sql(db, 'SELECT what FROM audit')).toEqual([{ what: `order ${ok} by u1` }]);
    expect(await sql(db, 'SELECT id::text FROM orders')).toEqual([{ id: ok }]);
  });

  it('answers 500 with nothing applied when a handler fails unexpectedly', async () => {
    const id = randomUUID();
    const clientId = randomUUID();
    const answer = await postBatch({ url }, await signTestToken('u1'), {
      client_id: clientId,
      batch: [order(id, 1), { op_id: ++opId, op: 'DELETE', type: 'orders', id }],
    });
    expect(answer.status).toBe(500);
    expect(await sql(db, 'SELECT 1 FROM orders WHERE id = $1', [id])).toEqual([]);
    expect(await sql(db, 'SELECT 1 FROM writepath_ledger WHERE client_id = $1', [clientId])).toEqual([]);
  });

  it('calls afterCommit with the result, and its failure does not change the answer', async () => {
    committed.length = 0;
    const { status, body } = await post({ op_id: ++opId, op: 'PUT', type: 'notes', id: randomUUID(), data: { title: 'after' } });
    expect(status).toBe(200);
    expect(committed).toEqual([body]);
  });
});
