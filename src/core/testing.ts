import type { ColumnInfo, TableInfo } from './schema.ts';

/**
 * Tables for the engine's unit tests, which need no database: every column is text and
 * converts any value to its text. Integration tests use real Postgres instead.
 */
export function textColumn(name: string): ColumnInfo {
  return {
    name,
    type: 'text',
    nullable: true,
    generated: false,
    hasDefault: false,
    convert: (value) => ({ ok: true, value: value === null ? null : String(value) }),
  };
}

/** A table `public.<name>` with an `id` key and the given text columns. */
export function textTable(name: string, columns: string[]): TableInfo {
  return { schema: 'public', name, columns: new Map(['id', ...columns].map((c) => [c, textColumn(c)])) };
}
