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
import type { EntryDigests, Store, StoreTransaction } from './store.ts';
import { textTable } from './testing.ts';

const LISTS = textTable('lists', ['name', 'author']);
const rules = new TableRules({ lists: { id_column: 'id', put: 'merge', apply: 'exact', on_unknown_column: 'reject' } });
const auth = { userId: 'u1', claims: {} };

/** Keeps one client's ledger and digests; fails the commit of the attempts `failAt` names (1-based). */
function fakeStore(failAt: (attempt: number) => boolean = () => false) {
  const state = { attempts: 0, ledger: 0, digests: [] as EntryDigests[], applied: [] as number[] };
  const store: Store = {
    findTable: (name) => (name === 'lists' ? LISTS : undefined),
    refreshSchema: async () => {},
    ping: async () => true,
    close: async () => {},
    async transaction(_context, work) {
      const attempt = ++state.attempts;
      let ledger = state.ledger;
      const digests: EntryDigests[] = [];
      const applied: number[] = [];
      const tx: StoreTransaction = {
        lockLedger: async () => ledger,
        advanceLedger: async (_user, _client, last) => void (ledger = last),
        readDigests: async () => state.digests,
        recordDigests: async (_user, _client, record) => void digests.push(record),
        apply: async (transactions) =>
          transactions.map((t) => {
            applied.push(...t.entries.map((o) => o.entry.opId));
            return { ok: true as const };
          }),
        recordRejections: async () => {},
        readRows: async () => new Map(),
      };
      const result = await work(tx);
      if (failAt(attempt)) throw unavailable('write_conflict', 'simulated serialization failure');
      Object.assign(state, { ledger, digests: [...state.digests, ...digests], applied: [...state.applied, ...applied] });
      return result;
    },
  };
  return { store, state };
}

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
