import type pg from 'pg';
import type { ClientTransaction, Operation } from '../core/operation.ts';
import type { TransactionOutcome } from '../core/store.ts';
import { writableColumns } from '../core/table-facts.ts';
import { classifyPgError } from './error-map.ts';
import { ident, qualified } from './sql.ts';

/**
 * The exact path: every entry as its own statement, in op order, each client transaction
 * under a savepoint so a permanent error rolls back just that transaction. Always correct;
 * the set-based planner falls back to it where folding cannot be proven equal.
 */
export async function applyExact(client: pg.ClientBase, transactions: ClientTransaction<Operation>[]): Promise<TransactionOutcome[]> {
  const outcomes: TransactionOutcome[] = [];
  for (const transaction of transactions) {
    await client.query('SAVEPOINT wp_tx');
    let outcome: TransactionOutcome = { ok: true };
    for (const operation of transaction.entries) {
      try {
        await client.query(statementFor(operation));
      } catch (error) {
        const meaning = classifyPgError(error, operation.rule.clientName);
        if (meaning.kind === 'batch') throw meaning.error;
        outcome = { ok: false, opId: operation.entry.opId, problem: meaning.problem };
        break;
      }
    }
    await client.query(outcome.ok ? 'RELEASE SAVEPOINT wp_tx' : 'ROLLBACK TO SAVEPOINT wp_tx');
    outcomes.push(outcome);
  }
  return outcomes;
}

/** The one statement that applies an operation on its own (PROTOCOL.md section 2.6). */
export function statementFor(operation: Operation): pg.QueryConfig {
  const { table, rule } = operation;
  const target = qualified(table.schema, table.name);
  const key = ident(rule.idColumn);
  const keyType = table.columns.get(rule.idColumn)!.type;
  const typeOf = (column: string) => table.columns.get(column)!.type;
  const params: unknown[] = [operation.id];
  const param = (value: unknown, type: string) => {
    params.push(value);
    return `$${params.length}::${type}`;
  };

  if (operation.op === 'DELETE') {
    return { text: `DELETE FROM ${target} WHERE ${key} = $1::${keyType}`, values: params };
  }
  if (operation.op === 'PATCH') {
    if (operation.values.length === 0) return { text: 'SELECT 1', values: [] };
    const sets = operation.values.map(([column, value]) => `${ident(column)} = ${param(value, typeOf(column))}`);
    return { text: `UPDATE ${target} SET ${sets.join(', ')} WHERE ${key} = $1::${keyType}`, values: params };
  }

  // PUT: insert, or update the existing row per the table's put mode.
  const given = new Map(operation.values);
  const columns = rule.put === 'replace' ? writableColumns(operation) : [...given.keys()];
  const inserted = columns.map((c) => (given.has(c) ? param(given.get(c), typeOf(c)) : 'DEFAULT'));
  // Replace sets what the entry lacks to NULL on an existing row; a new row takes defaults.
  const updates = columns.map((c) => `${ident(c)} = ${given.has(c) ? `EXCLUDED.${ident(c)}` : 'NULL'}`);
  const conflict = updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING';
  return {
    text: `INSERT INTO ${target} (${[key, ...columns.map(ident)].join(', ')}) VALUES ($1::${keyType}${inserted.map((v) => `, ${v}`).join('')})
      ON CONFLICT (${key}) ${conflict}`,
    values: params,
  };
}

// The fold shares the definition, so both paths mean the same by `put: replace`.
export { writableColumns };
