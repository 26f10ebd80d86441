/** Quotes an identifier for Postgres: `my"col` -> `"my""col"`. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a table name given as `table` or `schema.table`. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}
