import { isObject, type RawEntry } from '../protocol/wire.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { describeValue } from './describe-value.ts';
import type { EntryProblem, OpKind, Operation } from './operation.ts';
import type { TableInfo } from './schema.ts';

/** What validating one entry found. */
export type EntryCheck =
  | { kind: 'ok'; operation: Operation }
  | { kind: 'rejected'; problem: EntryProblem }
  /**
   * The live schema as last read lacks the table or a column the entry needs. The engine
   * re-reads the schema once before deciding, so a migration applied meanwhile is seen.
   */
  | { kind: 'schema_miss'; table: string; column?: string; configured: boolean; hold: boolean };

const OPS = new Set<OpKind>(['PUT', 'PATCH', 'DELETE']);

/**
 * Checks one entry against the table rules and the live schema and converts its values;
 * pure, so the engine can call it again after a schema refresh.
 */
export function validateEntry(entry: RawEntry, rules: TableRules, findTable: (name: string) => TableInfo | undefined): EntryCheck {
  const f = entry.fields;

  if (typeof f.op !== 'string' || !OPS.has(f.op as OpKind)) return malformed(`op must be PUT, PATCH or DELETE, got ${describeValue(f.op)}`);
  const op = f.op as OpKind;
  if (typeof f.type !== 'string' || f.type.length === 0) return malformed('type (the table name) is missing');
  if (typeof f.id !== 'string' || f.id.length === 0) return malformed(`${f.type}: id must be a non-empty string, got ${describeValue(f.id)}`);
  if (f.tx_id !== undefined && f.tx_id !== null && entry.txId === undefined) {
    return malformed(`tx_id must be an integer, got ${describeValue(f.tx_id)}`);
  }
  if (op !== 'DELETE' && f.data !== undefined && f.data !== null && !isObject(f.data)) {
    return malformed(`${f.type} ${f.id}: data must be an object, got ${describeValue(f.data)}`);
  }
  if (f.old !== undefined && f.old !== null && !isObject(f.old)) return malformed(`${f.type} ${f.id}: old must be an object`);
  if (f.metadata !== undefined && f.metadata !== null && typeof f.metadata !== 'string') {
    return malformed(`${f.type} ${f.id}: metadata must be text`);
  }

  const rule = rules.get(f.type);
  if (!rule) return { kind: 'rejected', problem: { code: 'unknown_table', message: `table ${f.type} is not writable` } };
  const table = findTable(rule.dbTable);
  if (!table) return { kind: 'schema_miss', table: rule.dbTable, configured: true, hold: false };

  const idColumn = table.columns.get(rule.idColumn);
  if (!idColumn) return { kind: 'schema_miss', table: rule.dbTable, column: rule.idColumn, configured: true, hold: false };
  const id = idColumn.convert(f.id);
  if (!id.ok || id.value === null) {
    return invalid(rule.clientName, rule.idColumn, id.ok ? 'a row id' : id.expected, f.id);
  }

  const values: Operation['values'] = [];
  const data = op === 'DELETE' || !isObject(f.data) ? {} : f.data;
  // for...in, not Object.entries: no array per entry (JSON objects have no inherited keys).
  for (const name in data) {
    const value = data[name];
    if (name === rule.idColumn) {
      // PowerSync puts the id outside `data`; tolerate it inside when it says the same.
      if (value === f.id) continue;
      return { kind: 'rejected', problem: { code: 'unknown_column', column: name, message: `${rule.clientName}.${name}: the key column cannot be written` } };
    }
    if (rule.columns && !rule.columns.has(name)) {
      return { kind: 'rejected', problem: { code: 'unknown_column', column: name, message: `${rule.clientName}.${name}: not a writable column` } };
    }
    const column = table.columns.get(name);
    if (!column) {
      return { kind: 'schema_miss', table: rule.dbTable, column: name, configured: rule.columns !== undefined, hold: rule.onUnknownColumn === 'hold' };
    }
    if (column.generated) {
      return { kind: 'rejected', problem: { code: 'unknown_column', column: name, message: `${rule.clientName}.${name}: a generated column cannot be written` } };
    }
    const converted = column.convert(value);
    if (!converted.ok) return invalid(rule.clientName, name, converted.expected, value);
    values.push([name, converted.value]);
  }
  return { kind: 'ok', operation: { entry, op, rule, table, id: id.value, values, old: convertOld(f.old, table), metadata: f.metadata ?? undefined } };
}

function malformed(message: string): EntryCheck {
  return { kind: 'rejected', problem: { code: 'malformed_operation', message } };
}

function invalid(table: string, column: string, expected: string, value: unknown): EntryCheck {
  return {
    kind: 'rejected',
    problem: { code: 'invalid_value', column, message: `${table}.${column}: expected ${expected}, got ${describeValue(value)}` },
  };
}

/**
 * `old` as the conflict checks compare it: known columns, converted like data. A value that
 * does not convert is left out (it cannot match anything stored).
 */
function convertOld(old: unknown, table: TableInfo): Operation['old'] {
  if (!isObject(old)) return [];
  const converted: Operation['old'] = [];
  for (const [name, value] of Object.entries(old)) {
    const result = table.columns.get(name)?.convert(value);
    if (result?.ok) converted.push([name, result.value]);
  }
  return converted;
}
