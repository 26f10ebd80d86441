import type pg from 'pg';
import { decodeCursor, encodeCursor, invalidCursor, type AdminStore, type ClientPosition, type ClientQuery, type RejectionPage, type RejectionQuery, type StoredRejection } from '../core/admin-store.ts';
import type { TableInfo } from '../core/schema.ts';
import type { FactsSource, TableFacts } from '../core/table-facts.ts';
import { toBatchError } from './error-map.ts';

// Microseconds, in UTC whatever the session's time zone: created_at is the commit's
// transaction time, shared by every rejection of a batch, so a cursor must not round it.
const utcText = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const ISO_MICROS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The admin queries of PROTOCOL.md's `admin.token` endpoints, on the server's own tables. */
export class PgAdmin implements AdminStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly facts: () => FactsSource | undefined,
  ) {}

  async rejections(query: RejectionQuery): Promise<RejectionPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (condition: (n: number) => string, ...values: unknown[]) => {
      where.push(condition(params.length + 1));
      params.push(...values);
    };
    if (query.userId !== undefined) add((n) => `user_id = $${n}`, query.userId);
    if (query.clientId !== undefined) add((n) => `client_id = $${n}`, query.clientId);
    if (query.code !== undefined) add((n) => `code = $${n}`, query.code);
    if (query.before !== undefined) {
      const cursor = parseCursor(query.before);
      add((n) => `(created_at, op_id, id) < ($${n}::timestamptz, $${n + 1}::bigint, $${n + 2}::uuid)`, cursor.createdAt, cursor.opId, cursor.id);
    }
    // One more than asked: whether there is a next page, without a count.
    params.push(query.limit + 1);
    const rows = await this.query<RejectionRow>(
      `SELECT id::text, user_id, client_id, op_id, tx_id, op, type, row_id, code, column_name, message, data, old, metadata,
         ${utcText('created_at')} AS created_at
       FROM writepath_rejections ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, op_id DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, query.limit).map(toStoredRejection);
    const last = page[page.length - 1];
    return rows.length > query.limit && last ? { rejections: page, next: cursorOf(last) } : { rejections: page };
  }

  async clients(query: ClientQuery): Promise<ClientPosition[]> {
    const params: unknown[] = query.userId === undefined ? [] : [query.userId];
    params.push(query.limit);
    const rows = await this.query<{ user_id: string; client_id: string; last_op_id: string; updated_at: string }>(
      `SELECT user_id, client_id, last_op_id, ${utcText('updated_at')} AS updated_at
       FROM writepath_ledger ${query.userId === undefined ? '' : 'WHERE user_id = $1'}
       ORDER BY updated_at DESC, user_id, client_id LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({ ...r, last_op_id: Number(r.last_op_id) }));
  }

  async rejectionCounts(since: Date): Promise<Record<string, number>> {
    const rows = await this.query<{ code: string; count: number }>(
      'SELECT code, count(*)::int AS count FROM writepath_rejections WHERE created_at >= $1 GROUP BY code ORDER BY code',
      [since],
    );
    return Object.fromEntries(rows.map((r) => [r.code, r.count]));
  }

  tableFacts(table: TableInfo): TableFacts | undefined {
    return this.facts()?.of(table);
  }

  private async query<T extends pg.QueryResultRow>(text: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query<T>(text, params)).rows;
    } catch (error) {
      throw toBatchError(error);
    }
  }
}

type RejectionRow = Omit<StoredRejection, 'op_id' | 'tx_id'> & { op_id: string; tx_id: string | null };

function toStoredRejection(row: RejectionRow): StoredRejection {
  return { ...row, op_id: Number(row.op_id), tx_id: row.tx_id === null ? null : Number(row.tx_id) };
}

/**
 * The position after a rejection in the listing's order: its time to the microsecond (all
 * rejections of a batch share it), its op_id (the latest entry first) and its id.
 */
function cursorOf(row: StoredRejection): string {
  return encodeCursor([row.created_at, row.op_id, row.id]);
}

function parseCursor(cursor: string): { createdAt: string; opId: string; id: string } {
  // op_ids are safe integers: at most 16 digits, and checked, so the bigint cast cannot fail.
  const [createdAt, opId, id] = decodeCursor(cursor, [ISO_MICROS, /^-?\d{1,16}$/, UUID]) as [string, string, string];
  if (!Number.isSafeInteger(Number(opId))) throw invalidCursor();
  return { createdAt, opId, id };
}
