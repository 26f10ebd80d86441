import type pg from 'pg';
import type { RowsById } from '../core/row-reader.ts';
import type { TableInfo } from '../core/schema.ts';
import { ident, qualified } from './sql.ts';

/**
 * Reads some columns of some rows as text, share-locking them for the rest of the
 * transaction: a concurrent batch cannot change what a check saw before this one writes.
 */
export async function readRows(client: pg.ClientBase, table: TableInfo, idColumn: string, ids: string[], columns: string[]): Promise<RowsById> {
  const rows = new Map<string, Record<string, string | null>>();
  if (ids.length === 0) return rows;
  const idType = table.columns.get(idColumn)!.type;
  const selected = columns.map((c, i) => `${ident(c)}::text AS c${i}`);
  const result = await client.query<Record<string, string | null>>({
    text: `SELECT ${[`${ident(idColumn)}::text AS id`, ...selected].join(', ')} FROM ${qualified(table.schema, table.name)}
           WHERE ${ident(idColumn)} = ANY($1::${idType}[]) FOR SHARE`,
    values: [ids],
  });
  for (const row of result.rows) {
    rows.set(row.id!, Object.fromEntries(columns.map((c, i) => [c, row[`c${i}`] ?? null])));
  }
  return rows;
}
