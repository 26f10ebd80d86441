/**
 * Requests without the client's op_ids (`ledger: false`, the demo routes) bypass the
 * ledger: it is neither read nor moved, no digest is read or recorded, and nothing counts
 * as a duplicate.
 */
import { configSchema } from '../config/schema.ts';
import { expect, it } from 'vitest';
import { TableRules } from '../rules/table-rules.ts';
import { processBatch } from './process-batch.ts';
import { textTable } from './testing.ts';
import type { RejectionRecord, Store, StoreTransaction } from './store.ts';

const LISTS = textTable('lists', ['name']);
const rules = new TableRules(configSchema.parse({ tables: { lists: { apply: 'exact' } } }).tables);

it('applies every entry and records rejections without touching the ledger', async () => {
  const applied: number[] = [];
  const recorded: RejectionRecord[] = [];
  const tx: StoreTransaction = {
    lockLedger: async () => expect.fail('lockLedger must not be called'),
    advanceLedger: async () => expect.fail('advanceLedger must not be called'),
    readDigests: async () => expect.fail('readDigests must not be called'),
    recordDigests: async () => expect.fail('recordDigests must not be called'),
    apply: async (transactions) =>
      transactions.map((t) => {
        applied.push(...t.entries.map((o) => o.entry.opId));
        return { ok: true as const };
      }),
    recordRejections: async (rows) => void recorded.push(...rows),
    readRows: async () => new Map(),
  };
  const store: Store = {
    findTable: (name) => (name === 'lists' ? LISTS : undefined),
    refreshSchema: async () => {},
    ping: async () => true,
    close: async () => {},
    transaction: async (_context, work) => work(tx),
  };
  const entry = (opId: number, txId: number, type: string) => ({ opId, txId, fields: { op: 'PUT', type, id: `r${opId}`, data: { name: 'x' } } });
  const result = await processBatch(
    { store, rules },
    { clientId: '', ledger: false, entries: [entry(1, 1, 'lists'), entry(2, 2, 'lists'), entry(3, 3, 'nope')] },
    { userId: 'u1', claims: {} },
  );
  expect(result).toMatchObject({ client_id: '', last_op_id: 0, applied: 2, duplicates: 0, skipped: 0 });
  expect(result.rejected).toMatchObject([{ op_id: 3, code: 'unknown_table' }]);
  expect(applied).toEqual([1, 2]);
  expect(recorded).toMatchObject([{ userId: 'u1', clientId: '', opId: 3, code: 'unknown_table' }]);
});
