import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let db: string;
let token: string;

beforeAll(async () => {
  server = await startTestServer({
    schemaSql: `CREATE TABLE docs_v (id uuid PRIMARY KEY, title text, body text, done boolean, version int NOT NULL DEFAULT 1);
     CREATE TABLE docs_s (id uuid PRIMARY KEY, title text, version int NOT NULL DEFAULT 1);
     CREATE TABLE docs_t (id uuid PRIMARY KEY, title text, updated_at timestamptz);
     CREATE TABLE docs_f (id uuid PRIMARY KEY, title text, body text, field_timestamps jsonb);
     CREATE TABLE docs_p (id uuid PRIMARY KEY, title text, body text, tags jsonb);
     CREATE TABLE soft (id uuid PRIMARY KEY, title text, deleted_at timestamptz);
     CREATE TABLE validated (id uuid PRIMARY KEY, title text, qty int);`,
    config: {
      tables: {
        docs_v: { conflict: { strategy: 'version', column: 'version' } },
        docs_s: { conflict: { strategy: 'version', column: 'version', on_conflict: 'skip' } },
        docs_t: { conflict: { strategy: 'timestamp', column: 'updated_at' } },
        docs_f: { conflict: { strategy: 'field_timestamps' } },
        docs_p: { conflict: { strategy: 'previous_values' } },
        soft: { soft_delete: { column: 'deleted_at' } },
        validated: {
          json_schema: {
            type: 'object',
            properties: { title: { type: 'string', minLength: 3 }, qty: { type: 'integer', minimum: 0 } },
            required: ['title'],
          },
        },
      },
    },
  });
  db = server.databaseUrl;
  token = await server.token('u1');
});
afterAll(() => server?.close());

let opId = 0;
/** One entry per call, each its own client transaction unless a tx_id is given. */
function entry(op: 'PUT' | 'PATCH' | 'DELETE', type: string, id: string, fields: { data?: object; old?: object; metadata?: string; tx_id?: number } = {}) {
  return { op_id: ++opId, op, type, id, ...fields };
}
const post = (...batch: unknown[]) => postBatch(server, token, { client_id: randomUUID(), batch });
const row = async (table: string, id: string) => (await sql(db, `SELECT * FROM ${table} WHERE id = $1`, [id]))[0];

describe('version', () => {
  it('bumps the counter on every write and refuses a PATCH or DELETE based on another version', async () => {
    const id = randomUUID();
    const put = await post(entry('PUT', 'docs_v', id, { data: { title: 'a', done: 0, version: 99 } }));
    expect(put.body.applied).toBe(1);
    expect(await row('docs_v', id)).toMatchObject({ title: 'a', version: 1 });

    const fresh = await post(entry('PATCH', 'docs_v', id, { data: { title: 'b' }, old: { title: 'a', version: 1 } }));
    expect(fresh.body).toMatchObject({ applied: 1, rejected: [] });
    expect(await row('docs_v', id)).toMatchObject({ title: 'b', version: 2 });

    // A second device still at version 1: its whole transaction loses.
    const other = randomUUID();
    const stale = await post(
      entry('PUT', 'docs_v', other, { data: { title: 'same tx' }, tx_id: 7 }),
      entry('PATCH', 'docs_v', id, { data: { title: 'stale', version: 1 }, tx_id: 7 }),
    );
    expect(stale.body.applied).toBe(0);
    expect(stale.body.rejected.map((r: any) => r.code)).toEqual(['transaction_rejected', 'conflict']);
    expect(stale.body.rejected[1].current).toEqual({ id, title: 'b', body: null, done: 0, version: 2 });
    expect(await row('docs_v', other)).toBeUndefined();

    const noBase = await post(entry('PATCH', 'docs_v', id, { data: { body: 'no base: last write wins' } }));
    expect(noBase.body.applied).toBe(1);
    expect(await row('docs_v', id)).toMatchObject({ title: 'b', body: 'no base: last write wins', version: 3 });

    const staleDelete = await post(entry('DELETE', 'docs_v', id, { old: { version: 2 } }));
    expect(staleDelete.body.rejected).toMatchObject([{ code: 'conflict', current: { version: 3 } }]);
    const blindDelete = await post(entry('DELETE', 'docs_v', id));
    expect(blindDelete.body.applied).toBe(1);
    expect(await row('docs_v', id)).toBeUndefined();
  });

  it('with on_conflict: skip drops the losing transaction, counts it as skipped and stores it', async () => {
    const id = randomUUID();
    await post(entry('PUT', 'docs_s', id, { data: { title: 'a' } }), entry('PATCH', 'docs_s', id, { data: { title: 'b' }, old: { version: 1 } }));
    const clientId = randomUUID();
    const { body } = await postBatch(server, token, { client_id: clientId, batch: [entry('PATCH', 'docs_s', id, { data: { title: 'late' }, old: { version: 1 } })] });
    expect(body).toMatchObject({ applied: 0, skipped: 1, rejected: [] });
    expect(await row('docs_s', id)).toMatchObject({ title: 'b', version: 2 });
    expect(await sql(db, 'SELECT code FROM writepath_rejections WHERE client_id = $1', [clientId])).toEqual([{ code: 'conflict' }]);
  });
});

