import { badRequest, type WritepathError } from './errors.ts';
import type { TableInfo } from './schema.ts';
import type { TableFacts } from './table-facts.ts';

/**
 * The optional Store capability behind the admin endpoints (`GET /admin/rejections`,
 * `/admin/clients`, `/admin/stats` and the dashboard): read-only queries of the server's
 * own tables for an operator. A Store without it still serves batches; those endpoints
 * then answer 501. Limits arrive already checked and capped by the route.
 */
export interface AdminStore {
  /**
   * Rejections, newest first, filtered by whatever the query names. `before` is the `next`
   * of an earlier page (opaque, the Store's own format); one that does not parse throws a
   * 400 `WritepathError`.
   */
  rejections(query: RejectionQuery): Promise<RejectionPage>;
  /** Ledger positions, the most recently moved first. */
  clients(query: ClientQuery): Promise<ClientPosition[]>;
  /** Rejections per code stored since `since`. */
  rejectionCounts(since: Date): Promise<Record<string, number>>;
  /**
   * What the planner knows of a table, so `/admin/stats` can say which tables take the
   * fast path; undefined when the table always takes the exact path (a Store without a
   * fast path, Postgres before 15). Optional: without it every table is reported exact.
   */
  tableFacts?(table: TableInfo): TableFacts | undefined;
}

export interface RejectionQuery {
  userId?: string;
  clientId?: string;
  code?: string;
  limit: number;
  before?: string;
}

export interface RejectionPage {
  rejections: StoredRejection[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  next?: string;
}

/** A row of the rejections table as the admin endpoints show it (wire names). */
export interface StoredRejection {
  id: string;
  user_id: string;
  client_id: string;
  op_id: number;
  tx_id: number | null;
  op: string | null;
  type: string | null;
  row_id: string | null;
  code: string;
  column_name: string | null;
  message: string;
  data: unknown;
  old: unknown;
  metadata: string | null;
  /** ISO-8601, UTC. */
  created_at: string;
}

export interface ClientQuery {
  userId?: string;
  limit: number;
}

export interface ClientPosition {
  user_id: string;
  client_id: string;
  last_op_id: number;
  /** ISO-8601, UTC: when the ledger last moved. */
  updated_at: string;
}

/** Connections of a Store's pool, for `/metrics`. */
export interface PoolStats {
  total: number;
  idle: number;
  /** Requests waiting for a connection. */
  waiting: number;
}

/**
 * A rejections page's `next`: the sort keys of its last row, opaque to the caller (the
 * Stores' keys differ). `decodeCursor` reads it back.
 */
export function encodeCursor(keys: readonly (string | number)[]): string {
  return Buffer.from(keys.join('|')).toString('base64url');
}

/** The keys of a `before`, each matching its pattern; anything else is a 400 `invalid_cursor`. */
export function decodeCursor(cursor: string, patterns: readonly RegExp[]): string[] {
  const keys = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (keys.length !== patterns.length || keys.some((key, i) => !patterns[i]!.test(key))) throw invalidCursor();
  return keys;
}

export function invalidCursor(): WritepathError {
  return badRequest('invalid_cursor', 'before must be the next value of an earlier page');
}
