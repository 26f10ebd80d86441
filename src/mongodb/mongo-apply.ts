import type { AnyBulkWriteOperation, ClientSession, Db, Document } from 'mongodb';
import type { ClientTransaction, EntryProblem, Operation } from '../core/operation.ts';
import type { TransactionOutcome } from '../core/store.ts';
import { applyGuarded } from './conflict.ts';
import { classifyMongoError } from './error-map.ts';
import type { MongoTableInfo } from './mongo-tables.ts';
import { writeModel } from './write-models.ts';

/**
 * What earlier attempts of this batch learned: client transactions (by the op_id of their
 * first entry) left out with their outcome, and whether to write entry by entry.
 */
export interface ApplyState {
  excluded: Map<number, TransactionOutcome>;
  exact: boolean;
}

/**
 * A MongoDB transaction has no savepoints, and a failed write aborts it: a client
 * transaction that cannot be applied (a duplicate key, a lost conflict check) is undone by
 * starting the batch's transaction again without it. Thrown by apply, caught by the Store.
 */
export class RestartBatch extends Error {
  constructor(
    /** The op_id of the first entry of the client transaction to leave out, or undefined: write entry by entry to find it. */
    readonly key: number | undefined,
    readonly outcome: TransactionOutcome | undefined,
  ) {
    super('restart the batch transaction');
  }
}

interface Run {
  collection: string;
  models: AnyBulkWriteOperation[];
  /** The operation of each model, and the key of its client transaction. */
  sources: Array<{ operation: Operation; key: number }>;
}

/**
 * Applies client transactions in order. Consecutive writes to one collection go out as one
 * ordered bulkWrite (one round trip, executed in order, so the result is that of applying
 * the entries one by one); writes under a conflict strategy read the stored document first,
 * one by one. When a write fails for good, the batch starts again without the guilty client
 * transaction: the bulk's failed index names it; without one, the next attempt writes entry
 * by entry to find it.
 */
export async function applyTransactions(
  db: Db,
  session: ClientSession,
  transactions: ClientTransaction<Operation>[],
  tableOf: (operation: Operation) => MongoTableInfo,
  state: ApplyState,
): Promise<TransactionOutcome[]> {
  const outcomes: TransactionOutcome[] = [];
  let run: Run | undefined;
  const flush = async () => {
    if (!run) return;
    const { collection, models, sources } = run;
    run = undefined;
    try {
      await db.collection(collection).bulkWrite(models, { session, ordered: true });
    } catch (error) {
      const index = (error as { writeErrors?: Array<{ index?: number }> }).writeErrors?.[0]?.index;
      const source = index !== undefined ? sources[index] : sources.length === 1 ? sources[0] : undefined;
      throw failure(error, source);
    }
  };

  for (const transaction of transactions) {
    const key = transaction.entries[0]!.entry.opId;
    const known = state.excluded.get(key);
    outcomes.push(known ?? { ok: true });
    if (known) continue;
    for (const operation of transaction.entries) {
      const table = tableOf(operation);
      if (operation.rule.conflict.strategy !== 'last_write_wins') {
        await flush();
        let problem: EntryProblem | undefined;
        try {
          problem = await applyGuarded(db.collection(table.name), session, operation, table);
        } catch (error) {
          throw failure(error, { operation, key });
        }
        if (problem) {
          const skip = problem.code === 'conflict' && operation.rule.conflict.onConflict === 'skip';
          throw new RestartBatch(key, { ok: false, opId: operation.entry.opId, problem, ...(skip && { skip }) });
        }
        continue;
      }
      const model = writeModel(operation, table);
      if (!model) continue;
      if (run && (run.collection !== table.name || state.exact)) await flush();
      run ??= { collection: table.name, models: [], sources: [] };
      run.models.push(model);
      run.sources.push({ operation, key });
    }
  }
  await flush();
  return outcomes;
}

/** What a failed write means: leave its client transaction out, find it first, or fail the batch. */
function failure(error: unknown, source: { operation: Operation; key: number } | undefined): Error {
  const meaning = classifyMongoError(error, source?.operation.rule.clientName);
  if (meaning.kind === 'batch') return meaning.error;
  if (!source) return new RestartBatch(undefined, undefined);
  return new RestartBatch(source.key, { ok: false, opId: source.operation.entry.opId, problem: meaning.problem });
}
