import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import type { PgStore } from '../src/postgres/pg-store.ts';
import { startServer, StartupError } from '../src/server/start.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { postBatch, startTestServer, TEST_SECRET, type TestServer } from './support/server.ts';

const ROLE = `app_user_${randomUUID().slice(0, 8)}`;
const sub = `current_setting('request.jwt.claims', true)::json->>'sub'`;

let db: string;
let server: TestServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  await sql(db, exampleSchemaSql);
  // Real policies, as a Supabase project would have them: a list is its owner's, a todo is
  // visible and writable through its list.
  await sql(
    db,
    `CREATE ROLE ${ROLE} NOLOGIN;
     GRANT SELECT, INSERT, UPDATE, DELETE ON lists, todos TO ${ROLE};
     ALTER TABLE lists ENABLE ROW LEVEL SECURITY;
     ALTER TABLE todos ENABLE ROW LEVEL SECURITY;
     CREATE POLICY own_lists ON lists USING (owner_id = ${sub}) WITH CHECK (owner_id = ${sub});
     CREATE POLICY own_todos ON todos USING (EXISTS (SELECT 1 FROM lists l WHERE l.id = list_id))
       WITH CHECK (EXISTS (SELECT 1 FROM lists l WHERE l.id = list_id));`,
  );
  server = await startTestServer({ databaseUrl: db, config: { auth: { jwt: { secret: TEST_SECRET }, postgres_role: ROLE } } });
  tokens.u1 = await server.token('u1');
  tokens.u2 = await server.token('u2');
});
afterAll(() => server?.close());

const post = (user: 'u1' | 'u2', batch: unknown[]) => postBatch(server, tokens[user]!, { client_id: randomUUID(), batch });
const listPut = (opId: number, id: string, owner: string) => ({ op_id: opId, op: 'PUT', type: 'lists', id, data: { name: 'l', owner_id: owner } });

async function rows() {
  return sql(db, `SELECT id::text, name, owner_id FROM lists ORDER BY id`);
}

