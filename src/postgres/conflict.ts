import type pg from 'pg';
import { mergeFieldTimes } from '../core/field-times.ts';
import type { EntryProblem, Operation } from '../core/operation.ts';
import { ident, qualified } from './sql.ts';
import type { Params, StatementExtras } from './statements.ts';

/**
 * The conflict strategies of PROTOCOL.md section 6 as additions to an operation's own
 * statement: a guard on the stored row the write must pass, and the columns the server
 * keeps itself. Comparisons run in the database, on the column's own type.
 */
export async function conflictExtras(client: pg.ClientBase, operation: Operation): Promise<StatementExtras> {
  const { strategy, column } = operation.rule.conflict;
  const typeOf = (c: string) => operation.table.columns.get(c)!.type;
  const valueOf = (pairs: Operation['values'], c: string) => pairs.find(([name]) => name === c);
  switch (strategy) {
    case 'version': {
      // The client never bumps the counter: its value is only the version it saw.
      const base = valueOf(operation.old, column!) ?? valueOf(operation.values, column!);
      const bump: [string, (p: Params) => string] = [column!, () => `target.${ident(column!)} + 1`];
      return {
        values: operation.values.filter(([c]) => c !== column),
        guard: base && base[1] !== null ? (p) => `target.${ident(column!)} = ${p.add(base[1], typeOf(column!))}` : undefined,
        set: [bump],
        insert: [[column!, () => '1']],
      };
    }
    case 'timestamp': {
      // A DELETE carries its time in `old` (or loses nothing); a write carries it in data.
      const time = operation.op === 'DELETE' ? valueOf(operation.old, column!) : valueOf(operation.values, column!);
      if (!time || time[1] === null) return {};
      const stored = `target.${ident(column!)}`;
      return { guard: (p) => `${stored} IS NULL OR ${stored} <= ${p.add(time[1], typeOf(column!))}` };
    }
    case 'previous_values': {
      const changed = operation.op === 'DELETE' ? operation.old.map(([c]) => c) : operation.values.map(([c]) => c);
      const seen = operation.old.filter(([c]) => changed.includes(c));
      if (seen.length === 0) return {};
      return { guard: (p) => seen.map(([c, v]) => sameValue(`target.${ident(c)}`, p.add(v, typeOf(c)), typeOf(c))).join(' AND ') };
    }
    case 'field_timestamps':
      return operation.op === 'DELETE' ? {} : fieldTimestamps(client, operation, column!);
    default:
      return {};
  }
}

/** json has no equality operator: compare it as jsonb. */
function sameValue(stored: string, given: string, type: string): string {
  return type === 'json' ? `${stored}::jsonb IS NOT DISTINCT FROM ${given}::jsonb` : `${stored} IS NOT DISTINCT FROM ${given}`;
}

/** Per-field last write wins (see mergeFieldTimes), the times read under a row lock. */
async function fieldTimestamps(client: pg.ClientBase, operation: Operation, timesColumn: string): Promise<StatementExtras> {
  const { table, rule } = operation;
  const result = await client.query<{ times: Record<string, string> | null }>(
    `SELECT ${ident(timesColumn)}::jsonb AS times FROM ${qualified(table.schema, table.name)} WHERE ${ident(rule.idColumn)} = $1::${table.columns.get(rule.idColumn)!.type} FOR UPDATE`,
    [operation.id],
  );
  const { winners, times } = mergeFieldTimes(operation.values, timesColumn, operation.metadata, result.rows[0]?.times ?? {});
  const json = JSON.stringify(times);
  return {
    values: winners,
    set: [[timesColumn, (p) => p.add(json, 'jsonb')]],
    insert: [[timesColumn, (p) => p.add(json, 'jsonb')]],
  };
}

/**
 * After a guarded write changed nothing: the stored row, if any, as the client represents
 * it. A row means the write lost its check; none means a PATCH or DELETE of a missing row.
 */
export async function lostTo(client: pg.ClientBase, operation: Operation): Promise<EntryProblem | undefined> {
  const { table, rule } = operation;
  const result = await client.query<{ row: Record<string, unknown> }>(
    `SELECT to_jsonb(target) AS row FROM ${qualified(table.schema, table.name)} AS target WHERE target.${ident(rule.idColumn)} = $1::${table.columns.get(rule.idColumn)!.type}`,
    [operation.id],
  );
  const row = result.rows[0]?.row;
  if (!row) return undefined;
  const { strategy, column } = rule.conflict;
  const what = strategy === 'previous_values' ? 'a column it changes no longer holds the value the client saw' : `the stored ${column} is newer than the write's`;
  return {
    code: 'conflict',
    message: `${rule.clientName} ${operation.id}: ${operation.op} lost the ${strategy} check: ${what}`,
    current: clientRepresentation(row, operation),
  };
}

/** A stored row as a PowerSync client holds it: booleans 0/1, JSON and arrays as text, bytea as base64. */
export function clientRepresentation(row: Record<string, unknown>, operation: Operation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    const type = operation.table.columns.get(name)?.type ?? '';
    const key = name === operation.rule.idColumn ? 'id' : name;
    if (value === null) out[key] = null;
    else if (type === 'boolean') out[key] = value ? 1 : 0;
    else if (type === 'bytea' && typeof value === 'string') out[key] = Buffer.from(value.replace(/^\\x/, ''), 'hex').toString('base64');
    else if (type === 'json' || type === 'jsonb' || type.endsWith('[]') || typeof value === 'object') out[key] = JSON.stringify(value);
    else out[key] = value;
  }
  return out;
}
