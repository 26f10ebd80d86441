import type { TableInfo } from '../core/schema.ts';
import type { DeleteAction, FactsSource, ForeignKeyFacts, TableFacts } from '../core/table-facts.ts';
import { checksInput } from './codecs.ts';
import type { ForeignKeyAction, LiveSchema, PgTableInfo } from './introspect.ts';

const ACTIONS: Record<ForeignKeyAction, DeleteAction> = { a: 'no action', r: 'restrict', c: 'cascade', n: 'set null', d: 'set default' };

// Types whose text form, as the codecs write it, is one per value (uuids lower case).
const CANONICAL = new Set(['uuid', 'int2', 'int4', 'int8', 'text', 'varchar']);

const tableKey = (schema: string, name: string) => JSON.stringify([schema, name]);

/**
 * The planner's view of a Postgres schema: per table, what decides between folding and
 * entry-by-entry application, with the foreign keys that point at it and what a DELETE
 * there reaches through cascades. Computed once per schema read.
 */
export function pgFactsSource(schema: LiveSchema): FactsSource {
  const tables = schema.tables();
  const referencedBy = new Map<string, ForeignKeyFacts[]>();
  const own = new Map<PgTableInfo, ForeignKeyFacts[]>();
  for (const table of tables) {
    const keys = table.foreignKeys.map(
      (fk): ForeignKeyFacts => ({
        table: tableKey(table.schema, table.name),
        columns: fk.columns,
        references: tableKey(fk.referencedSchema, fk.referencedTable),
        referencedColumns: fk.referencedColumns,
        onDelete: ACTIONS[fk.onDelete],
      }),
    );
    own.set(table, keys);
    for (const fk of keys) {
      const list = referencedBy.get(fk.references) ?? [];
      list.push(fk);
      referencedBy.set(fk.references, list);
    }
  }
  const byKey = new Map<string, PgTableInfo>(tables.map((t) => [tableKey(t.schema, t.name), t]));
  const cache = new Map<string, TableFacts>();

  const factsOf = (table: PgTableInfo): TableFacts => {
    const key = tableKey(table.schema, table.name);
    let facts = cache.get(key);
    if (facts && byKey.get(key) === table) return facts;
    facts = describe(table, key, own.get(table) ?? [], referencedBy.get(key) ?? [], (k) => byKey.get(k), referencedBy);
    if (byKey.get(key) === table) cache.set(key, facts);
    return facts;
  };
  return {
    of: (table) => (isPgTable(table) ? factsOf(table) : undefined),
    byKey: (key) => {
      const table = byKey.get(key);
      return table ? factsOf(table) : undefined;
    },
  };
}

function isPgTable(table: TableInfo): table is PgTableInfo {
  return Array.isArray((table as Partial<PgTableInfo>).foreignKeys) && Array.isArray((table as Partial<PgTableInfo>).uniqueKeys);
}

function describe(
  table: PgTableInfo,
  key: string,
  ownKeys: ForeignKeyFacts[],
  referencedBy: ForeignKeyFacts[],
  find: (key: string) => PgTableInfo | undefined,
  allReferencedBy: ReadonlyMap<string, ForeignKeyFacts[]>,
): TableFacts {
  const columns = [...table.columns.values()];
  const names = (keep: (c: (typeof columns)[number]) => boolean) => new Set(columns.filter(keep).map((c) => c.name));
  const reach = deleteReach(key, allReferencedBy);
  return {
    key,
    hasUserTriggers: table.hasUserTriggers,
    hasRules: table.hasRules,
    rowSecurity: table.rowSecurity,
    partitioned: table.partitioned,
    opaqueRowChecks: table.hasCheckConstraints || columns.some((c) => c.domain || c.generated),
    notNull: names((c) => !c.nullable && !c.generated),
    withDefault: names((c) => c.hasDefault || c.domain),
    identityAlways: names((c) => c.identity === 'a'),
    unchecked: names((c) => !checksInput(c.pgType)),
    canonical: names((c) => c.pgType.category !== 'A' && CANONICAL.has(c.pgType.name)),
    uniqueKeys: table.uniqueKeys,
    foreignKeys: ownKeys,
    referencedBy,
    deleteAffects: reach.affected,
    deleteFiresTriggers: [...reach.changed].some((k) => {
      const t = find(k);
      return !t || t.hasUserTriggers || t.hasRules;
    }),
  };
}

/**
 * What a DELETE on `start` reaches: the tables whose rows it changes through ON DELETE
 * CASCADE / SET NULL / SET DEFAULT, transitively (`changed`), and those plus the tables
 * whose foreign keys check the changed rows (`affected`). The start table's own NO ACTION /
 * RESTRICT children are left out: the planner orders those itself.
 */
function deleteReach(start: string, referencedBy: ReadonlyMap<string, ForeignKeyFacts[]>): { changed: Set<string>; affected: Set<string> } {
  const changed = new Set<string>();
  const affected = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const fk of referencedBy.get(at) ?? []) {
      const acts = fk.onDelete === 'cascade' || fk.onDelete === 'set null' || fk.onDelete === 'set default';
      if (acts) {
        affected.add(fk.table);
        if (!changed.has(fk.table)) {
          changed.add(fk.table);
          queue.push(fk.table);
        }
      } else if (at !== start) {
        affected.add(fk.table);
      }
    }
  }
  return { changed, affected };
}
