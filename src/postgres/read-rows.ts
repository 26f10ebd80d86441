import type pg from 'pg';
import type { RowsById } from '../core/row-reader.ts';
import type { TableInfo } from '../core/schema.ts';
import { ident, qualified } from './sql.ts';

/**
 * Reads some columns of some rows as text, locking them for the rest of the transaction
 * so a concurrent batch cannot change what a check saw before this one writes.
 *
 * - Rows come back under the id as it was asked for, not the database's own text of it:
 *   `07` and `7` name the same numeric key, and a check must find the row either way.
 * - Ids that have no row yet are locked too (a transaction-scoped advisory lock per id,
 *   taken in a fixed order), so two users creating the same id one after the other see
 *   each other's row instead of both seeing none.
 */
export async function readRows(client: pg.ClientBase, table: TableInfo, idColumn: string, ids: string[], columns: string[]): Promise<RowsById> {
  const rows = new Map<string, Record<string, string | null>>();
  if (ids.length === 0) return rows;
  const idType = table.columns.get(idColumn)!.type;
  const target = qualified(table.schema, table.name);
  const selected = columns.map((c, i) => `t.${ident(c)}::text AS c${i}`);
  // Its own statement, so the locks are held before any row is read.
  await client.query({
    text: `SELECT count(pg_advisory_xact_lock(k)) FROM (
             SELECT DISTINCT hashtextextended($2 || (w.id::${idType})::text, 0) AS k FROM unnest($1::text[]) AS w(id) ORDER BY 1) AS keys`,
    values: [ids, `${table.schema}.${table.name}:`],
  });
  const result = await client.query<Record<string, string | null>>({
    text: `SELECT ${['w.id AS id', ...selected].join(', ')}
           FROM (SELECT DISTINCT id FROM unnest($1::text[]) AS u(id)) AS w JOIN ${target} AS t ON t.${ident(idColumn)} = w.id::${idType}
           FOR SHARE OF t`,
    values: [ids],
  });
  for (const row of result.rows) {
    rows.set(row.id!, Object.fromEntries(columns.map((c, i) => [c, row[`c${i}`] ?? null])));
  }
  return rows;
}
