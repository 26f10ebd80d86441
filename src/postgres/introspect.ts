import pg from 'pg';
import type { ColumnInfo, TableInfo } from '../core/schema.ts';
import { codecFor, type PgTypeDescription } from './codecs.ts';
import { COLUMNS_SQL, KEYS_SQL, SEARCH_PATH_SQL, TYPES_SQL, UNIQUE_SQL } from './introspect-queries.ts';
import { describeType, type TypeRow } from './introspect-types.ts';

/** A column as read from Postgres. */
export interface PgColumnInfo extends ColumnInfo {
  /** `pg_attribute.atttypid`: the declared type, a domain if the column uses one. */
  typeOid: number;
  /** The type as the codec sees it: domains resolved, with limits and enum labels. */
  pgType: PgTypeDescription;
  /** `a` GENERATED ALWAYS AS IDENTITY, `d` BY DEFAULT, `''` not an identity column. */
  identity: '' | 'a' | 'd';
  /** Whether the declared type is a domain (whose constraints and default the database applies). */
  domain: boolean;
}

/**
 * A foreign key action, as `pg_constraint.confdeltype` spells it: `a` no action,
 * `r` restrict, `c` cascade, `n` set null, `d` set default.
 */
export type ForeignKeyAction = 'a' | 'r' | 'c' | 'n' | 'd';

export interface ForeignKeyInfo {
  /** Constraint name. */
  name: string;
  /** Referencing columns of this table, in key order. */
  columns: string[];
  /** The referenced table as `schema.table`. */
  references: string;
  referencedSchema: string;
  referencedTable: string;
  /** Referenced columns, in the same order as `columns`. */
  referencedColumns: string[];
  onDelete: ForeignKeyAction;
  onUpdate: ForeignKeyAction;
}

/** A table as read from Postgres, with what the planner needs to pick fast or exact apply. */
export interface PgTableInfo extends TableInfo {
  oid: number;
  /** A partitioned table (its partitions are listed as tables of their own too). */
  partitioned: boolean;
  columns: Map<string, PgColumnInfo>;
  /** Primary key columns in key order; empty without a primary key. */
  primaryKey: string[];
  /** Foreign keys of this table (it is the referencing side). */
  foreignKeys: ForeignKeyInfo[];
  /** Whether the table has triggers other than those Postgres makes for constraints. */
  hasUserTriggers: boolean;
  /** Whether the table has CHECK constraints of its own (domain checks are per column). */
  hasCheckConstraints: boolean;
  /** Whether rewrite rules (CREATE RULE) apply to the table. */
  hasRules: boolean;
  /** Whether row-level security is enabled on the table. */
  rowSecurity: boolean;
  /**
   * Unique indexes and exclusion constraints other than the primary key: their columns, or
   * null when an expression or predicate may read any column.
   */
  uniqueKeys: Array<string[] | null>;
}

/** The tables of a database at the moment it was read. */
export interface LiveSchema {
  /**
   * A table by `table` or `schema.table` (parts may be double-quoted, as in SQL). Names
   * match exactly, case included; an unqualified name is looked up along the
   * connection's `current_schemas(false)`, first match wins, as Postgres resolves it.
   */
  find(name: string): PgTableInfo | undefined;
  /** Every table, ordered by schema then name. */
  tables(): PgTableInfo[];
  /** `current_schemas(false)` of the connection that read the schema. */
  readonly searchPath: readonly string[];
  /** `server_version_num` of the database, e.g. 180001. */
  readonly serverVersion: number;
}

interface ColumnRow {
  rel_oid: number;
  schema: string;
  table_name: string;
  relkind: string;
  has_user_triggers: boolean;
  has_checks: boolean;
  has_rules: boolean;
  row_security: boolean;
  column_name: string | null;
  type: string;
  type_oid: number;
  typmod: number;
  nullable: boolean;
  generated: boolean;
  identity: string;
  has_default: boolean;
}

interface KeyRow {
  rel_oid: number;
  kind: 'p' | 'f';
  name: string;
  columns: string[];
  ref_schema: string;
  ref_table: string;
  ref_columns: string[];
  on_delete: ForeignKeyAction;
  on_update: ForeignKeyAction;
}

/**
 * Reads every ordinary and partitioned table outside the system schemas, with columns,
 * value codecs, keys and trigger presence, in four catalog queries whatever the number of
 * tables. Views are not read: writes go to tables.
 *
 * @example
 * const schema = await introspect(pool);
 * const todos = schema.find('todos');
 * todos?.columns.get('completed')?.convert(1); // { ok: true, value: 't' }
 */
export async function introspect(db: pg.Pool | pg.ClientBase): Promise<LiveSchema> {
  if (!(db instanceof pg.Pool)) return read(db);
  // One connection for all queries, so the search path is the one the tables resolve by.
  const client = await db.connect();
  try {
    return await read(client);
  } finally {
    client.release();
  }
}

