/** Quotes an identifier for Postgres: `my"col` -> `"my""col"`. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a table name given as `table` or `schema.table`. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

/**
 * Quotes a string as a SQL literal, whatever `standard_conforming_strings` says: with
 * backslashes, as an `E'...'` string with them doubled.
 */
export function literal(value: string): string {
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/**
 * Quotes a long string as a dollar-quoted literal, which needs no escaping at all: a batch's
 * JSON is full of backslashes, and doubling them costs more than finding a free tag.
 */
export function dollarQuoted(value: string): string {
  let tag = '$wp$';
  for (let n = 1; value.includes(tag) || value.endsWith(tag.slice(0, -1)); n++) tag = `$wp${n}$`;
  return `${tag}${value}${tag}`;
}
