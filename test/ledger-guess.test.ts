/**
 * A client seen before has its ledger guessed, not read, and a small clean batch goes to
 * Postgres in one round trip. A wrong guess, or a held-back statement that fails, must
 * cost a second run and nothing else: no entry applied twice, none lost, rejections exact.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config/schema.ts';
import { processBatch, type EngineOptions } from '../src/core/process-batch.ts';
import { PgStore } from '../src/postgres/pg-store.ts';
import type { BatchRequest } from '../src/protocol/wire.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { sqlSent } from './support/sql-sent.ts';

let db: string;
let store: PgStore;
/** A second instance on the same database, which moves ledgers behind the first one's back. */
let other: PgStore;

beforeAll(async () => {
  db = await createTestDatabase('guess');
  await sql(
    db,
    `CREATE TABLE notes (id text PRIMARY KEY, body text CHECK (body <> 'bad'));
     -- Counts every write, to tell an entry applied once from one applied twice.
     CREATE TABLE writes (n int NOT NULL);
     INSERT INTO writes VALUES (0);
     CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN UPDATE writes SET n = n + 1; RETURN NEW; END $$;
     CREATE TABLE counted (id text PRIMARY KEY, body text);
     CREATE TRIGGER counted_writes AFTER INSERT OR UPDATE ON counted FOR EACH ROW EXECUTE FUNCTION count_write();`,
  );
  // One connection: the statements of consecutive batches are seen on the same session.
  store = await PgStore.open({ url: db, poolSize: 1 });
  other = await PgStore.open({ url: db, poolSize: 1 });
});
afterAll(async () => {
  await store?.close();
  await other?.close();
});

const rules = new TableRules(configSchema.parse({ tables: { notes: {}, counted: {} } }).tables);
const on = (s: PgStore): EngineOptions => ({ store: s, rules });
const as = { userId: 'u1', claims: {} };

/** Entries from `firstOpId`, each its own client transaction. */
function request(clientId: string, firstOpId: number, entries: Array<Record<string, unknown>>): BatchRequest {
  return { clientId, entries: entries.map((fields, i) => ({ opId: firstOpId + i, txId: firstOpId + i, fields })) };
}
const note = (id: string, body: string) => ({ op: 'PUT', type: 'notes', id, data: { body } });
const ledger = async (clientId: string) =>
  (await sql(db, 'SELECT last_op_id::int AS n FROM writepath_ledger WHERE client_id = $1', [clientId]))[0]?.n as number | undefined;


describe('a client seen before', () => {
  it('sends a small clean batch in one round trip', async () => {
    const client = randomUUID();
    const first = await sqlSent(() => processBatch(on(store), request(client, 1, [note(randomUUID(), 'a'), note(randomUUID(), 'b')]), as));
    expect(first.filter((t) => !t.startsWith('PREPARE')).length).toBeGreaterThan(1);
    // The first guess on the connection prepares its statements; from then on, one round trip.
    await processBatch(on(store), request(client, 3, [note(randomUUID(), 'c')]), as);
    const id = randomUUID();
    const third = await sqlSent(() => processBatch(on(store), request(client, 4, [note(id, 'd'), note(randomUUID(), 'e')]), as));
    expect(third).toHaveLength(1);
    expect(third[0]).toMatch(/^BEGIN;[\s\S]*COMMIT$/);
    expect(await sql(db, 'SELECT body FROM notes WHERE id = $1', [id])).toEqual([{ body: 'd' }]);
    expect(await ledger(client)).toBe(5);
  });

  // `counted` has a trigger, so its writes take the exact path and the guess is checked
  // before them; `notes` writes are held back, and the guess is checked as the ledger moves.
  it.each(['counted', 'notes'])(
    'processes against the real ledger when another instance moved it: what that one applied counts as duplicates (%s)',
    async (type) => {
      const client = randomUUID();
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const before = (await sql(db, 'SELECT n FROM writes'))[0].n as number;
      await processBatch(on(store), request(client, 1, [{ op: 'PUT', type, id: a, data: { body: 'a' } }]), as);
      // The other instance takes the client's next batch (a load balancer moved it), then the
      // client retries it here along with a new entry: this instance still guesses 1.
      const retried = [
        { op: 'PUT', type, id: b, data: { body: 'b' } },
        { op: 'PUT', type, id: c, data: { body: 'c' } },
      ];
      await processBatch(on(other), request(client, 2, retried.slice(0, 1)), as);
      const result = await processBatch(on(store), request(client, 2, retried), as);
      expect(result).toMatchObject({ applied: 1, duplicates: 1, last_op_id: 3, rejected: [] });
      if (type === 'counted') expect((await sql(db, 'SELECT n FROM writes'))[0].n - before).toBe(3);
      expect(await ledger(client)).toBe(3);
    },
  );

  it('records the ledger again when its row was deleted since (an operator reset it)', async () => {
    const client = randomUUID();
    await processBatch(on(store), request(client, 1, [note(randomUUID(), 'a')]), as);
    await sql(db, 'DELETE FROM writepath_ledger WHERE client_id = $1', [client]);
    const id = randomUUID();
    const result = await processBatch(on(store), request(client, 2, [note(id, 'b')]), as);
    expect(result).toMatchObject({ applied: 1, duplicates: 0, last_op_id: 2 });
    expect(await ledger(client)).toBe(2);
    // And the guess is right again afterwards.
    await processBatch(on(store), request(client, 3, [note(randomUUID(), 'c')]), as);
    expect(await sqlSent(() => processBatch(on(store), request(client, 4, [note(randomUUID(), 'd')]), as))).toHaveLength(1);
    expect(await ledger(client)).toBe(4);
  });

  it('rejects exactly the guilty transaction of a held-back batch that fails, and applies the rest', async () => {
    const client = randomUUID();
    await processBatch(on(store), request(client, 1, [note(randomUUID(), 'a')]), as);
    const [good, bad, after] = [randomUUID(), randomUUID(), randomUUID()];
    const result = await processBatch(on(store), request(client, 2, [note(good, 'fine'), note(bad, 'bad'), note(after, 'fine too')]), as);
    expect(result.applied).toBe(2);
    expect(result.rejected.map((r) => [r.op_id, r.code])).toEqual([[3, 'constraint_violation']]);
    expect((await sql(db, 'SELECT id FROM notes WHERE id = ANY ($1) ORDER BY body', [[good, bad, after]])).map((r) => r.id)).toEqual([good, after]);
    expect(await ledger(client)).toBe(4);
  });

  it('applies each entry once when two uploads of the client overlap in time', async () => {
    const client = randomUUID();
    const two = await PgStore.open({ url: db, poolSize: 2 });
    try {
      // Both connections open first, so that neither upload waits for one and both guess.
      await Promise.all([randomUUID(), randomUUID()].map((c) => processBatch(on(two), request(c, 1, [note(randomUUID(), 'a')]), as)));
      await processBatch(on(two), request(client, 1, [note(randomUUID(), 'a')]), as);
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      const entries = ids.map((id) => ({ op: 'PUT', type: 'counted', id, data: { body: id } }));
      const before = (await sql(db, 'SELECT n FROM writes'))[0].n as number;
      const results = await Promise.all([processBatch(on(two), request(client, 2, entries.slice(0, 2)), as), processBatch(on(two), request(client, 2, entries), as)]);
      expect(results.reduce((n, r) => n + r.applied, 0)).toBe(3);
      expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(2);
      expect((await sql(db, 'SELECT n FROM writes'))[0].n - before).toBe(3);
      expect(await ledger(client)).toBe(4);
    } finally {
      await two.close();
    }
  });
});
