import type { TableInfo } from './schema.ts';

/** Some columns of some rows, as text, keyed by the row id as text. */
export type RowsById = Map<string, Record<string, string | null>>;

/**
 * Reads current rows inside the batch's transaction, locking them until it ends, so that
 * what a check saw is still true when the batch writes. One call is one query.
 */
export type ReadRows = (table: TableInfo, idColumn: string, ids: string[], columns: string[]) => Promise<RowsById>;