describe('RLS mode (auth.postgres_role)', () => {
  it('writes under the role, so policies decide: a row the WITH CHECK refuses is forbidden', async () => {
    const [mine, theirs] = [randomUUID(), randomUUID()];
    const { body } = await post('u1', [listPut(1, mine, 'u1'), listPut(2, theirs, 'u2')]);
    expect(body.applied).toBe(1);
    expect(body.rejected).toMatchObject([{ op_id: 2, code: 'forbidden', message: expect.stringMatching(/row-level security/) }]);
    expect(await sql(db, 'SELECT owner_id FROM lists WHERE id = ANY($1::uuid[])', [[mine, theirs]])).toEqual([{ owner_id: 'u1' }]);
  });

  it('answers forbidden, not a silent no-op, for a PATCH or DELETE of a row the USING clause hides', async () => {
    const l = randomUUID();
    await post('u1', [listPut(1, l, 'u1')]);
    const todo = randomUUID();
    await post('u1', [{ op_id: 1, op: 'PUT', type: 'todos', id: todo, data: { description: 'd', list_id: l } }]);
    const before = await rows();
    const { body } = await post('u2', [
      { op_id: 1, op: 'PATCH', type: 'lists', id: l, data: { name: 'taken' } },
      { op_id: 2, op: 'DELETE', type: 'lists', id: l },
      { op_id: 3, op: 'PATCH', type: 'todos', id: todo, data: { description: 'taken' } },
      listPut(4, l, 'u2'),
      // A row that does not exist at all stays a no-op.
      { op_id: 5, op: 'PATCH', type: 'lists', id: randomUUID(), data: { name: 'ghost' } },
    ]);
    expect(body.rejected.map((r: any) => [r.op_id, r.code])).toEqual([[1, 'forbidden'], [2, 'forbidden'], [3, 'forbidden'], [4, 'forbidden']]);
    expect(body.applied).toBe(1);
    expect(await rows()).toEqual(before);
    expect(await sql(db, 'SELECT description FROM todos WHERE id = $1', [todo])).toEqual([{ description: 'd' }]);
  });

  it('writes the ledger and rejections under the server role, which the app role has no grant on', async () => {
    const clientId = randomUUID();
    const { status } = await postBatch(server, tokens.u1!, { client_id: clientId, batch: [listPut(1, randomUUID(), 'u2')] });
    expect(status).toBe(200);
    expect(await sql(db, 'SELECT code FROM writepath_rejections WHERE client_id = $1', [clientId])).toEqual([{ code: 'forbidden' }]);
    expect(await sql(db, `SELECT has_table_privilege('${ROLE}', 'writepath_ledger', 'SELECT') AS granted`)).toEqual([{ granted: false }]);
  });

  it('leaks neither the role nor the claims into the next use of a pooled connection', async () => {
    const config = configSchema.parse({
      database: { url: db },
      server: { port: 0 },
      auth: { jwt: { secret: TEST_SECRET }, postgres_role: ROLE },
      tables: { lists: {}, todos: {} },
    });
    const running = await startServer(config);
    try {
      const token = tokens.u1!;
      const [{ serverRole }] = await sql(db, 'SELECT current_user AS "serverRole"');
      for (let i = 0; i < 12; i++) {
        const { status } = await postBatch({ url: running.url }, token, { client_id: randomUUID(), batch: [listPut(1, randomUUID(), 'u1')] });
        expect(status).toBe(200);
      }
      // Every idle connection of the pool, checked one after another while all are held.
      const held: pg.PoolClient[] = [];
      try {
        const { pool } = running.store as PgStore;
        for (let i = 0; i < pool.totalCount; i++) held.push(await pool.connect());
        for (const client of held) {
          const { rows: [state] } = await client.query(
            `SELECT current_user AS role, coalesce(current_setting('request.jwt.claims', true), '') AS claims,
                    coalesce(current_setting('request.jwt.claim.sub', true), '') AS sub`,
          );
          expect(state).toEqual({ role: serverRole, claims: '', sub: '' });
        }
      } finally {
        for (const client of held) client.release();
      }
    } finally {
      await running.close();
    }
  });

  it('stops the start when the role lacks a grant on a configured table', async () => {
    const other = await createTestDatabase();
    await sql(other, exampleSchemaSql);
    const role = `${ROLE}_partial`;
    await sql(other, `CREATE ROLE ${role} NOLOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON lists TO ${role}; GRANT SELECT, INSERT ON todos TO ${role};`);
    const config = configSchema.parse({
      database: { url: other },
      server: { port: 0 },
      auth: { jwt: { secret: TEST_SECRET }, postgres_role: role },
      tables: { lists: {}, todos: {} },
    });
    const error = await startServer(config).then(
      (s) => s.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StartupError);
    expect((error as StartupError).problems).toEqual([`tables.todos: role ${role} lacks UPDATE, DELETE on public.todos`]);
    await sql(other, `DROP OWNED BY ${role}; DROP ROLE ${role}`);
  });
});

afterAll(async () => {
  await sql(db, `DROP OWNED BY ${ROLE}; DROP ROLE ${ROLE}`).catch(() => {});
});

describe('RLS mode under a temporary failure', () => {
  it('answers 503, not 500, when a statement under the role fails with a serialization failure', async () => {
    await sql(
      db,
      `CREATE TABLE IF NOT EXISTS flaky (id uuid PRIMARY KEY, note text);
       GRANT SELECT, INSERT, UPDATE, DELETE ON flaky TO ${ROLE};
       CREATE OR REPLACE FUNCTION always_conflict() RETURNS trigger AS $$
         BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '40001'; END $$ LANGUAGE plpgsql;
       DROP TRIGGER IF EXISTS conflict ON flaky;
       CREATE TRIGGER conflict BEFORE INSERT ON flaky FOR EACH ROW EXECUTE FUNCTION always_conflict();`,
    );
    const flaky = await startTestServer({ databaseUrl: db, config: { auth: { jwt: { secret: TEST_SECRET }, postgres_role: ROLE }, tables: { flaky: {} } } });
    try {
      const clientId = randomUUID();
      const answer = await postBatch(flaky, await flaky.token('u1'), { client_id: clientId, batch: [{ op_id: 1, op: 'PUT', type: 'flaky', id: randomUUID(), data: { note: 'x' } }] });
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('write_conflict');
      expect(answer.headers.get('retry-after')).not.toBeNull();
      expect(await sql(db, 'SELECT 1 FROM writepath_ledger WHERE client_id = $1', [clientId])).toEqual([]);
    } finally {
      await flaky.close();
    }
  });
});
