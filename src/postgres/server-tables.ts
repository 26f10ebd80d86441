import type pg from 'pg';
import { rejectionColumns, type RejectionRecord } from '../core/store.ts';
import type { PreparableStatement } from './prepared-statements.ts';
import { literal } from './sql.ts';

/**
 * The server's own tables: the exactly-once ledger, the digests of processed entries that
 * tell a restored client's rewound op_ids from retries, and the rejections table
 * (PROTOCOL.md sections 2.2 and 4). Created at start when missing; every statement is
 * idempotent, so a database made by an earlier version gets the tables it lacks.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS writepath_ledger (
  user_id text NOT NULL,
  client_id text NOT NULL,
  last_op_id bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, client_id)
);
CREATE TABLE IF NOT EXISTS writepath_rejections (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id text NOT NULL,
  client_id text NOT NULL,
  op_id bigint NOT NULL,
  tx_id bigint,
  op text,
  type text,
  row_id text,
  data jsonb,
  old jsonb,
  metadata text,
  code text NOT NULL,
  column_name text,
  message text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS writepath_rejections_user_id ON writepath_rejections (user_id);
-- One row per batch (see digest-sql.ts): op_ids NULL when they are first_op_id..last_op_id
-- without gaps. The key serves the range reads and the pruning, and lets a publication
-- FOR ALL TABLES (PowerSync's usual setup) replicate the prune's deletes.
CREATE TABLE IF NOT EXISTS writepath_digests (
  id bigint GENERATED ALWAYS AS IDENTITY,
  user_id text NOT NULL,
  client_id text NOT NULL,
  first_op_id bigint NOT NULL,
  last_op_id bigint NOT NULL,
  op_ids bytea,
  digests bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, client_id, last_op_id, id)
);
`;

/** Any constant, so that instances starting together create the tables one at a time. */
const SETUP_LOCK = 0x77726974;

