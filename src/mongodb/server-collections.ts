import type { ClientSession, Db } from 'mongodb';
import { unavailable } from '../core/errors.ts';
import { rejectionColumns, type RejectionRecord } from '../core/store.ts';

/** The server's own collections: the ledger of processed op_ids and the rejections. */
export const LEDGER = 'writepath_ledger';
export const REJECTIONS = 'writepath_rejections';

interface LedgerDocument {
  _id: { user_id: string; client_id: string };
  last_op_id: number;
  touched_at: Date;
}

/** Creates the index the rejections are synced by (collections themselves appear with their first write). */
export async function ensureServerCollections(db: Db): Promise<void> {
  await db.collection(REJECTIONS).createIndex({ user_id: 1 }, { name: 'writepath_rejections_user_id' });
}

/**
 * Reads the ledger of (user, client), creating it when new. It also writes the document,
 * even when it exists: two transactions writing one document conflict, so concurrent
 * batches of one client cannot both commit (the loser retries, then answers 503).
 */
export async function lockLedger(db: Db, session: ClientSession, userId: string, clientId: string): Promise<number> {
  try {
    const ledger = await db.collection<LedgerDocument>(LEDGER).findOneAndUpdate(
      { _id: { user_id: userId, client_id: clientId } },
      { $setOnInsert: { last_op_id: 0 }, $set: { touched_at: new Date() } },
      { upsert: true, returnDocument: 'after', session },
    );
    return Number(ledger?.last_op_id ?? 0);
  } catch (error) {
    // Two first batches of a new client both inserting its ledger: the loser tries again
    // and then finds the winner's position. Never a rejection, never a 500.
    if ((error as { code?: unknown }).code === 11000) {
      throw unavailable('write_conflict', 'a concurrent batch of this client created its ledger; retry', error);
    }
    throw error;
  }
}

export async function advanceLedger(db: Db, session: ClientSession, userId: string, clientId: string, lastOpId: number): Promise<void> {
  await db.collection<LedgerDocument>(LEDGER).updateOne({ _id: { user_id: userId, client_id: clientId } }, { $set: { last_op_id: lastOpId } }, { session });
}

/**
 * Stores rejections with the fields of PROTOCOL.md section 4 (`_id` is the id). `data` and
 * `old` are stored as JSON text, as the client sent them: a rejected entry may carry field
 * names MongoDB would refuse in a document (`$…`, NUL), and storing a rejection must never
 * fail the batch. Absent optional fields are null.
 */
export async function insertRejections(db: Db, session: ClientSession, rows: RejectionRecord[]): Promise<void> {
  const createdAt = new Date();
  await db.collection(REJECTIONS).insertMany(
    rows.map((r) => {
      const { data, old, ...columns } = rejectionColumns(r);
      return { ...columns, data: jsonText(data), old: jsonText(old), created_at: createdAt };
    }),
    { session },
  );
}

const jsonText = (value: unknown) => (value === null ? null : JSON.stringify(value));
