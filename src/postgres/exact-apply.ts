import type pg from 'pg';
import type { ClientTransaction, Operation } from '../core/operation.ts';
import type { AuthContext, TransactionOutcome } from '../core/store.ts';
import { applyOperation } from './apply-operation.ts';
import type { RowLevelSecurity } from './row-level-security.ts';

/**
 * The exact path: every entry as its own statement, in op order, each client transaction
 * under a savepoint so a permanent error rolls back just that transaction. Always correct;
 * the set-based planner falls back to it where folding cannot be proven equal.
 */
export async function applyExact(
  client: pg.ClientBase,
  transactions: ClientTransaction<Operation>[],
  auth: AuthContext,
  rls?: RowLevelSecurity,
): Promise<TransactionOutcome[]> {
  const outcomes: TransactionOutcome[] = [];
  for (const transaction of transactions) {
    await client.query('SAVEPOINT wp_tx');
    let outcome: TransactionOutcome = { ok: true };
    for (const operation of transaction.entries) {
      const problem = await applyOperation(operation, { client, auth, rls });
      if (problem) {
        const skip = problem.code === 'conflict' && operation.rule.conflict.onConflict === 'skip';
        outcome = { ok: false, opId: operation.entry.opId, problem, ...(skip && { skip }) };
        break;
      }
    }
    await client.query(outcome.ok ? 'RELEASE SAVEPOINT wp_tx' : 'ROLLBACK TO SAVEPOINT wp_tx');
    outcomes.push(outcome);
  }
  return outcomes;
}
