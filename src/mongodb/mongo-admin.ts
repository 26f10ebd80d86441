import { ObjectId, type Db, type Document, type Filter } from 'mongodb';
import {
  decodeCursor,
  encodeCursor,
  invalidCursor,
  type AdminStore,
  type ClientPosition,
  type ClientQuery,
  type RejectionPage,
  type RejectionQuery,
  type StoredRejection,
} from '../core/admin-store.ts';
import { toBatchError } from './error-map.ts';
import { LEDGER, REJECTIONS, type LedgerDocument } from './server-collections.ts';

// Milliseconds, as a BSON date holds them: every rejection of a batch shares one, so a
// cursor carries the whole of it.
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const OBJECT_ID = /^[0-9a-f]{24}$/;

/**
 * The admin queries of PROTOCOL.md's `admin.token` endpoints on the server's own
 * collections, with the shapes and order of the Postgres ones (pg-admin.ts). No
 * `tableFacts`: MongoDB has no fast path, every table is applied in op order.
 */
export class MongoAdmin implements AdminStore {
  constructor(private readonly db: Db) {}

  async rejections(query: RejectionQuery): Promise<RejectionPage> {
    const filter: Filter<Document> = {};
    if (query.userId !== undefined) filter.user_id = query.userId;
    if (query.clientId !== undefined) filter.client_id = query.clientId;
    if (query.code !== undefined) filter.code = query.code;
    if (query.before !== undefined) {
      const { createdAt, opId, id } = parseCursor(query.before);
      // (created_at, op_id, _id) < the cursor's, in the listing's order.
      filter.$or = [
        { created_at: { $lt: createdAt } },
        { created_at: createdAt, op_id: { $lt: opId } },
        { created_at: createdAt, op_id: opId, _id: { $lt: id } },
      ];
    }
    // One more than asked: whether there is a next page, without a count.
    const found = await this.read(() =>
      this.db.collection(REJECTIONS).find(filter).sort({ created_at: -1, op_id: -1, _id: -1 }).limit(query.limit + 1).toArray(),
    );
    const page = found.slice(0, query.limit).map(toStoredRejection);
    const last = page[page.length - 1];
    return found.length > query.limit && last ? { rejections: page, next: cursorOf(last) } : { rejections: page };
  }

  async clients(query: ClientQuery): Promise<ClientPosition[]> {
    const filter = query.userId === undefined ? {} : { '_id.user_id': query.userId };
    const found = await this.read(() =>
      this.db.collection<LedgerDocument>(LEDGER).find(filter).sort({ updated_at: -1, '_id.user_id': 1, '_id.client_id': 1 }).limit(query.limit).toArray(),
    );
    return found.map((d) => ({
      user_id: d._id.user_id,
      client_id: d._id.client_id,
      last_op_id: Number(d.last_op_id),
      // A ledger written before updated_at was kept has only the time of its last batch.
      updated_at: isoText(d.updated_at ?? d.touched_at),
    }));
  }

  async rejectionCounts(since: Date): Promise<Record<string, number>> {
    const counts = await this.read(() =>
      this.db
        .collection(REJECTIONS)
        .aggregate<{ _id: string; count: number }>([{ $match: { created_at: { $gte: since } } }, { $group: { _id: '$code', count: { $sum: 1 } } }, { $sort: { _id: 1 } }])
        .toArray(),
    );
    return Object.fromEntries(counts.map((c) => [c._id, Number(c.count)]));
  }

  private async read<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw toBatchError(error);
    }
  }
}

/** A rejection document as the endpoints show it; `data` and `old` are stored as JSON text. */
function toStoredRejection(d: Document): StoredRejection {
  return {
    id: d._id instanceof ObjectId ? d._id.toHexString() : String(d._id),
    user_id: d.user_id,
    client_id: d.client_id,
    op_id: Number(d.op_id),
    tx_id: d.tx_id == null ? null : Number(d.tx_id),
    op: d.op ?? null,
    type: d.type ?? null,
    row_id: d.row_id ?? null,
    code: d.code,
    column_name: d.column_name ?? null,
    message: d.message,
    data: fromJsonText(d.data),
    old: fromJsonText(d.old),
    metadata: d.metadata ?? null,
    created_at: isoText(d.created_at),
  };
}

function fromJsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const isoText = (value: unknown) => (value instanceof Date ? value.toISOString() : String(value));

/** The position after a rejection in the listing's order: its time, its op_id and its id. */
function cursorOf(row: StoredRejection): string {
  return encodeCursor([row.created_at, row.op_id, row.id]);
}

function parseCursor(cursor: string): { createdAt: Date; opId: number; id: ObjectId } {
  const [createdAt, opId, id] = decodeCursor(cursor, [ISO_MILLIS, /^-?\d{1,16}$/, OBJECT_ID]) as [string, string, string];
  const time = new Date(createdAt);
  if (Number.isNaN(time.getTime()) || !Number.isSafeInteger(Number(opId))) throw invalidCursor();
  return { createdAt: time, opId: Number(opId), id: new ObjectId(id) };
}
