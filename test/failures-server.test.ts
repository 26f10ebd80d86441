/**
 * Temporary failures inside a running database (deadlock, pool exhausted), the server's own
 * problems (a configured table dropped, a permission missing) and shutdown (PROTOCOL.md 2.5):
 * 503 for what may pass, 5xx and never a rejection for what the operator must fix, and
 * never a partial effect.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../src/auth/authenticate.ts';
import { configSchema } from '../src/config/schema.ts';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { PgStore } from '../src/postgres/pg-store.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { buildApp } from '../src/server/app.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { postBatch, startTestServer, TEST_SECRET, type TestServer } from './support/server.ts';
import { SLOW_TABLE_SQL, slowPut, sleep, waitForSleepingBackend } from './support/slow.ts';

/** `pair`: every update takes 300 ms, to make two batches cross. */
const PAIR_TABLE_SQL = `
CREATE TABLE pair (id text PRIMARY KEY, v int NOT NULL);
CREATE FUNCTION pair_pause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$;
CREATE TRIGGER pair_pause BEFORE UPDATE ON pair FOR EACH ROW EXECUTE FUNCTION pair_pause();
`;
const TABLES = { lists: {}, todos: {}, slow: {}, pair: {} };

let databaseUrl: string;
let server: TestServer;
let token: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase('wp_fail');
  const name = new URL(databaseUrl).pathname.slice(1);
  // Detect deadlocks quickly; set before the server's connections are made.
  await sql(databaseUrl, `ALTER DATABASE ${name} SET deadlock_timeout = '100ms'`);
  await sql(databaseUrl, exampleSchemaSql + SLOW_TABLE_SQL + PAIR_TABLE_SQL);
  server = await startTestServer({ databaseUrl, config: { tables: TABLES } });
  token = await server.token('u1');
});
afterAll(() => server?.close());

function listPut(opId: number, id = randomUUID(), txId = opId) {
  return { op_id: opId, tx_id: txId, op: 'PUT', type: 'lists', id, data: { name: 'l', owner_id: 'u1' } };
}

/** Ledger position, rejection rows and how many of `lists` exist, for one client. */
async function stateOf(url: string, clientId: string, lists: string[]) {
  const [row] = await sql(
    url,
    `SELECT (SELECT count(*) FROM lists WHERE id = ANY($2::uuid[]))::int AS lists,
            (SELECT count(*) FROM writepath_rejections WHERE client_id = $1)::int AS rejections,
            (SELECT last_op_id FROM writepath_ledger WHERE client_id = $1)::int AS ledger`,
    [clientId, lists],
  );
  return row;
}

function expectError(answer: { status: number; body: any; headers: Headers }, status: number, code: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toEqual({ error: { code, message: expect.any(String) } });
  if (status === 503) expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
}

describe('deadlock', () => {
  it('retries a batch chosen as a deadlock victim: both crossing batches end 200 and each applies whole', async () => {
    await sql(databaseUrl, `INSERT INTO pair VALUES ('r1', 0), ('r2', 0)`);
    const deadlocks = async () =>
      Number((await sql(databaseUrl, 'SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()'))[0].deadlocks);
    const before = await deadlocks();
    const patch = (opId: number, id: string, v: number) => ({ op_id: opId, tx_id: 1, op: 'PATCH', type: 'pair', id, data: { v } });
    const token2 = await server.token('u2');
    const [a, b] = await Promise.all([
      postBatch(server, token, { client_id: randomUUID(), batch: [patch(1, 'r1', 1), patch(2, 'r2', 1)] }),
      postBatch(server, token2, { client_id: randomUUID(), batch: [patch(1, 'r2', 2), patch(2, 'r1', 2)] }),
    ]);
    for (const answer of [a, b]) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toMatchObject({ applied: 2, duplicates: 0, rejected: [] });
    }
    // Whichever committed last wrote both rows: no batch is half applied.
    const rows = await sql(databaseUrl, 'SELECT id, v FROM pair ORDER BY id');
    expect(rows[0].v).toBe(rows[1].v);
    // The test is only worth something if Postgres did pick a victim (stats may lag a little).
    let seen = 0;
    for (let i = 0; i < 50 && (seen = await deadlocks()) === before; i++) await sleep(50);
    expect(seen).toBeGreaterThan(before);
  });
});

