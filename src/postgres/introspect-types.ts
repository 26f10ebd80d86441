import type { PgTypeDescription } from './codecs.ts';

/** A row of `TYPES_SQL`. */
export interface TypeRow {
  oid: number;
  name: string;
  schema: string;
  /** `b` base, `d` domain, `e` enum, `c` composite, `r` range, ... */
  typtype: string;
  category: string;
  base_oid: number;
  base_typmod: number;
  element_oid: number;
  enum_labels: string[] | null;
}

// Domains over domains are allowed; a cycle is not, but a broken catalog read (a type
// dropped between two queries) must not hang us either.
const MAX_DEPTH = 32;

/**
 * Describes the type `oid` with modifier `typmod` for `codecFor`: domains resolved to
 * their base type (with the domain's own modifier, as in `create domain d varchar(5)`),
 * array elements described with the array column's modifier (Postgres keeps one typmod
 * for `varchar(5)[]`), enum labels attached. A type missing from `types` describes as
 * unknown, which converts by passing values through to the database.
 */
export function describeType(oid: number, typmod: number, types: ReadonlyMap<number, TypeRow>, depth = 0): PgTypeDescription {
  const t = types.get(oid);
  if (!t || depth > MAX_DEPTH) return { name: `unknown type ${oid}`, category: 'X' };
  if (t.typtype === 'd') return describeType(t.base_oid, t.base_typmod, types, depth + 1);
  const d: PgTypeDescription = {
    name: t.schema === 'pg_catalog' ? t.name : `${t.schema}.${t.name}`,
    category: t.category,
  };
  if (t.typtype === 'e') d.enumLabels = t.enum_labels ?? [];
  if (t.category === 'A' && t.element_oid) {
    d.element = describeType(t.element_oid, typmod, types, depth + 1);
  } else if (typmod >= 0 && t.schema === 'pg_catalog') {
    Object.assign(d, decodeTypmod(t.name, typmod));
  }
  return d;
}

/** Length of varchar/char and precision/scale of numeric, from the stored modifier. */
function decodeTypmod(name: string, typmod: number): Partial<PgTypeDescription> {
  // Both store the declared value plus VARHDRSZ (4).
  if (name === 'varchar' || name === 'bpchar') return typmod >= 4 ? { maxLength: typmod - 4 } : {};
  if (name === 'numeric' && typmod >= 4) {
    const packed = typmod - 4;
    // Postgres 15+ packs a scale in -1000..1000 as an 11-bit two's complement number.
    return { precision: (packed >> 16) & 0xffff, scale: ((packed & 0x7ff) ^ 1024) - 1024 };
  }
  return {};
}
