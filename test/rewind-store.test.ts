/**
 * Rewind detection in the engine on the Postgres Store, without HTTP: the onRewind event,
 * the retention of digests, and a database made by a version that kept none.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../src/auth/authenticate.ts';
import { configSchema } from '../src/config/schema.ts';
import { processBatch, type RewindEvent } from '../src/core/process-batch.ts';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { PgStore } from '../src/postgres/pg-store.ts';
import type { BatchRequest } from '../src/protocol/wire.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { buildApp } from '../src/server/app.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { signTestToken, TEST_SECRET } from './support/server.ts';

const rules = new TableRules(configSchema.parse({ tables: { lists: {} } }).tables);
const auth = { userId: 'u1', claims: {} };

let url: string;
let store: PgStore;
const events: RewindEvent[] = [];

beforeAll(async () => {
  url = await createTestDatabase();
  await sql(url, exampleSchemaSql);
  store = await PgStore.open({ url, digestRetention: 10 });
});
afterAll(() => store?.close());

function request(clientId: string, label: string, opIds: number[]): BatchRequest {
  return {
    clientId,
    entries: opIds.map((opId) => ({
      opId,
      txId: opId,
      fields: { op_id: opId, tx_id: opId, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: `${label} ${opId}` } },
    })),
  };
}

const run = (target: PgStore, batch: BatchRequest) => processBatch({ store: target, rules, onRewind: (event) => events.push(event) }, batch, auth);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('rewind detection on the Postgres store', () => {
  it('reports the rewound op_ids to onRewind after the commit, and nothing for a retry', async () => {
    const clientId = randomUUID();
    const first = request(clientId, 'first', [1, 2, 3, 4]);
    await run(store, first);
    await run(store, first);
    expect(events.filter((e) => e.clientId === clientId)).toEqual([]);
    const response = await run(store, { clientId, entries: [first.entries[0]!, ...request(clientId, 'second', [2, 4, 5]).entries] });
    expect(response).toEqual({ client_id: clientId, last_op_id: 5, applied: 3, duplicates: 1, skipped: 0, rejected: [] });
    expect(events.filter((e) => e.clientId === clientId)).toEqual([{ userId: 'u1', clientId, opIds: [2, 4] }]);
  });

  it('forgets digests past the retention: older rewound entries are duplicates, newer ones applied', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    for (let first = 1; first <= 21; first += 5) await run(store, request(clientId, tag, range(first, first + 4)));
    // Ledger 25, retention 10: the rows ending at 5, 10 and 15 are gone.
    const rows = await sql(url, 'SELECT first_op_id::int FROM writepath_digests WHERE client_id = $1 ORDER BY first_op_id', [clientId]);
    expect(rows).toEqual([{ first_op_id: 16 }, { first_op_id: 21 }]);

    const response = await run(store, request(clientId, `${tag} restored`, [14, 15, 16, 17]));
    expect(response).toMatchObject({ last_op_id: 25, applied: 2, duplicates: 2 });
    const names = await sql(url, 'SELECT name FROM lists WHERE name LIKE $1 ORDER BY name', [`${tag} restored%`]);
    expect(names.map((r) => r.name)).toEqual([`${tag} restored 16`, `${tag} restored 17`]);
  });

  it('takes entries past the retention for duplicates even where a row spanning it still holds their digests', async () => {
    const clientId = randomUUID();
    const tag = randomUUID();
    await run(store, request(clientId, tag, range(1, 19)));
    await run(store, request(clientId, tag, range(20, 25)));
    // Ledger 25, retention 10: the row 1..19 spans the horizon (15) and is kept.
    // The same ids every time: a retry sends the same body.
    const ids = new Map(range(14, 17).map((opId) => [opId, randomUUID()]));
    const restored = (opIds: number[]): BatchRequest => {
      const batch = request(clientId, `${tag} restored`, opIds);
      return { ...batch, entries: batch.entries.map((e) => ({ ...e, fields: { ...e.fields, id: ids.get(e.opId) } })) };
    };
    // 14 and 15 are past it: duplicates, though the row still holds other digests for them.
    expect(await run(store, restored([14, 15]))).toMatchObject({ applied: 0, duplicates: 2 });
    // 16 and 17 are within it: rewound and applied once; their retry is a duplicate.
    expect(await run(store, restored([16, 17]))).toMatchObject({ applied: 2, duplicates: 0 });
    expect(await run(store, restored([16, 17]))).toMatchObject({ applied: 0, duplicates: 2 });
    expect(await sql(url, 'SELECT count(*)::int AS n FROM lists WHERE name LIKE $1', [`${tag} restored%`])).toEqual([{ n: 2 }]);
  });
});

/** The server's tables as the version before digests made them, with a client's ledger at 7. */
const PREVIOUS_VERSION_TABLES = `
  CREATE TABLE writepath_ledger (user_id text NOT NULL, client_id text NOT NULL, last_op_id bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (user_id, client_id));
  CREATE TABLE writepath_rejections (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id text NOT NULL,
    client_id text NOT NULL, op_id bigint NOT NULL, tx_id bigint, op text, type text, row_id text, data jsonb,
    old jsonb, metadata text, code text NOT NULL, column_name text, message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
  CREATE INDEX writepath_rejections_user_id ON writepath_rejections (user_id);
  INSERT INTO writepath_ledger (user_id, client_id, last_op_id) VALUES ('u1', 'c-old', 7);`;

