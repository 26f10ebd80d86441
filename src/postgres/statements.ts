import type pg from 'pg';
import type { Operation } from '../core/operation.ts';
import { writableColumns } from '../core/table-facts.ts';
import { ident, qualified } from './sql.ts';

/** Numbered, typed parameters of one statement. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/** A SQL expression that may add parameters; `target` names the stored row. */
export type Expression = (params: Params) => string;

/** What a conflict strategy or soft delete adds to an operation's own statement. */
export interface StatementExtras {
  /** The columns to write instead of the operation's own values. */
  values?: Operation['values'];
  /** A condition on the stored row (`target`); when false the write does nothing. */
  guard?: Expression;
  /** More assignments when a stored row is written (`version = target.version + 1`). */
  set?: Array<[column: string, value: Expression]>;
  /** More values when a row is inserted. */
  insert?: Array<[column: string, value: Expression]>;
  /** DELETE marks the row through this column instead of removing it. */
  softDelete?: { column: string; value: string };
}

/**
 * The one statement that applies an operation on its own (PROTOCOL.md section 2.6), with a
 * conflict strategy's additions. The stored row is aliased `target` throughout.
 */
export function statementFor(operation: Operation, extras: StatementExtras = {}): pg.QueryConfig {
  const { table, rule } = operation;
  const into = `${qualified(table.schema, table.name)} AS target`;
  const key = ident(rule.idColumn);
  const typeOf = (column: string) => table.columns.get(column)!.type;
  const params = new Params();
  const id = params.add(operation.id, typeOf(rule.idColumn));
  const values = extras.values ?? operation.values;
  const set = (extras.set ?? []).map(([column, value]) => `${ident(column)} = ${value(params)}`);
  const where = (base: string) => {
    const guard = extras.guard?.(params);
    return guard ? `${base} AND (${guard})` : base;
  };

  if (operation.op === 'DELETE') {
    if (!extras.softDelete) return { text: where(`DELETE FROM ${into} WHERE target.${key} = ${id}`), values: params.values };
    const mark = [`${ident(extras.softDelete.column)} = ${extras.softDelete.value}`, ...set];
    return { text: where(`UPDATE ${into} SET ${mark.join(', ')} WHERE target.${key} = ${id}`), values: params.values };
  }
  if (operation.op === 'PATCH') {
    if (values.length === 0) return { text: 'SELECT 1', values: [] };
    const sets = [...values.map(([column, value]) => `${ident(column)} = ${params.add(value, typeOf(column))}`), ...set];
    return { text: where(`UPDATE ${into} SET ${sets.join(', ')} WHERE target.${key} = ${id}`), values: params.values };
  }

  // PUT: insert, or update the existing row per the table's put mode.
  const given = new Map(values);
  const extraInserts = extras.insert ?? [];
  const managed = new Set([...extraInserts.map(([c]) => c), ...(extras.set ?? []).map(([c]) => c)]);
  const columns = (rule.put === 'replace' ? writableColumns(operation) : [...given.keys()]).filter((c) => !managed.has(c));
  const inserted = [
    ...columns.map((c) => (given.has(c) ? params.add(given.get(c), typeOf(c)) : 'DEFAULT')),
    ...extraInserts.map(([, value]) => value(params)),
  ];
  // Replace sets what the entry lacks to NULL on an existing row; a new row takes defaults.
  const updates = [...columns.map((c) => `${ident(c)} = ${given.has(c) ? `EXCLUDED.${ident(c)}` : 'NULL'}`), ...set];
  const guard = extras.guard?.(params);
  // A guarded write with nothing to set still has to report whether the guard held.
  const action =
    updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : guard ? `DO UPDATE SET ${key} = target.${key}` : 'DO NOTHING';
  const names = [key, ...columns.map(ident), ...extraInserts.map(([c]) => ident(c))];
  return {
    text: `INSERT INTO ${into} (${names.join(', ')}) VALUES (${[id, ...inserted].join(', ')})
      ON CONFLICT (${key}) ${action}${guard ? ` WHERE ${guard}` : ''}`,
    values: params.values,
  };
}
