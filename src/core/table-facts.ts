import type { TableRule } from '../rules/table-rules.ts';
import type { Operation } from './operation.ts';
import type { TableInfo } from './schema.ts';

/** What deleting a referenced row does to the rows that reference it. */
export type DeleteAction = 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';

export interface ForeignKeyFacts {
  /** The referencing table's `TableFacts.key`. */
  table: string;
  columns: readonly string[];
  /** The referenced table's `TableFacts.key`. */
  references: string;
  referencedColumns: readonly string[];
  onDelete: DeleteAction;
}

/**
 * What the planner must know of a table to tell whether folding a batch is provably the
 * same as applying it entry by entry. A Store derives it from its schema; a table without
 * facts always takes the exact path.
 */
export interface TableFacts {
  /** Identifies the table among all tables of the database. */
  key: string;
  hasUserTriggers: boolean;
  hasRules: boolean;
  rowSecurity: boolean;
  partitioned: boolean;
  /**
   * CHECK constraints, domain-typed or generated columns: the database may refuse a row
   * image for reasons the planner cannot see, so no image may be folded away unchecked.
   */
  opaqueRowChecks: boolean;
  /** NOT NULL columns, generated ones left out. */
  notNull: ReadonlySet<string>;
  /** Columns an insert that leaves them out fills with a default (own, identity or domain), not NULL. */
  withDefault: ReadonlySet<string>;
  /** GENERATED ALWAYS identity columns. */
  identityAlways: ReadonlySet<string>;
  /** Columns whose values reach the database unchecked (no codec of their own): it may refuse them. */
  unchecked: ReadonlySet<string>;
  /** Columns whose converted text identifies the value: equal values have equal text (uuid, integers, text). */
  canonical: ReadonlySet<string>;
  /** Unique indexes and exclusion constraints besides the key; null: may read any column. */
  uniqueKeys: ReadonlyArray<readonly string[] | null>;
  /** Foreign keys of this table. */
  foreignKeys: readonly ForeignKeyFacts[];
  /** Foreign keys of other tables (or this one) that reference this table. */
  referencedBy: readonly ForeignKeyFacts[];
  /**
   * Tables a DELETE here changes through ON DELETE CASCADE / SET NULL / SET DEFAULT
   * (transitively), and the tables whose foreign keys check those changes.
   */
  deleteAffects: ReadonlySet<string>;
  /** Whether a table a DELETE here changes through cascades has triggers or rules. */
  deleteFiresTriggers: boolean;
}

/** Facts of the tables of one schema as last read. */
export interface FactsSource {
  of(table: TableInfo): TableFacts | undefined;
  byKey(key: string): TableFacts | undefined;
}

/**
 * Why operations on a table must take the exact path, entry by entry, or undefined when the
 * planner may fold them. The one place that decides it per table; conflict strategies
 * other than last write wins and per-entry hooks add their reasons here. What depends on
 * how tables interleave within a batch (foreign keys, cascades) is decided by `segment`.
 *
 * @example
 * exactPathReason(rule, facts, operationsOfTheTable); // 'the table has triggers'
 */
export function exactPathReason(rule: TableRule, facts: TableFacts | undefined, operations: readonly Operation[]): string | undefined {
  if (rule.apply === 'exact') return 'apply: exact';
  if (rule.conflict.strategy !== 'last_write_wins') return `the conflict strategy ${rule.conflict.strategy}`;
  if (rule.softDelete) return 'soft deletes';
  if (operations.some((o) => o.handler)) return 'a library handler';
  if (!facts) return 'nothing is known of the table';
  if (facts.hasUserTriggers) return 'the table has triggers';
  if (facts.hasRules) return 'the table has rewrite rules';
  if (facts.rowSecurity) return 'the table has row-level security';
  if (facts.partitioned) return 'the table is partitioned';
  if (facts.identityAlways.size > 0) return 'the table has a GENERATED ALWAYS identity column';
  if (facts.foreignKeys.some((fk) => fk.references === facts.key)) return 'a foreign key of the table references the table itself';
  if (facts.deleteFiresTriggers && operations.some((o) => o.op === 'DELETE')) return 'a DELETE that cascades into a table with triggers';
  for (const operation of operations) {
    if (operation.op === 'PUT' && missesNotNull(operation, facts)) return 'a PUT without a value for a NOT NULL column';
  }
  if (facts.uniqueKeys.length > 0) {
    // Set-based statements pass through other intermediate states than entry-by-entry
    // application, and Postgres checks uniqueness row by row: a swap of two values can
    // fail one way and pass the other.
    for (const operation of operations) {
      if (operation.op === 'PUT') return 'a unique index besides the key, and a PUT';
      if (operation.op === 'PATCH' && facts.uniqueKeys.some((key) => key === null || operation.values.some(([c]) => key.includes(c)))) {
        return 'a PATCH of a column under a unique index besides the key';
      }
    }
  }
  return undefined;
}

/**
 * Entry by entry a PUT is an INSERT ... ON CONFLICT, and Postgres checks the row it would
 * insert before it looks for the conflict: a PUT that leaves a NOT NULL column without a
 * default out (or carries null for it) is refused even where the row exists. Such a PUT
 * is bound to be rejected; the exact path says so in the database's own words.
 */
function missesNotNull(operation: Operation, facts: TableFacts): boolean {
  for (const column of facts.notNull) {
    if (column === operation.rule.idColumn) continue;
    const given = operation.values.find(([c]) => c === column);
    if (given ? given[1] === null : !facts.withDefault.has(column)) return true;
  }
  return false;
}

/** The columns a PUT with `put: replace` sets: the configured ones, else all but generated and the key. */
export function writableColumns(operation: Pick<Operation, 'table' | 'rule'>): string[] {
  const { table, rule } = operation;
  return [...table.columns.values()]
    .filter((c) => !c.generated && c.name !== rule.idColumn && (!rule.columns || rule.columns.has(c.name)))
    .map((c) => c.name);
}