describe('the server plugin', () => {
  it('hands every rewind to its onRewind option (where a metric is counted) after the commit', async () => {
    const config = configSchema.parse({ database: { url }, auth: { jwt: { secret: TEST_SECRET } }, tables: { lists: {} } });
    const told: RewindEvent[] = [];
    const app = buildApp({ config, store, rules, authenticate: createAuthenticator(config.auth), onRewind: (event) => told.push(event) });
    const authorization = `Bearer ${await signTestToken('u1')}`;
    const post = async (batch: BatchRequest) => {
      const payload = { client_id: batch.clientId, batch: batch.entries.map((e) => e.fields) };
      const response = await app.inject({ method: 'POST', url: '/api/data', headers: { authorization }, payload });
      return response.json();
    };
    const clientId = randomUUID();
    try {
      await post(request(clientId, 'plugin', [1, 2, 3]));
      expect(await post(request(clientId, 'plugin again', [2, 3]))).toMatchObject({ applied: 2, duplicates: 0 });
      expect(told).toEqual([{ userId: 'u1', clientId, opIds: [2, 3] }]);
    } finally {
      await app.close();
    }
  });
});

describe('a database made by a version without digests', () => {
  it('gets the digests table at start; entries below the ledger it left are duplicates', async () => {
    const old = await createTestDatabase();
    await sql(old, exampleSchemaSql + PREVIOUS_VERSION_TABLES);
    const upgraded = await PgStore.open({ url: old });
    try {
      const response = await run(upgraded, request('c-old', 'upgraded', [5, 6, 7, 8, 9]));
      expect(response).toMatchObject({ last_op_id: 9, applied: 2, duplicates: 3 });
      const rows = await sql(old, `SELECT first_op_id::int, last_op_id::int FROM writepath_digests WHERE client_id = 'c-old'`);
      expect(rows).toEqual([{ first_op_id: 8, last_op_id: 9 }]);
    } finally {
      await upgraded.close();
    }
    // Opening it again changes nothing (the DDL is idempotent).
    await (await PgStore.open({ url: old })).close();
  });

  it('says what to do when the tables came from a migration and the role may not create the new one', async () => {
    const migrated = await createTestDatabase();
    const role = `wp_no_create_${randomUUID().slice(0, 8)}`;
    await sql(migrated, `${exampleSchemaSql}${PREVIOUS_VERSION_TABLES}
      CREATE ROLE ${role} LOGIN PASSWORD 'pw';
      GRANT USAGE ON SCHEMA public TO ${role};
      GRANT SELECT, INSERT, UPDATE ON writepath_ledger, writepath_rejections TO ${role};
      REVOKE CREATE ON SCHEMA public FROM PUBLIC;`);
    const limited = new URL(migrated);
    limited.username = role;
    limited.password = 'pw';
    try {
      await expect(PgStore.open({ url: limited.toString() })).rejects.toThrow(/writepath_digests.*create them by migration/);
    } finally {
      await sql(migrated, `DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});
