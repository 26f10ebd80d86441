// Builders for the planner's unit tests: tables, facts and operations without a database.
import type { RawEntry } from '../../src/protocol/wire.ts';
import type { TableRule } from '../../src/rules/table-rules.ts';
import type { ClientTransaction, OpKind, Operation } from '../../src/core/operation.ts';
import type { ColumnInfo, TableInfo } from '../../src/core/schema.ts';
import type { FactsSource, ForeignKeyFacts, TableFacts } from '../../src/core/table-facts.ts';

export function table(name: string, columns: string[]): TableInfo {
  const column = (c: string): ColumnInfo => ({
    name: c,
    type: 'text',
    nullable: true,
    generated: false,
    hasDefault: false,
    convert: (v) => ({ ok: true, value: v === null ? null : String(v) }),
  });
  return { schema: 'public', name, columns: new Map(['id', ...columns].map((c) => [c, column(c)])) };
}

export function facts(t: TableInfo, more: Partial<TableFacts> = {}): TableFacts {
  return {
    key: t.name,
    hasUserTriggers: false,
    hasRules: false,
    rowSecurity: false,
    partitioned: false,
    opaqueRowChecks: false,
    notNull: new Set(['id']),
    withDefault: new Set(),
    identityAlways: new Set(),
    unchecked: new Set(),
    canonical: new Set(t.columns.keys()),
    uniqueKeys: [],
    foreignKeys: [],
    referencedBy: [],
    deleteAffects: new Set(),
    deleteFiresTriggers: false,
    ...more,
  };
}

export const fk = (child: string, column: string, parent: string, onDelete: ForeignKeyFacts['onDelete'] = 'no action'): ForeignKeyFacts => ({
  table: child,
  columns: [column],
  references: parent,
  referencedColumns: ['id'],
  onDelete,
});

export function source(...all: Array<[TableInfo, TableFacts]>): FactsSource {
  const byTable = new Map(all);
  const byKey = new Map(all.map(([, f]) => [f.key, f]));
  return { of: (t) => byTable.get(t), byKey: (k) => byKey.get(k) };
}

export function rule(name: string, more: Partial<TableRule> = {}): TableRule {
  return {
    clientName: name,
    dbTable: name,
    idColumn: 'id',
    columns: undefined,
    put: 'merge',
    apply: 'fast',
    onUnknownColumn: 'reject',
    ownerColumn: undefined,
    owner: undefined,
    conflict: { strategy: 'last_write_wins', column: undefined, onConflict: 'reject' },
    softDelete: undefined,
    validate: undefined,
    ...more,
  };
}

let nextOpId = 1;

/** An operation as validation would make it; values are taken as already converted. */
export function op(t: TableInfo, r: TableRule, kind: OpKind, id: string, data: Record<string, string | null> = {}): Operation {
  const entry: RawEntry = { opId: nextOpId++, txId: undefined, fields: { op: kind, type: r.clientName, id, data } };
  return { entry, op: kind, rule: r, table: t, id, values: Object.entries(data), old: [], metadata: undefined };
}

/** Each argument one client transaction. */
export const txs = (...groups: Operation[][]): ClientTransaction<Operation>[] => groups.map((entries, i) => ({ txId: i + 1, entries }));
