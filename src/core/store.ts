import type { AdminStore, PoolStats } from './admin-store.ts';
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
  /**
   * Optional capability: the read-only queries of the admin endpoints and the dashboard
   * (see `admin-store.ts`). Without it `/admin/*` answers 501 and the dashboard shows no
   * rejections; batches are not affected.
   */
  readonly admin?: AdminStore;
  /** Optional: the connection pool's figures, exported by `/metrics` when present. */
  poolStats?(): PoolStats;
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
   * The digests recorded for (user, client) by `recordDigests` in earlier transactions
   * that hold an op_id between `fromOpId` and `toOpId` (inclusive), in the order they were
   * recorded: where two hold the same op_id, the later one counts. Records may hold op_ids
   * outside the range too. One read per call. Nothing is returned for op_ids at or below
   * the ledger less the store's retention (`DIGEST_RETENTION` by default), whatever is
   * still kept of them (`digestsAbove`): the engine treats those entries as duplicates.
   *
   * @example
   * const records = await tx.readDigests('u1', 'c1', 41, 50); // after a lockLedger that returned 50
   */
  readDigests(userId: string, clientId: string, fromOpId: number, toOpId: number): Promise<EntryDigests[]>;
  /**
   * Records the content digests of the entries this transaction processed (applied,
   * rejected or skipped) for (user, client), committed with the rest of the transaction.
   * Called at most once a transaction, after `lockLedger`. A store keeps a record at least
   * while one of its op_ids is within `DIGEST_RETENTION` of the ledger, and may drop it
   * later (a compact store keeps one record per call, not one per entry).
   */
  recordDigests(userId: string, clientId: string, record: EntryDigests): Promise<void>;
  /**
   * Applies client transactions in order, each completely or not at all, and returns one
   * outcome per transaction, in the same order.
   */
  apply(transactions: ClientTransaction<Operation>[]): Promise<TransactionOutcome[]>;
  /**
   * Optional: the part of `apply` that needs no database (planning, statement text), done
   * now; the returned function applies the transactions exactly as `apply` would. The
   * engine prepares the next part of a large batch while the database applies the current
   * one, so the server's work and the database's overlap. Without it, the engine calls
   * `apply`.
   */
  prepareApply?(transactions: ClientTransaction<Operation>[]): () => Promise<TransactionOutcome[]>;
  /**
   * Optional: marks the transaction's state now, so that what is applied after it can be
   * undone. The engine takes one before applying a part whose ownership checks relied on
   * the effect of an earlier transaction of the same part (a parent it created): should that
   * transaction fail at apply, the part is rolled back and applied again, the checks walked
   * again knowing it failed (see `applyOwned`). Without it such a part is applied once, as
   * checked. Locks taken before the savepoint are kept by `rollback`.
   *
   * @example
   * const point = await tx.savepoint();
   * await tx.apply(transactions);
   * await point.rollback(); // undone; the savepoint stays, to roll back to again
   * await point.release(); // when done with it
   */
  savepoint?(): Promise<Savepoint>;
  /**
   * Optional: the outcomes the store already knows some of these client transactions get
   * (undefined for the rest), for a store that learns them by running the batch again
   * (MongoDB, which has no savepoints). The ownership checks treat those as failed.
   */
  knownOutcomes?(transactions: ClientTransaction<Operation>[]): (TransactionOutcome | undefined)[];
  /** Reads (and share-locks) current rows for the checks that need them, one query a call. */
  readRows: ReadRows;
  /** Stores rejections in the rejections table, in this transaction. */
  recordRejections(rows: RejectionRecord[]): Promise<void>;
}

/** A point in a store transaction to roll back to (see `StoreTransaction.savepoint`). */
export interface Savepoint {
  /** Undoes everything since the savepoint, which stays. */
  rollback(): Promise<void>;
  /** Keeps what was done since, and forgets the savepoint. */
  release(): Promise<void>;
}

/**
 * How a client transaction ended. `skip`: it lost a conflict check under `on_conflict: skip`
 * and is dropped without a rejection in the response (still stored as one).
 */
export type TransactionOutcome = { ok: true } | { ok: false; opId: number; problem: EntryProblem; skip?: boolean };

/**
 * Content digests of processed entries (PROTOCOL.md 2.2: an entry at or below the ledger
 * whose content differs from what was processed under its op_id is a restored client's new
 * work, not a duplicate). `digests` holds `DIGEST_BYTES` (8) bytes per op_id, in the order
 * of `opIds`, which is increasing.
 */
export interface EntryDigests {
  opIds: number[];
  digests: Uint8Array;
}

/**
 * How many op_ids below a client's ledger keep their digests, at least: a client restored
 * to a backup older than that many of its entries has the older rewound ones skipped as
 * duplicates (see the README).
 */
export const DIGEST_RETENTION = 100_000;

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
