/**
 * The fast path over HTTP, where the property test does not go: text that could be read as
 * SQL or as a replacement pattern, batches large enough to run statement by statement,
 * rejections found by bisecting them, and a table that must go entry by entry in between.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from './support/pg.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
let db: string;
let token: string;

beforeAll(async () => {
  server = await startTestServer({
    schemaSql: `CREATE TABLE notes (id uuid PRIMARY KEY, title text NOT NULL, body text, tags text[], meta jsonb, span interval, n int CHECK (n >= 0));
     CREATE TABLE audited (id uuid PRIMARY KEY, label text);
     CREATE TABLE audit_log (at timestamptz DEFAULT now(), label text);
     CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit_log (label) VALUES (NEW.label); RETURN NEW; END $$;
     CREATE TRIGGER audited_log AFTER INSERT OR UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION audit();`,
    config: { tables: { notes: {}, audited: {} } },
  });
  db = server.databaseUrl;
  token = await server.token('u1');
});
afterAll(() => server?.close());

const post = (batch: unknown[]) => postBatch(server, token, { client_id: randomUUID(), batch });
const AWKWARD = `it's $& and $' and $\` and $$1 \\ "quoted" \\u0041 ; DROP TABLE notes; -- \t\n end`;

describe('the fast path', () => {
  it('stores text exactly, whether the plan runs as one script or statement by statement', async () => {
    for (const size of [3, 2_500]) {
      const ids = Array.from({ length: size }, () => randomUUID());
      const batch = ids.map((id, i) => ({
        op_id: i + 1,
        tx_id: i + 1,
        op: 'PUT',
        type: 'notes',
        id,
        data: { title: `${AWKWARD} ${i}`, tags: JSON.stringify([AWKWARD, '{', '}', 'NULL', '']), meta: JSON.stringify({ k: AWKWARD }) },
      }));
      const { status, body } = await post(batch);
      expect(status).toBe(200);
      expect(body).toMatchObject({ applied: size, rejected: [] });
      const rows = await sql(db, 'SELECT title, tags, meta FROM notes WHERE id = ANY($1::uuid[]) ORDER BY title', [[ids[0], ids[size - 1]]]);
      expect(rows[0]).toEqual({ title: `${AWKWARD} 0`, tags: [AWKWARD, '{', '}', 'NULL', ''], meta: { k: AWKWARD } });
    }
  });

  it('finds the guilty transactions of a large batch and rejects them as the exact path would', async () => {
    const ids = Array.from({ length: 3_000 }, () => randomUUID());
    const batch: any[] = ids.map((id, i) => ({ op_id: i + 1, tx_id: Math.floor(i / 2) + 1, op: 'PUT', type: 'notes', id, data: { title: `t${i}` } }));
    // A CHECK the codecs cannot see, a bad interval, and a NOT NULL set back to null later in the batch.
    batch[101]!.data.n = -1;
    batch[1_700]!.data.span = '3 fortnights';
    batch.push({ op_id: 3_001, tx_id: 9_000, op: 'PATCH', type: 'notes', id: ids[2_000], data: { title: null } });
    const { body } = await post(batch);
    expect(body.applied).toBe(3_001 - 5);
    expect(body.rejected.map((r: any) => [r.op_id, r.code, r.cause_op_id ?? null])).toEqual([
      [101, 'transaction_rejected', 102],
      [102, 'constraint_violation', null],
      [1_701, 'invalid_value', null],
      [1_702, 'transaction_rejected', 1_701],
      [3_001, 'constraint_violation', null],
    ]);
    expect(body.rejected[1].message).toMatch(/notes_n_check/);
    expect(body.rejected[2].message).toMatch(/invalid input syntax for type interval/);
    expect(body.rejected[4]).toMatchObject({ column: 'title', message: expect.stringMatching(/null value in column "title"/) });
    const [{ count }] = await sql(db, 'SELECT count(*)::int AS count FROM notes WHERE id = ANY($1::uuid[])', [ids]);
    expect(count).toBe(3_000 - 4);
  });

  it('applies a table with triggers entry by entry, in op order with the entries around it', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const batch = [
      { op_id: 1, tx_id: 1, op: 'PUT', type: 'notes', id: a, data: { title: 'before' } },
      { op_id: 2, tx_id: 2, op: 'PUT', type: 'audited', id: b, data: { label: 'one' } },
      { op_id: 3, tx_id: 3, op: 'PATCH', type: 'audited', id: b, data: { label: 'two' } },
      { op_id: 4, tx_id: 4, op: 'PATCH', type: 'notes', id: a, data: { title: 'after' } },
    ];
    const { body } = await post(batch);
    expect(body).toMatchObject({ applied: 4, rejected: [] });
    // Entry by entry, the trigger saw both labels; a fold would have shown it only the last.
    expect((await sql(db, 'SELECT label FROM audit_log ORDER BY at, label')).map((r) => r.label)).toEqual(['one', 'two']);
    expect(await sql(db, 'SELECT title FROM notes WHERE id = $1', [a])).toEqual([{ title: 'after' }]);
  });
});