describe('timestamp', () => {
  it('refuses a write older than the stored time, and a DELETE whose old time is older', async () => {
    const id = randomUUID();
    await post(entry('PUT', 'docs_t', id, { data: { title: 'ten', updated_at: '2026-01-01T10:00:00Z' } }));
    const older = await post(entry('PATCH', 'docs_t', id, { data: { title: 'nine', updated_at: '2026-01-01 09:00:00' } }));
    expect(older.body.rejected).toMatchObject([{ code: 'conflict', current: { title: 'ten' } }]);
    const newer = await post(entry('PATCH', 'docs_t', id, { data: { title: 'eleven', updated_at: '2026-01-01T12:00:00+01:00' } }));
    expect(newer.body.applied).toBe(1);
    const oldDelete = await post(entry('DELETE', 'docs_t', id, { old: { updated_at: '2026-01-01T10:30:00Z' } }));
    expect(oldDelete.body.rejected).toMatchObject([{ code: 'conflict' }]);
    expect(await row('docs_t', id)).toMatchObject({ title: 'eleven' });
    expect((await post(entry('DELETE', 'docs_t', id))).body.applied).toBe(1);
    expect(await row('docs_t', id)).toBeUndefined();
  });
});

describe('field_timestamps', () => {
  it('keeps the later write per field, drops the losing fields and applies the rest', async () => {
    const id = randomUUID();
    const times = (t: Record<string, string>) => JSON.stringify({ field_timestamps: t });
    await post(entry('PUT', 'docs_f', id, { data: { title: 't2', body: 'b2' }, metadata: times({ title: '2026-01-02T00:00:00Z', body: '2026-01-02T00:00:00Z' }) }));
    const { body } = await post(
      entry('PATCH', 'docs_f', id, { data: { title: 't1', body: 'b3' }, metadata: times({ title: '2026-01-01T00:00:00Z', body: '2026-01-03T00:00:00Z' }) }),
    );
    expect(body).toMatchObject({ applied: 1, rejected: [] });
    const stored = await row('docs_f', id);
    expect(stored).toMatchObject({ title: 't2', body: 'b3' });
    expect(stored.field_timestamps).toEqual({ title: '2026-01-02T00:00:00Z', body: '2026-01-03T00:00:00Z' });
  });
});

describe('previous_values', () => {
  it('refuses a write when a column it changes no longer holds what the client saw', async () => {
    const id = randomUUID();
    await post(entry('PUT', 'docs_p', id, { data: { title: 'a', body: 'b', tags: '["x"]' } }));
    expect((await post(entry('PATCH', 'docs_p', id, { data: { title: 'c' }, old: { title: 'a' } }))).body.applied).toBe(1);
    const lost = await post(entry('PATCH', 'docs_p', id, { data: { title: 'd' }, old: { title: 'a' } }));
    expect(lost.body.rejected).toMatchObject([{ code: 'conflict', current: { id, title: 'c', body: 'b', tags: '["x"]' } }]);
    // The title the client saw is stale, but this write does not change the title.
    expect((await post(entry('PATCH', 'docs_p', id, { data: { body: 'e' }, old: { title: 'a', body: 'b' } }))).body.applied).toBe(1);
    expect((await post(entry('PATCH', 'docs_p', id, { data: { tags: '["y"]' }, old: { tags: '["x"]' } }))).body.applied).toBe(1);
    expect(await row('docs_p', id)).toMatchObject({ title: 'c', body: 'e', tags: ['y'] });
  });
});

describe('soft deletes and validation', () => {
  it('marks the row instead of removing it', async () => {
    const id = randomUUID();
    await post(entry('PUT', 'soft', id, { data: { title: 'kept' } }));
    expect((await post(entry('DELETE', 'soft', id))).body.applied).toBe(1);
    const stored = await row('soft', id);
    expect(stored.title).toBe('kept');
    expect(stored.deleted_at).toBeInstanceOf(Date);
  });

  it('rejects data the json_schema refuses as validation_failed with every message; a PATCH is checked without required', async () => {
    const id = randomUUID();
    const bad = await post(entry('PUT', 'validated', id, { data: { title: 'ab', qty: -1 } }), entry('PUT', 'validated', randomUUID(), { data: { qty: 1 } }));
    expect(bad.body.rejected.map((r: any) => r.code)).toEqual(['validation_failed', 'validation_failed']);
    expect(bad.body.rejected[0].message).toMatch(/title must NOT have fewer than 3 characters.*qty must be >= 0/);
    expect(bad.body.rejected[1].message).toMatch(/must have required property 'title'/);
    await post(entry('PUT', 'validated', id, { data: { title: 'abc', qty: 1 } }));
    expect((await post(entry('PATCH', 'validated', id, { data: { qty: 5 } }))).body.applied).toBe(1);
    expect(await row('validated', id)).toMatchObject({ title: 'abc', qty: 5 });
  });
});
