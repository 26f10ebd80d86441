/**
 * What the ledger records of a batch is its content as the client sent it: hooks may
 * change entries (library mode), and a retry is hashed before they run. A fake Store keeps
 * the ledger and the digests (Postgres's are tested in test/rewind*.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { BatchRequest } from '../protocol/wire.ts';
import { TableRules } from '../rules/table-rules.ts';
import { unavailable } from './errors.ts';
import type { Hooks } from './hooks.ts';
import { processBatch } from './process-batch.ts';
import { memoryStore, textTable } from './testing.ts';

const LISTS = textTable('lists', ['name', 'author']);
const rules = new TableRules({ lists: { id_column: 'id', put: 'merge', apply: 'exact', on_unknown_column: 'reject' } });
const auth = { userId: 'u1', claims: {} };

const fakeStore = (failAt?: (attempt: number) => boolean) =>
  memoryStore(LISTS, { failAt, failure: unavailable('write_conflict', 'simulated serialization failure') });

/** A fresh parse of the same body each time, as a retry after a lost response gives. */
const request = (): BatchRequest => ({
  clientId: 'c1',
  entries: [1, 2].map((opId) => ({ opId, txId: opId, fields: { op_id: opId, tx_id: opId, op: 'PUT', type: 'lists', id: `l${opId}`, data: { name: 'n' } } })),
});

/** A hook that changes the entry it is given instead of returning a changed copy. */
const inPlace: Hooks = {
  beforeApply: (entry, ctx) => {
    (entry.data as Record<string, unknown>).author = ctx.userId;
  },
};

describe('the digests recorded for a batch', () => {
  it('are of the entries as sent, so a retry is all duplicates even when a hook changed them in place', async () => {
    const { store, state } = fakeStore();
    expect(await processBatch({ store, rules, hooks: inPlace }, request(), auth)).toMatchObject({ applied: 2, duplicates: 0 });
    expect(await processBatch({ store, rules, hooks: inPlace }, request(), auth)).toMatchObject({ applied: 0, duplicates: 2 });
    expect(state.applied).toEqual([1, 2]);
  });

  it('are the same on every attempt of a batch retried after a write conflict', async () => {
    const { store, state } = fakeStore((attempt) => attempt === 1);
    expect(await processBatch({ store, rules, hooks: inPlace }, request(), auth)).toMatchObject({ applied: 2 });
    expect(state.attempts).toBe(2);
    expect(await processBatch({ store, rules, hooks: inPlace }, request(), auth)).toMatchObject({ applied: 0, duplicates: 2 });
    expect(state.applied).toEqual([1, 2]);
  });
});