export async function ensureServerTables(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    // Made by a migration, they need no DDL: the server's role may then lack CREATE on the
    // schema (the default on `public` since Postgres 15) and own none of them.
    const existing = await client.query<{ ready: boolean }>(
      `SELECT to_regclass('writepath_ledger') IS NOT NULL AND to_regclass('writepath_rejections') IS NOT NULL
          AND to_regclass('writepath_rejections_user_id') IS NOT NULL AND to_regclass('writepath_digests') IS NOT NULL AS ready`,
    );
    if (existing.rows[0]?.ready) return;
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
    await client.query(DDL);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    // Tables made by a migration for an earlier version lack the ones added since.
    if ((error as { code?: string }).code === '42501') {
      throw new Error(
        `the server's tables (writepath_ledger, writepath_rejections, writepath_digests) are missing in part and its role may not create them (${(error as Error).message}): create them by migration, the DDL is in src/postgres/server-tables.ts`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Creates the ledger row of a new client or locks the existing one, in one statement: two
 * first batches of a new client arriving together both end up here, the second waits for
 * the first to commit and then sees its position instead of failing on the key. Values go
 * as parameters written into the script (see prepared-statements.ts), so the statement can
 * travel with BEGIN in one round trip.
 */
export function lockLedgerStatement(userId: string, clientId: string): PreparableStatement {
  return {
    text: `INSERT INTO writepath_ledger (user_id, client_id, last_op_id) VALUES ($1, $2, 0)
     ON CONFLICT (user_id, client_id) DO UPDATE SET last_op_id = writepath_ledger.last_op_id
     RETURNING last_op_id`,
    types: ['text', 'text'],
    args: [literal(userId), literal(clientId)],
  };
}

/**
 * Locks the ledger row of (user, client) and fails the transaction unless it holds
 * `expected` (or when the row is missing): the check of a guessed ledger position, sent
 * with the statements that rely on it. Plain SQL has no RAISE; the failed cast of a text
 * naming what was found is the error, and it depends on the row read, so the planner
 * cannot evaluate it beforehand.
 */
export function ledgerGuardStatement(userId: string, clientId: string, expected: number): PreparableStatement {
  return {
    text: `WITH found AS MATERIALIZED (SELECT (SELECT last_op_id FROM writepath_ledger
       WHERE user_id = $1 AND client_id = $2 FOR UPDATE) AS last_op_id)
     SELECT CASE WHEN last_op_id = $3 THEN 0
       ELSE ('writepath: the ledger is at ' || coalesce(last_op_id::text, 'nothing') || ', not ' || $3)::int END
     FROM found`,
    types: ['text', 'text', 'bigint'],
    args: [literal(userId), literal(clientId), safeInteger(expected, 'ledgerGuardStatement')],
  };
}

/**
 * `ledgerGuardStatement` and `advanceLedgerStatement` in one: moves the ledger from
 * `expected` to `lastOpId`, and fails the transaction when it was elsewhere or missing.
 * The error depends on the count of rows moved, so no plan can evaluate it beforehand.
 */
export function checkAndAdvanceLedgerStatement(userId: string, clientId: string, expected: number, lastOpId: number): PreparableStatement {
  const where = 'checkAndAdvanceLedgerStatement';
  return {
    text: `WITH moved AS (UPDATE writepath_ledger SET last_op_id = $4, updated_at = now()
       WHERE user_id = $1 AND client_id = $2 AND last_op_id = $3 RETURNING 1)
     SELECT CASE WHEN count(*) = 1 THEN 0
       ELSE ('writepath: the ledger is not at ' || $3 || ' (' || count(*) || ' rows)')::int END
     FROM moved`,
    types: ['text', 'text', 'bigint', 'bigint'],
    args: [literal(userId), literal(clientId), safeInteger(expected, where), safeInteger(lastOpId, where)],
  };
}

/** Moves the ledger of (user, client); sent with the COMMIT. */
export function advanceLedgerStatement(userId: string, clientId: string, lastOpId: number): PreparableStatement {
  return {
    text: `UPDATE writepath_ledger SET last_op_id = $3, updated_at = now() WHERE user_id = $1 AND client_id = $2`,
    types: ['text', 'text', 'bigint'],
    args: [literal(userId), literal(clientId), safeInteger(lastOpId, 'advanceLedgerStatement')],
  };
}

/** An op_id as SQL, checked: a value written into SQL must be what it claims. */
export function safeInteger(value: number, where: string): string {
  if (!Number.isSafeInteger(value)) throw new Error(`${where}: ${value} is not a safe integer`);
  return String(value);
}

/** One statement for all rejections of a batch. */
export async function insertRejections(client: pg.ClientBase, rows: RejectionRecord[]): Promise<void> {
  if (rows.length === 0) return;
  const json = JSON.stringify(
    rows.map((r) => {
      const columns = rejectionColumns(r);
      return { ...columns, data: storable(columns.data), old: storable(columns.old) };
    }),
    (_key, value) => (typeof value === 'string' ? storableText(value) : value),
  );
  await client.query(
    `INSERT INTO writepath_rejections (user_id, client_id, op_id, tx_id, op, type, row_id, data, old, metadata, code, column_name, message)
     SELECT user_id, client_id, op_id, tx_id, op, type, row_id, data, old, metadata, code, column_name, message
     FROM jsonb_to_recordset($1::jsonb) AS r(user_id text, client_id text, op_id bigint, tx_id bigint, op text, type text,
       row_id text, data jsonb, old jsonb, metadata text, code text, column_name text, message text)`,
    [json],
  );
}

/**
 * jsonb holds neither NUL characters nor lone surrogates, and a rejected value may well
 * contain either (that may be why it was rejected): they are stored as U+FFFD, in keys as
 * well as values, so that storing a rejection can never fail the batch.
 */
function storableText(text: string): string {
  return text.replace(LONE_SURROGATE_OR_NUL, '\uFFFD');
}

const LONE_SURROGATE_OR_NUL = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\0/g;

function storable(value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (Array.isArray(value)) return value.map(storable);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storableText(key), storable(inner)]));
  }
  return value;
}
