import type { AnyBulkWriteOperation, ClientSession, Db } from 'mongodb';
import type { ClientTransaction, EntryProblem, Operation } from '../core/operation.ts';
import type { TransactionOutcome } from '../core/store.ts';
import { applyGuarded } from './conflict.ts';
import { classifyMongoError } from './error-map.ts';
import type { MongoTableInfo } from './mongo-tables.ts';
import { writeModel } from './write-models.ts';

/**
 * How writes go out:
 * - `collection`: one ordered bulkWrite per collection, collections one after the other.
 *   Collections have no foreign keys, triggers or cascades between them, so writes to two
 *   collections commute and the final state is that of op order.
 * - `ordered`: runs of consecutive writes to one collection, in op order, so the first
 *   write that fails is the first in op order (see RestartBatch).
 * - `single`: one write per request, for a server that does not say which write of a bulk failed.
 */
export type ApplyMode = 'collection' | 'ordered' | 'single';

/** What earlier attempts of this batch learned: client transactions left out (by the op_id of their first entry) and how to write. */
export interface ApplyState {
  excluded: Map<number, TransactionOutcome>;
  mode: ApplyMode;
}

/**
 * A MongoDB transaction has no savepoints, and a failed write aborts it: a client
 * transaction that cannot be applied (a duplicate key, a lost conflict check) is undone by
 * starting the batch's transaction again without it. Only the first failure in op order may
 * be blamed: entry by entry, an earlier transaction left out could have changed what a later
 * one found. Thrown by apply, caught by the Store.
 */
export class RestartBatch extends Error {
  constructor(readonly next: { key: number; outcome: TransactionOutcome } | { mode: ApplyMode }) {
    super('restart the batch transaction');
  }
}

interface Item {
  operation: Operation;
  table: MongoTableInfo;
  /** The op_id of the first entry of its client transaction. */
  key: number;
  /** Its place in op order among the writes of this call. */
  position: number;
}

/**
 * Applies client transactions, each completely or not at all (by restarting without it),
 * with the result of applying the entries one by one in op order. Writes under a conflict
 * strategy read the stored document first, one by one.
 */
export async function applyTransactions(
  db: Db,
  session: ClientSession,
  transactions: ClientTransaction<Operation>[],
  tableOf: (operation: Operation) => MongoTableInfo,
  state: ApplyState,
): Promise<TransactionOutcome[]> {
  const outcomes: TransactionOutcome[] = [];
  const items: Item[] = [];
  for (const transaction of transactions) {
    const key = transaction.entries[0]!.entry.opId;
    const known = state.excluded.get(key);
    outcomes.push(known ?? { ok: true });
    if (!known) for (const operation of transaction.entries) items.push({ operation, table: tableOf(operation), key, position: items.length });
  }
  const groups = state.mode === 'collection' ? byCollection(items) : runs(items);
  for (let g = 0; g < groups.length; g++) {
    // A failure is the first in op order when no write still to come stands before it.
    const first = (position: number) => groups.slice(g + 1).every((later) => later[0]!.position > position);
    await applyGroup(db, session, groups[g]!, state.mode, first);
  }
  return outcomes;
}

/** Items of one collection each, in op order within, collections in the order they first appear. */
function byCollection(items: Item[]): Item[][] {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    const group = groups.get(item.table.name);
    if (group) group.push(item);
    else groups.set(item.table.name, [item]);
  }
  return [...groups.values()];
}

/** Runs of consecutive items of one collection. */
function runs(items: Item[]): Item[][] {
  const groups: Item[][] = [];
  for (const item of items) {
    const last = groups[groups.length - 1];
    if (last && last[0]!.table.name === item.table.name) last.push(item);
    else groups.push([item]);
  }
  return groups;
}

/** The writes of one collection in order: unguarded ones gathered into bulks, guarded ones one by one. */
async function applyGroup(db: Db, session: ClientSession, group: Item[], mode: ApplyMode, first: (position: number) => boolean): Promise<void> {
  const collection = db.collection(group[0]!.table.name);
  let models: AnyBulkWriteOperation[] = [];
  let sources: Item[] = [];
  const flush = async () => {
    if (models.length === 0) return;
    const [sent, from] = [models, sources];
    [models, sources] = [[], []];
    try {
      await collection.bulkWrite(sent, { session, ordered: true });
    } catch (error) {
      const index = (error as { writeErrors?: Array<{ index?: number }> }).writeErrors?.[0]?.index;
      throw failure(error, index !== undefined ? from[index] : from.length === 1 ? from[0] : undefined, mode, first);
    }
  };
  for (const item of group) {
    const { operation, table } = item;
    if (operation.rule.conflict.strategy === 'last_write_wins') {
      const model = writeModel(operation, table);
      if (!model) continue;
      models.push(model);
      sources.push(item);
      if (mode === 'single') await flush();
      continue;
    }
    await flush();
    let problem: EntryProblem | undefined;
    try {
      problem = await applyGuarded(collection, session, operation, table);
    } catch (error) {
      throw failure(error, item, mode, first);
    }
    if (problem) {
      const skip = problem.code === 'conflict' && operation.rule.conflict.onConflict === 'skip';
      throw blame(item, { ok: false, opId: operation.entry.opId, problem, ...(skip && { skip }) }, mode, first);
    }
  }
  await flush();
}

/** What a failed write means: the batch fails, or it restarts without the guilty client transaction, or to find it. */
function failure(error: unknown, item: Item | undefined, mode: ApplyMode, first: (position: number) => boolean): Error {
  const meaning = classifyMongoError(error, item?.operation.rule.clientName);
  if (meaning.kind === 'batch') return meaning.error;
  if (!item) return new RestartBatch({ mode: 'single' });
  return blame(item, { ok: false, opId: item.operation.entry.opId, problem: meaning.problem }, mode, first);
}

function blame(item: Item, outcome: TransactionOutcome, mode: ApplyMode, first: (position: number) => boolean): RestartBatch {
  if (mode === 'collection' && !first(item.position)) return new RestartBatch({ mode: 'ordered' });
  return new RestartBatch({ key: item.key, outcome });
}
