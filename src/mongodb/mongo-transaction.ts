import type { ClientSession, Db, Document } from 'mongodb';
import type { ClientTransaction, Operation } from '../core/operation.ts';
import type { RowsById } from '../core/row-reader.ts';
import type { TableInfo } from '../core/schema.ts';
import { DIGEST_RETENTION, type EntryDigests, type RejectionRecord, type StoreTransaction, type TransactionOutcome } from '../core/store.ts';
import { digestsAbove } from '../core/entry-digest.ts';
import { toBson, toText } from './bson-values.ts';
import { applyTransactions, type ApplyState } from './mongo-apply.ts';
import { typeOf, type MongoTableInfo } from './mongo-tables.ts';
import { convertDeclared } from './value-codecs.ts';
import { advanceLedger, insertRejections, lockLedger, readDigests, recordDigests } from './server-collections.ts';

/** One attempt of a batch's transaction, on a session with a transaction started. */
export class MongoTransaction implements StoreTransaction {
  /** The client's ledger position as this transaction leaves it: digest retention counts from it. */
  private ledger = 0;
  /** This batch's place in the order of the client's digest records, from `lockLedger`. */
  private digestSeq = 0;

  constructor(
    private readonly db: Db,
    private readonly session: ClientSession,
    private readonly state: ApplyState,
    /** Waits for this process's other batches of the client (see ClientLocks). */
    private readonly lockClient: (userId: string, clientId: string) => Promise<void>,
    private readonly digestRetention = DIGEST_RETENTION,
  ) {}

  async lockLedger(userId: string, clientId: string): Promise<number> {
    await this.lockClient(userId, clientId);
    ({ lastOpId: this.ledger, digestSeq: this.digestSeq } = await lockLedger(this.db, this.session, userId, clientId));
    return this.ledger;
  }

  async advanceLedger(userId: string, clientId: string, lastOpId: number): Promise<void> {
    await advanceLedger(this.db, this.session, userId, clientId, lastOpId);
    this.ledger = lastOpId;
  }

  async readDigests(userId: string, clientId: string, fromOpId: number, toOpId: number): Promise<EntryDigests[]> {
    const horizon = this.ledger - this.digestRetention;
    return digestsAbove(await readDigests(this.db, this.session, userId, clientId, Math.max(fromOpId, horizon + 1), toOpId), horizon);
  }

  recordDigests(userId: string, clientId: string, record: EntryDigests): Promise<void> {
    return recordDigests(this.db, this.session, userId, clientId, record, this.digestSeq, this.ledger, this.digestRetention);
  }

  apply(transactions: ClientTransaction<Operation>[]): Promise<TransactionOutcome[]> {
    return applyTransactions(this.db, this.session, transactions, (o) => o.table as MongoTableInfo, this.state);
  }

  /** Those an earlier run of this batch found failing, and left out since (see RestartBatch). */
  knownOutcomes(transactions: ClientTransaction<Operation>[]): (TransactionOutcome | undefined)[] {
    return transactions.map((t) => this.state.excluded.get(t.entries[0]!.entry.opId));
  }

  /**
   * Reads in the transaction's snapshot. MongoDB has no shared locks: a document read
   * here is protected against a concurrent change only when this batch also writes it
   * (a PATCH or DELETE of the row it checked); a parent read for `owner: { through }` is not.
   */
  readRows = async (table: TableInfo, _idColumn: string, ids: string[], columns: string[]): Promise<RowsById> => {
    const mongoTable = table as MongoTableInfo;
    const idType = typeOf(mongoTable, mongoTable.idColumn);
    const projection: Document = {};
    for (const column of columns) if (column !== mongoTable.idColumn) projection[column] = 1;
    // A link of another type than the parent's id (text where ids are uuids) names no document.
    const keys = ids.flatMap((id) => {
      const key = convertDeclared(idType, id);
      return key.ok && key.value !== null ? [toBson(idType, key.value)] : [];
    });
    if (keys.length === 0) return new Map();
    const found = await this.db.collection(table.name).find({ _id: { $in: keys } } as Document, { session: this.session, projection }).toArray();
    const rows: RowsById = new Map();
    for (const document of found) {
      const id = toText(idType, document._id)!;
      const row: Record<string, string | null> = {};
      for (const column of columns) {
        row[column] = column === mongoTable.idColumn ? id : toText(typeOf(mongoTable, column), document[column]);
      }
      rows.set(id, row);
    }
    return rows;
  };

  async recordRejections(rows: RejectionRecord[]): Promise<void> {
    if (rows.length > 0) await insertRejections(this.db, this.session, rows);
  }
}