async function read(client: pg.ClientBase): Promise<LiveSchema> {
  const settings = (await client.query<{ path: string[]; version: number }>(SEARCH_PATH_SQL)).rows[0];
  const path = settings?.path ?? [];
  const columnRows = (await client.query<ColumnRow>(COLUMNS_SQL)).rows;
  const relOids = [...new Set(columnRows.map((r) => r.rel_oid))];
  const typeOids = [...new Set(columnRows.flatMap((r) => (r.column_name === null ? [] : [r.type_oid])))];
  const typeRows = (await client.query<TypeRow>(TYPES_SQL, [typeOids])).rows;
  const keyRows = (await client.query<KeyRow>(KEYS_SQL, [relOids])).rows;
  const uniqueRows = (await client.query<{ rel_oid: number; columns: string[] | null }>(UNIQUE_SQL, [relOids])).rows;

  const types = new Map(typeRows.map((t) => [t.oid, t]));
  const byOid = new Map<number, PgTableInfo>();
  for (const row of columnRows) {
    let table = byOid.get(row.rel_oid);
    if (!table) {
      table = {
        oid: row.rel_oid,
        schema: row.schema,
        name: row.table_name,
        partitioned: row.relkind === 'p',
        columns: new Map(),
        primaryKey: [],
        foreignKeys: [],
        hasUserTriggers: row.has_user_triggers,
        hasCheckConstraints: row.has_checks,
        hasRules: row.has_rules,
        rowSecurity: row.row_security,
        uniqueKeys: [],
      };
      byOid.set(row.rel_oid, table);
    }
    if (row.column_name !== null) table.columns.set(row.column_name, toColumn(row, row.column_name, types));
  }
  for (const key of keyRows) {
    const table = byOid.get(key.rel_oid);
    if (!table) continue;
    if (key.kind === 'p') table.primaryKey = key.columns;
    else table.foreignKeys.push(toForeignKey(key));
  }
  for (const unique of uniqueRows) byOid.get(unique.rel_oid)?.uniqueKeys.push(unique.columns);
  return new Schema([...byOid.values()], path, settings?.version ?? 0);
}

function toColumn(row: ColumnRow, name: string, types: ReadonlyMap<number, TypeRow>): PgColumnInfo {
  const pgType = describeType(row.type_oid, row.typmod, types);
  return {
    name,
    type: row.type,
    nullable: row.nullable,
    generated: row.generated,
    hasDefault: row.has_default,
    convert: codecFor(pgType),
    typeOid: row.type_oid,
    pgType,
    identity: row.identity === 'a' || row.identity === 'd' ? row.identity : '',
    domain: types.get(row.type_oid)?.typtype === 'd',
  };
}

function toForeignKey(key: KeyRow): ForeignKeyInfo {
  return {
    name: key.name,
    columns: key.columns,
    references: `${key.ref_schema}.${key.ref_table}`,
    referencedSchema: key.ref_schema,
    referencedTable: key.ref_table,
    referencedColumns: key.ref_columns,
    onDelete: key.on_delete,
    onUpdate: key.on_update,
  };
}

class Schema implements LiveSchema {
  private readonly bySchema = new Map<string, Map<string, PgTableInfo>>();

  constructor(
    private readonly all: PgTableInfo[],
    readonly searchPath: readonly string[],
    readonly serverVersion: number,
  ) {
    for (const t of all) {
      let tables = this.bySchema.get(t.schema);
      if (!tables) this.bySchema.set(t.schema, (tables = new Map()));
      tables.set(t.name, t);
    }
  }

  find(name: string): PgTableInfo | undefined {
    const parsed = parseTableName(name);
    if (!parsed) return undefined;
    if (parsed.schema !== undefined) return this.bySchema.get(parsed.schema)?.get(parsed.name);
    for (const schema of this.searchPath) {
      const table = this.bySchema.get(schema)?.get(parsed.name);
      if (table) return table;
    }
    return undefined;
  }

  tables(): PgTableInfo[] {
    return [...this.all];
  }
}

/**
 * Splits `table`, `schema.table`, `"my.schema"."Table"` into its parts; undefined for
 * anything else (three parts, an unclosed quote, an empty part).
 */
export function parseTableName(name: string): { schema?: string; name: string } | undefined {
  const parts: string[] = [];
  let rest = name;
  for (;;) {
    const m = /^(?:"((?:[^"]|"")+)"|([^".]+))/.exec(rest);
    if (!m) return undefined;
    parts.push(m[1] !== undefined ? m[1].replaceAll('""', '"') : (m[2] ?? ''));
    rest = rest.slice(m[0].length);
    if (rest === '') break;
    if (!rest.startsWith('.') || parts.length === 2) return undefined;
    rest = rest.slice(1);
  }
  return parts.length === 1 ? { name: parts[0]! } : { schema: parts[0]!, name: parts[1]! };
}