/** A server on a pool of one connection that waits 200 ms for it, built as start.ts does. */
async function startPoolOfOne(url: string) {
  const config = configSchema.parse({ database: { url }, server: { port: 0 }, auth: { jwt: { secret: TEST_SECRET } }, tables: TABLES });
  const store = await PgStore.open({ url, poolSize: 1, connectTimeoutMs: 200 });
  const app = buildApp({ config, store, rules: new TableRules(config.tables), authenticate: createAuthenticator(config.auth) });
  app.addHook('onClose', async () => store.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
}

describe('pool exhausted', () => {
  it('answers 503 pool_exhausted with Retry-After when no connection frees up in time, with nothing applied', async () => {
    const small = await startPoolOfOne(databaseUrl);
    try {
      const holder = postBatch(small, token, { client_id: randomUUID(), batch: [slowPut(1, 800, randomUUID())] });
      await waitForSleepingBackend(databaseUrl);
      const clientId = randomUUID();
      const lists = [randomUUID(), randomUUID()];
      const body = { client_id: clientId, batch: [listPut(1, lists[0]), listPut(2, lists[1])] };
      expectError(await postBatch(small, token, body), 503, 'pool_exhausted');
      expect((await holder).status).toBe(200);
      expect(await stateOf(databaseUrl, clientId, lists)).toEqual({ lists: 0, rejections: 0, ledger: null });
      const retried = await postBatch(small, token, body);
      expect(retried.body).toMatchObject({ applied: 2, last_op_id: 2 });
    } finally {
      await small.close();
    }
  });

  it('rejects an unknown column on a pool of one: re-reading the schema does not wait for a second connection', async () => {
    const small = await startPoolOfOne(databaseUrl);
    try {
      const id = randomUUID();
      const answer = await postBatch(small, token, {
        client_id: randomUUID(),
        batch: [{ op_id: 1, op: 'PUT', type: 'lists', id, data: { name: 'x', colour: 'red' } }],
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.rejected).toEqual([expect.objectContaining({ op_id: 1, code: 'unknown_column', column: 'colour' })]);
    } finally {
      await small.close();
    }
  });
});

describe("the server's own problems are 5xx, never rejections", () => {
  it('answers 500 for a configured table dropped while the server runs, with nothing applied', async () => {
    const own = await startTestServer();
    try {
      const clientId = randomUUID();
      const first = [randomUUID()];
      expect((await postBatch(own, token, { client_id: clientId, batch: [listPut(1, first[0])] })).status).toBe(200);
      await sql(own.databaseUrl, 'DROP TABLE todos');

      const lists = [randomUUID(), randomUUID()];
      const todo = (opId: number, completed: number) => ({
        op_id: opId, tx_id: opId, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'd', list_id: lists[0], completed },
      });
      // A list that would apply, a todo, and a todo that would be rejected for its value.
      const batch = [listPut(2, lists[0]), todo(3, 0), todo(4, 7)];
      // Known from the schema as read at start, the statement finds no table; the server
      // reads the schema again, tries once more and knows the table is gone.
      expectError(await postBatch(own, token, { client_id: clientId, batch }), 500, 'table_missing');
      expectError(await postBatch(own, token, { client_id: clientId, batch }), 500, 'table_missing');
      expect(await stateOf(own.databaseUrl, clientId, [...first, ...lists])).toEqual({ lists: 1, rejections: 0, ledger: 1 });
      // Batches that do not touch the missing table go on.
      expect((await postBatch(own, token, { client_id: clientId, batch: [listPut(2, lists[0])] })).body).toMatchObject({ applied: 1, last_op_id: 2 });
    } finally {
      await own.close();
    }
  });

  it('rejects as unknown a column dropped while the server runs, once it has read the schema again', async () => {
    const own = await startTestServer();
    try {
      await sql(own.databaseUrl, 'ALTER TABLE lists DROP COLUMN owner_id');
      const id = randomUUID();
      const body = { client_id: randomUUID(), batch: [{ op_id: 1, op: 'PUT', type: 'lists', id, data: { name: 'x', owner_id: 'u1' } }] };
      // The statement built from the schema read at start fails; the answer must not be a 500:
      // it is decided on the schema as it is now: the server reads it again and retries once.
      const answer = await postBatch(own, token, body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.rejected).toEqual([expect.objectContaining({ op_id: 1, code: 'unknown_column', column: 'owner_id' })]);
    } finally {
      await own.close();
    }
  });
});

describe("a permission missing for the server's role", () => {
  const role = `wp_limited_${randomBytes(4).toString('hex')}`;
  let own: TestServer | undefined;
  let url: string;

  beforeAll(async () => {
    url = await createTestDatabase('wp_perm');
    await sql(url, exampleSchemaSql);
    // The server's own tables, made by a superuser as a migration would.
    await (await PgStore.open({ url })).close();
    await sql(
      url,
      `CREATE ROLE ${role} LOGIN PASSWORD 'pw';
       GRANT USAGE ON SCHEMA public TO ${role};
       GRANT SELECT, INSERT, UPDATE ON writepath_ledger, writepath_rejections TO ${role};
       GRANT SELECT, INSERT, DELETE ON writepath_digests TO ${role};
       GRANT SELECT, INSERT, UPDATE, DELETE ON lists TO ${role};
       GRANT SELECT ON todos TO ${role};`,
    );
    const limited = new URL(url);
    limited.username = role;
    limited.password = 'pw';
    own = await startTestServer({ databaseUrl: limited.toString() });
  });
  afterAll(async () => {
    await own?.close();
    await sql(url, `DROP OWNED BY ${role}; DROP ROLE ${role}`);
  });

  it('answers 500 for a write the role may not make, with nothing applied; granted tables still work', async () => {
    const clientId = randomUUID();
    const lists = [randomUUID(), randomUUID()];
    const batch = [
      listPut(1, lists[0]),
      { op_id: 2, tx_id: 2, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'd', list_id: lists[0] } },
      { op_id: 3, tx_id: 3, op: 'PUT', type: 'todos', id: randomUUID(), data: { description: 'd', completed: 7 } },
    ];
    expectError(await postBatch(own!, token, { client_id: clientId, batch }), 500, 'permission_denied');
    expect(await stateOf(url, clientId, lists)).toEqual({ lists: 0, rejections: 0, ledger: null });

    const granted = await postBatch(own!, token, { client_id: clientId, batch: [listPut(1, lists[0]), listPut(2, lists[1])] });
    expect(granted.body).toMatchObject({ applied: 2, last_op_id: 2, rejected: [] });
    expect(await stateOf(url, clientId, lists)).toEqual({ lists: 2, rejections: 0, ledger: 2 });
  });
});
