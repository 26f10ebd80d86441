import type { RejectionCode } from '../protocol/response.ts';
import type { RawEntry } from '../protocol/wire.ts';
import type { TableRule } from '../rules/table-rules.ts';
import type { OperationHandler } from './hooks.ts';
import type { TableInfo } from './schema.ts';

export type OpKind = 'PUT' | 'PATCH' | 'DELETE';

/**
 * An entry that passed every check that needs no database write: a known table, writable
 * columns, values converted to their column types. Ready to be applied.
 */
export interface Operation {
  entry: RawEntry;
  op: OpKind;
  rule: TableRule;
  table: TableInfo;
  /** The row id converted to the key column's type. */
  id: string;
  /** Converted values of the columns the entry carries, in the order they came. */
  values: Array<[column: string, value: string | null]>;
  /** Converted `old` values (trackPrevious) of known columns; empty without `old`. */
  old: Array<[column: string, value: string | null]>;
  /** The entry's `metadata` text (trackMetadata). */
  metadata: string | undefined;
  /** Library mode: code that runs for this table and op inside the transaction. */
  handler?: OperationHandler;
}

/** Why an entry can never be applied. */
export interface EntryProblem {
  code: RejectionCode;
  message: string;
  column?: string;
  /** For `conflict`: the server's row as the client represents it. */
  current?: Record<string, unknown>;
}

/** A run of consecutive entries with the same tx_id, applied completely or not at all. */
export interface ClientTransaction<T = Operation> {
  /** The client's tx_id, absent for an entry without one. */
  txId: number | undefined;
  entries: T[];
}

/**
 * Splits entries into client transactions: each run of consecutive entries with the same
 * tx_id is one, an entry without tx_id is one of its own (PROTOCOL.md section 2.3).
 */
export function groupTransactions<T extends { entry: RawEntry } | RawEntry>(items: T[]): ClientTransaction<T>[] {
  const groups: ClientTransaction<T>[] = [];
  let current: ClientTransaction<T> | undefined;
  for (const item of items) {
    const txId = 'entry' in item ? item.entry.txId : item.txId;
    if (current && txId !== undefined && current.txId === txId) {
      current.entries.push(item);
    } else {
      current = { txId, entries: [item] };
      groups.push(current);
    }
  }
  return groups;
}

/**
 * Consecutive runs of whole client transactions of about `size` entries each, in order:
 * a large batch is checked, planned and applied a part at a time. With `firstSize`, parts
 * start at that size and double up to `size`.
 */
export function* transactionParts<T>(groups: ClientTransaction<T>[], size: number, firstSize = size): Generator<ClientTransaction<T>[]> {
  let start = 0;
  let entries = 0;
  let target = Math.min(firstSize, size);
  for (let i = 0; i < groups.length; i++) {
    entries += groups[i]!.entries.length;
    if (entries >= target) {
      yield groups.slice(start, i + 1);
      start = i + 1;
      entries = 0;
      target = Math.min(target * 2, size);
    }
  }
  if (start < groups.length) yield start === 0 ? groups : groups.slice(start);
}
