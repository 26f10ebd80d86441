/**
 * What the engine knows of a database table: its columns and how to turn a client's SQLite
 * value into a value the database accepts. Built by a Store from the live schema (Postgres)
 * or from declared types (MongoDB); the engine itself never looks at a database.
 */

/** A converted value, or what the column expected when the value does not convert. */
export type ConvertResult = { ok: true; value: string | null } | { ok: false; expected: string };

export interface ColumnInfo {
  name: string;
  /** The type as the database names it, e.g. `character varying(20)`, `integer[]`, `mood`. */
  type: string;
  nullable: boolean;
  /** Generated (computed) columns are never writable. */
  generated: boolean;
  hasDefault: boolean;
  /**
   * Converts a value as a PowerSync client sends it (text, integer, real, null; JSON values
   * also as objects) to the column type's text input form, ready to be cast with `::type`.
   * `null` converts to `null`; the NOT NULL rule is the database's to enforce.
   */
  convert(value: unknown): ConvertResult;
}

export interface TableInfo {
  /** Schema the table lives in, e.g. `public`. */
  schema: string;
  name: string;
  /** Columns in table order. */
  columns: Map<string, ColumnInfo>;
}
