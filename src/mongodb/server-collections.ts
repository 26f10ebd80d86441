import { Binary, type ClientSession, type Db } from 'mongodb';
import { DIGEST_BYTES } from '../core/entry-digest.ts';
import { unavailable } from '../core/errors.ts';
import { rejectionColumns, type EntryDigests, type RejectionRecord } from '../core/store.ts';

/** The server's own collections: the ledger of processed op_ids, the rejections and the entry digests. */
export const LEDGER = 'writepath_ledger';
export const REJECTIONS = 'writepath_rejections';
export const DIGESTS = 'writepath_digests';

export interface LedgerDocument {
  _id: { user_id: string; client_id: string };
  last_op_id: number;
  /** When the position last moved (or the ledger was made): what `/admin/clients` shows. */
  updated_at: Date;
  /** Written by every batch, moved or not (see lockLedger). */
  touched_at: Date;
  /** How many digest records the client has had: orders them (see recordDigests). */
  digest_records?: number;
}

/**
 * One batch's entry digests (PROTOCOL.md 2.2), as in Postgres: one document per batch,
 * the digests packed 8 bytes each, the op_ids listed only when they have gaps.
 */
interface DigestDocument {
  user_id: string;
  client_id: string;
  seq: number;
  first_op_id: number;
  last_op_id: number;
  op_ids: number[] | null;
  digests: Binary;
}

/**
 * Creates the indexes the rejections are synced by, the digests read by and the admin
 * endpoints list by (collections themselves appear with their first write). `createIndex`
 * of an existing index is a no-op, so every start may run this.
 */
export async function ensureServerCollections(db: Db): Promise<void> {
  await db.collection(REJECTIONS).createIndex({ user_id: 1 }, { name: 'writepath_rejections_user_id' });
  // The order of /admin/rejections and its pages, and the 24-hour count of /admin/stats.
  await db.collection(REJECTIONS).createIndex({ created_at: -1, op_id: -1, _id: -1 }, { name: 'writepath_rejections_recent' });
  // /admin/clients?user_id=: never rewritten, unlike an index on updated_at would be by
  // every batch that moves a ledger; a user's few clients are sorted in memory.
  await db.collection(LEDGER).createIndex({ '_id.user_id': 1 }, { name: 'writepath_ledger_user' });
  await db.collection(DIGESTS).createIndex({ user_id: 1, client_id: 1, last_op_id: 1 }, { name: 'writepath_digests_client' });
}

/**
 * Reads the ledger of (user, client), creating it when new. It also writes the document,
 * even when it exists: two transactions writing one document conflict, so concurrent
 * batches of one client cannot both commit (the loser retries, then answers 503).
 */
export async function lockLedger(db: Db, session: ClientSession, userId: string, clientId: string): Promise<{ lastOpId: number; digestSeq: number }> {
  const now = new Date();
  try {
    // The write that locks also numbers this batch's digest record (see recordDigests): one round trip.
    const ledger = await db.collection<LedgerDocument>(LEDGER).findOneAndUpdate(
      { _id: { user_id: userId, client_id: clientId } },
      { $setOnInsert: { last_op_id: 0, updated_at: now }, $set: { touched_at: now }, $inc: { digest_records: 1 } },
      { upsert: true, returnDocument: 'after', session },
    );
    return { lastOpId: Number(ledger?.last_op_id ?? 0), digestSeq: Number(ledger?.digest_records ?? 1) };
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
  await db.collection<LedgerDocument>(LEDGER).updateOne({ _id: { user_id: userId, client_id: clientId } }, { $set: { last_op_id: lastOpId, updated_at: new Date() } }, { session });
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

/**
 * Records a batch's digests and drops the client's records whose op_ids are all
 * `retention` or more below the ledger, in one round trip. The order of records is `seq`,
 * the counter `lockLedger` moved on the ledger document this batch holds: no clock decides
 * which record is later.
 */
export async function recordDigests(
  db: Db,
  session: ClientSession,
  userId: string,
  clientId: string,
  record: EntryDigests,
  seq: number,
  ledger: number,
  retention: number,
): Promise<void> {
  const { opIds } = record;
  const first = opIds[0]!;
  const last = opIds[opIds.length - 1]!;
  const document: DigestDocument = {
    user_id: userId,
    client_id: clientId,
    seq,
    first_op_id: first,
    last_op_id: last,
    op_ids: last - first + 1 === opIds.length ? null : opIds,
    digests: new Binary(Buffer.from(record.digests.buffer, record.digests.byteOffset, record.digests.byteLength)),
  };
  const horizon = ledger - retention;
  await db.collection<DigestDocument>(DIGESTS).bulkWrite(
    [
      { insertOne: { document } },
      ...(horizon > 0 ? [{ deleteMany: { filter: { user_id: userId, client_id: clientId, last_op_id: { $lte: horizon } } } }] : []),
    ],
    { session, ordered: true },
  );
}

/** The client's records that hold an op_id in from..to, in the order they were recorded. */
export async function readDigests(db: Db, session: ClientSession, userId: string, clientId: string, from: number, to: number): Promise<EntryDigests[]> {
  const found = await db
    .collection<DigestDocument>(DIGESTS)
    .find({ user_id: userId, client_id: clientId, last_op_id: { $gte: from }, first_op_id: { $lte: to } }, { session })
    .sort({ seq: 1 })
    .toArray();
  return found.map((d) => {
    const digests = new Uint8Array(d.digests.buffer);
    const count = digests.length / DIGEST_BYTES;
    const opIds = d.op_ids ?? Array.from({ length: count }, (_, i) => d.first_op_id + i);
    if (opIds.length !== count) throw new Error(`${DIGESTS}: a record of ${clientId} holds ${count} digests for ${opIds.length} op_ids`);
    return { opIds, digests };
  });
}
