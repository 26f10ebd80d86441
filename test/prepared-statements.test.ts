/**
 * The fast path prepares its statements once per connection and runs them by EXECUTE.
 * A prepared plan must follow the table when it changes, the names a connection keeps are
 * bounded, and `preparedStatements: false` (a pooler in transaction mode) sends none.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { processBatch, type EngineOptions } from '../src/core/process-batch.ts';
import { PgStore } from '../src/postgres/pg-store.ts';
import { executable, MAX_PREPARED_PER_CONNECTION, writtenOut } from '../src/postgres/prepared-statements.ts';
import { dollarQuoted } from '../src/postgres/sql.ts';
import type { BatchRequest } from '../src/protocol/wire.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { sqlSent } from './support/sql-sent.ts';

let db: string;

beforeAll(async () => {
  db = await createTestDatabase('prepared');
  await sql(db, `CREATE TABLE notes (id text PRIMARY KEY, body text, size int)`);
});

const rules = new TableRules(configSchema.parse({ tables: { notes: {} } }).tables);
const as = { userId: 'u1', claims: {} };
const request = (entries: Array<Record<string, unknown>>): BatchRequest => ({
  clientId: randomUUID(),
  entries: entries.map((fields, i) => ({ opId: i + 1, txId: i + 1, fields })),
});


describe('prepared statements', () => {
  let store: PgStore;
  beforeAll(async () => {
    // One connection: what the batches prepared is what that session holds.
    store = await PgStore.open({ url: db, poolSize: 1 });
  });
  afterAll(async () => store?.close());
  const engine = (): EngineOptions => ({ store, rules });

  it('prepares a statement the first time and executes it after', async () => {
    const first = await sqlSent(() => processBatch(engine(), request([{ op: 'PUT', type: 'notes', id: randomUUID(), data: { body: 'a' } }]), as));
    const second = await sqlSent(() => processBatch(engine(), request([{ op: 'PUT', type: 'notes', id: randomUUID(), data: { body: 'b' } }]), as));
    const merges = (texts: string[]) => texts.filter((t) => /^PREPARE .* AS MERGE/s.test(t));
    expect(merges(first)).toHaveLength(1);
    expect(merges(second)).toEqual([]);
    expect(second.join('\n')).toMatch(/EXECUTE "writepath_[0-9a-f]+_\d+"/);
    expect(second.join('\n')).not.toMatch(/MERGE/);
  });

  it('follows a column retyped after the statement was prepared, before the server reads the schema again', async () => {
    const id = randomUUID();
    const patch = (data: Record<string, unknown>) => request([{ op: 'PATCH', type: 'notes', id, data }]);
    await processBatch(engine(), request([{ op: 'PUT', type: 'notes', id, data: { body: 'short', size: 1 } }]), as);
    // The shape the batch below has, prepared before the change.
    await processBatch(engine(), patch({ body: 'short', size: 1 }), as);
    await sql(db, 'ALTER TABLE notes ALTER COLUMN body TYPE varchar(8)');
    try {
      let result!: Awaited<ReturnType<typeof processBatch>>;
      const texts = await sqlSent(async () => (result = await processBatch(engine(), patch({ body: 'far too long for it', size: 2 }), as)));
      expect(texts.filter((t) => /^PREPARE .* AS MERGE/s.test(t))).toEqual([]);
      // Postgres names no column for a value too long; the message says what was wrong.
      expect(result.rejected.map((r) => [r.op_id, r.code])).toEqual([[1, 'invalid_value']]);
      expect(result.rejected[0]!.message).toMatch(/too long/);
      expect(await sql(db, 'SELECT body, size FROM notes WHERE id = $1', [id])).toEqual([{ body: 'short', size: 1 }]);
    } finally {
      await sql(db, 'ALTER TABLE notes ALTER COLUMN body TYPE text');
      await store.refreshSchema();
    }
  });
});

it(`keeps at most ${MAX_PREPARED_PER_CONNECTION} names on a connection and writes the rest out`, async () => {
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    const statements = Array.from({ length: MAX_PREPARED_PER_CONNECTION + 6 }, (_, i) => ({
      text: `SELECT ($1::jsonb ->> 0)::int + ${i} AS n`,
      types: ['jsonb'],
      args: [dollarQuoted('[100]')],
    }));
    const sqlTexts = await executable(client, statements);
    expect(sqlTexts.filter((t) => t.startsWith('EXECUTE'))).toHaveLength(MAX_PREPARED_PER_CONNECTION);
    const results = (await client.query(sqlTexts.join(';\n'))) as unknown as pg.QueryResult[];
    expect(results.map((r) => r.rows[0].n)).toEqual(statements.map((_, i) => 100 + i));
    expect((await client.query('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0].n).toBe(MAX_PREPARED_PER_CONNECTION);
    // Asked again, the same statements are executed without preparing anything more.
    expect(await executable(client, statements)).toEqual(sqlTexts);
  } finally {
    await client.end();
  }
});

it('prepares nothing when prepared statements are off', async () => {
  const store = await PgStore.open({ url: db, poolSize: 1, fastPath: { preparedStatements: false } });
  try {
    const id = randomUUID();
    const texts = await sqlSent(() => processBatch({ store, rules }, request([{ op: 'PUT', type: 'notes', id, data: { body: 'plain' } }]), as));
    expect(texts.filter((t) => /PREPARE|EXECUTE/.test(t))).toEqual([]);
    expect(await sql(db, 'SELECT body FROM notes WHERE id = $1', [id])).toEqual([{ body: 'plain' }]);
  } finally {
    await store.close();
  }
});

it('writes values in for $n outside quoted identifiers and literals', () => {
  const types = Array.from({ length: 10 }, () => 'int');
  const args = Array.from({ length: 10 }, (_, i) => String(100 + i));
  expect(writtenOut({ text: `SELECT "a$1""$2", 'it''s $3', $1, $2+$10 FROM t`, types, args })).toBe(
    `SELECT "a$1""$2", 'it''s $3', (100)::int, (101)::int+(109)::int FROM t`,
  );
});

it('stops preparing, and loses no batch, when prepared names vanish from a connection (a pooler in transaction mode)', async () => {
  const warnings: string[] = [];
  const store = await PgStore.open({ url: db, poolSize: 1, warn: (message) => warnings.push(message) });
  try {
    const clientId = randomUUID();
    const batch = (opId: number, id: string) => ({ clientId, entries: [{ opId, txId: opId, fields: { op: 'PUT', type: 'notes', id, data: { body: `b${opId}` } } }] });
    await processBatch({ store, rules }, batch(1, randomUUID()), as);
    // What a transaction-mode pooler does between two transactions: another session, without the names.
    await store.pool.query('DEALLOCATE ALL');
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, id] of ids.entries()) {
      const texts = await sqlSent(() => processBatch({ store, rules }, batch(2 + i, id), as));
      if (i > 0) expect(texts.filter((t) => /PREPARE|EXECUTE/.test(t))).toEqual([]);
    }
    expect(await sql(db, 'SELECT body FROM notes WHERE id = ANY ($1) ORDER BY body', [ids])).toEqual([{ body: 'b2' }, { body: 'b3' }, { body: 'b4' }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/database\.prepared_statements: false/);
  } finally {
    await store.close();
  }
});

it('prepares a script\'s new statements in one round trip, and those of a failed one again under new names', async () => {
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    const statement = (text: string) => ({ text, types: ['jsonb'], args: [dollarQuoted('[7]')] });
    const texts = await sqlSent(() => executable(client, [statement('SELECT ($1::jsonb ->> 0)::int AS a'), statement('SELECT ($1::jsonb ->> 0)::int AS b')]));
    expect(texts).toHaveLength(1);
    const third = statement('SELECT ($1::jsonb ->> 0)::int AS c');
    const later = statement('SELECT count(*)::int + ($1::jsonb ->> 0)::int AS n FROM later_table');
    await expect(executable(client, [third, later])).rejects.toThrow(/later_table/);
    await client.query('CREATE TABLE later_table (n int)');
    // `third` was prepared before `later` failed, `later` never was: both are prepared again, under new names.
    const sqlTexts = await executable(client, [third, later]);
    const results = (await client.query(sqlTexts.join(';\n'))) as unknown as pg.QueryResult[];
    expect(results.map((r) => r.rows[0])).toEqual([{ c: 7 }, { n: 7 }]);
    const names = (await client.query('SELECT name FROM pg_prepared_statements')).rows.map((r) => r.name as string);
    // a, b, the first `third` (left over: names are never reused), then `third` and `later`.
    expect(names).toHaveLength(5);
  } finally {
    await client.end();
  }
});

it('stops preparing when a client\'s first batch meets vanished names, one warning for batches on two connections', async () => {
  const warnings: string[] = [];
  const store = await PgStore.open({ url: db, poolSize: 2, warn: (message) => warnings.push(message) });
  try {
    const put = (clientId: string, id: string) => ({ clientId, entries: [{ opId: 1, txId: 1, fields: { op: 'PUT', type: 'notes', id, data: { body: id } } }] });
    // Both connections prepare, then lose their names.
    await Promise.all([randomUUID(), randomUUID()].map((c) => processBatch({ store, rules }, put(c, randomUUID()), as)));
    const connections = await Promise.all([store.pool.connect(), store.pool.connect()]);
    for (const connection of connections) {
      await connection.query('DEALLOCATE ALL');
      connection.release();
    }
    // New clients: no guess, so the careful run itself meets the missing names.
    const ids = [randomUUID(), randomUUID()];
    const results = await Promise.all(ids.map((id) => processBatch({ store, rules }, put(randomUUID(), id), as)));
    expect(results.map((r) => r.applied)).toEqual([1, 1]);
    expect(await sql(db, 'SELECT count(*)::int AS n FROM notes WHERE id = ANY ($1)', [ids])).toEqual([{ n: 2 }]);
    expect(warnings).toHaveLength(1);
  } finally {
    await store.close();
  }
});
