import type { ColumnInfo, TableInfo } from './schema.ts';
import type { EntryDigests, Store, StoreTransaction } from './store.ts';

/**
 * Tables for the engine's unit tests, which need no database: every column is text and
 * converts any value to its text. Integration tests use real Postgres instead.
 */
export function textColumn(name: string): ColumnInfo {
  return {
    name,
    type: 'text',
    nullable: true,
    generated: false,
    hasDefault: false,
    convert: (value) => ({ ok: true, value: value === null ? null : String(value) }),
  };
}

/** A table `public.<name>` with an `id` key and the given text columns. */
export function textTable(name: string, columns: string[]): TableInfo {
  return { schema: 'public', name, columns: new Map(['id', ...columns].map((c) => [c, textColumn(c)])) };
}

/**
 * A Store for the engine's unit tests: one table, and the ledger and digests of the
 * clients, kept in memory. The attempts `failAt` names (1-based) fail with `failure` at
 * commit time, after the work ran: what they did is thrown away, as a rollback would.
 */
export function memoryStore(table: TableInfo, options: { failAt?: (attempt: number) => boolean; failure?: unknown } = {}) {
  const state = { attempts: 0, commits: 0, ledger: 0, digests: [] as EntryDigests[], applied: [] as number[] };
  const store: Store = {
    findTable: (name) => (name === table.name ? table : undefined),
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
        advanceLedger: async (_user, _client, lastOpId) => void (ledger = lastOpId),
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
      if (options.failAt?.(attempt)) throw options.failure;
      state.commits++;
      state.ledger = ledger;
      state.digests.push(...digests);
      state.applied.push(...applied);
      return result;
    },
  };
  return { store, state };
}
