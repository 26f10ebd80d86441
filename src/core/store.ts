import type { ClientTransaction, EntryProblem, Operation } from './operation.ts';
import type { ReadRows } from './row-reader.ts';
import type { TableInfo } from './schema.ts';

/**
 * What the engine needs from a database. A Store carries out planned work and reports
 * outcomes; it never decides policy (what is rejected, what is a duplicate).
 *
 * Errors: a Store throws a `WritepathError` for everything that fails the whole batch
 * (503 for temporary failures, 500 for the server's own problems or the unexpected), and
 * reports a client transaction that can never succeed as a `TransactionOutcome`.
 */
export interface Store {
  /** The live schema of a table (`table` or `schema.table`), as last read. */
  findTable(name: string): TableInfo | undefined;
  /** Re-reads the live schema; called before anything is rejected as unknown. */
  refreshSchema(): Promise<void>;
  /**
   * Runs `work` in one database transaction and commits when it resolves; rolls back
   * when it throws. Nothing of `work` is visible to others before the commit.
   */
  transaction<T>(context: AuthContext, work: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Whether the database answers now (for `GET /ready`). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** Who sends the batch, from the verified token. */
export interface AuthContext {
  userId: string;
  claims: Record<string, unknown>;
}

export interface StoreTransaction {
  /**
   * Locks the ledger row of (user, client) for the rest of the transaction, creating it
   * when new, and returns the highest op_id processed so far (0 for a new client).
   * Concurrent batches of one client wait here for each other.
   */
  lockLedger(userId: string, clientId: string): Promise<number>;
  /** Moves the ledger of (user, client) to `lastOpId`. */
  advanceLedger(userId: string, clientId: string, lastOpId: number): Promise<void>;
  /**
   * Applies client transactions in order, each completely or not at all, and returns one
   * outcome per transaction, in the same order.
   */
  apply(transactions: ClientTransaction<Operation>[]): Promise<TransactionOutcome[]>;
  /** Reads (and share-locks) current rows for the checks that need them, one query a call. */
  readRows: ReadRows;
  /** Stores rejections in the rejections table, in this transaction. */
  recordRejections(rows: RejectionRecord[]): Promise<void>;
}

/**
 * How a client transaction ended. `skip`: it lost a conflict check under `on_conflict: skip`
 * and is dropped without a rejection in the response (still stored as one).
 */
export type TransactionOutcome = { ok: true } | { ok: false; opId: number; problem: EntryProblem; skip?: boolean };

/** A row of `writepath_rejections`. */
export interface RejectionRecord {
  userId: string;
  clientId: string;
  opId: number;
  txId: number | undefined;
  op: string | undefined;
  type: string | undefined;
  rowId: string | undefined;
  data: unknown;
  old: unknown;
  metadata: string | undefined;
  code: string;
  columnName: string | undefined;
  message: string;
}

/** A rejection as the columns (fields) of `writepath_rejections`, absent optional ones null. */
export function rejectionColumns(r: RejectionRecord) {
  return {
    user_id: r.userId,
    client_id: r.clientId,
    op_id: r.opId,
    tx_id: r.txId ?? null,
    op: r.op ?? null,
    type: r.type ?? null,
    row_id: r.rowId ?? null,
    data: r.data ?? null,
    old: r.old ?? null,
    metadata: r.metadata ?? null,
    code: r.code,
    column_name: r.columnName ?? null,
    message: r.message,
  };
}
