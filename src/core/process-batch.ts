import type { BatchResponse, RejectedEntry } from '../protocol/response.ts';
import type { BatchRequest, RawEntry } from '../protocol/wire.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { WritepathError } from './errors.ts';
import { groupTransactions, type ClientTransaction, type EntryProblem, type Operation } from './operation.ts';
import { resolveEntries } from './resolve-entries.ts';
import type { AuthContext, RejectionRecord, Store, StoreTransaction } from './store.ts';

export interface EngineOptions {
  store: Store;
  rules: TableRules;
  /** Attempts for a batch that hits a serialization failure or deadlock (default 3). */
  maxAttempts?: number;
}

/**
 * Processes one batch exactly once: skips what the ledger says is done, applies each client
 * transaction completely or rejects it, records rejections and moves the ledger, all in
 * one database transaction committed before this resolves. Knows nothing of HTTP.
 */
export async function processBatch(options: EngineOptions, request: BatchRequest, auth: AuthContext): Promise<BatchResponse> {
  const maxAttempts = options.maxAttempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await options.store.transaction(auth, (tx) => processInTransaction(options, tx, request, auth));
    } catch (error) {
      // Serialization failures and deadlocks usually pass on a second try; the client
      // would retry anyway, but an answer now is kinder than a 503.
      if (error instanceof WritepathError && error.code === 'write_conflict' && attempt < maxAttempts) {
        await delay(10 * attempt + Math.random() * 20);
        continue;
      }
      throw error;
    }
  }
}

async function processInTransaction(
  options: EngineOptions,
  tx: StoreTransaction,
  request: BatchRequest,
  auth: AuthContext,
): Promise<BatchResponse> {
  const { clientId, entries } = request;
  const ledger = await tx.lockLedger(auth.userId, clientId);
  const fresh = entries.filter((e) => e.opId > ledger);
  const duplicates = entries.length - fresh.length;

  const rejected: RejectedEntry[] = [];
  let applied = 0;
  // A large batch is validated and applied a part at a time, whole client transactions
  // each, in order: the validated operations it holds are bounded by the part, not the batch.
  for (const groups of parts(groupTransactions(fresh), PART_ENTRIES)) {
    const checks = await resolveEntries(groups.length === 1 ? groups[0]!.entries : groups.flatMap((g) => g.entries), options.rules, options.store);
    const valid: ClientTransaction<Operation>[] = [];
    for (const group of groups) {
      const problems = group.entries.map((e) => checks.get(e)!).filter((c) => c.kind === 'rejected');
      const first = problems[0];
      if (first && first.kind === 'rejected') {
        rejected.push(...rejectTransaction(group.entries, first.entry, first.problem));
      } else {
        valid.push({ txId: group.txId, entries: group.entries.map((e) => (checks.get(e) as { operation: Operation }).operation) });
      }
    }
    const outcomes = await tx.apply(valid);
    valid.forEach((group, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) {
        applied += group.entries.length;
        return;
      }
      const raw = group.entries.map((o) => o.entry);
      const cause = raw.find((e) => e.opId === outcome.opId) ?? raw[0]!;
      rejected.push(...rejectTransaction(raw, cause, outcome.problem));
    });
  }
  rejected.sort((a, b) => a.op_id - b.op_id);

  const byOpId = new Map(rejected.length > 0 ? fresh.map((e) => [e.opId, e]) : []);
  await tx.recordRejections(rejected.map((r) => rejectionRecord(r, auth.userId, clientId, byOpId)));
  // op_ids are strictly increasing (checked when the request was parsed).
  const lastOpId = Math.max(ledger, fresh.length > 0 ? fresh[fresh.length - 1]!.opId : ledger);
  if (lastOpId > ledger) await tx.advanceLedger(auth.userId, clientId, lastOpId);
  return { client_id: clientId, last_op_id: lastOpId, applied, duplicates, skipped: 0, rejected };
}

/** Every entry of a rejected client transaction: the cause with its code, the rest pointing at it. */
function rejectTransaction(entries: RawEntry[], cause: RawEntry, problem: EntryProblem): RejectedEntry[] {
  return entries.map((entry) =>
    entry === cause
      ? rejectedEntry(entry, { code: problem.code, message: problem.message, ...(problem.column !== undefined && { column: problem.column }) })
      : rejectedEntry(entry, {
          code: 'transaction_rejected',
          message: `op ${cause.opId} of the same client transaction was rejected (${problem.code})`,
          cause_op_id: cause.opId,
        }),
  );
}

function rejectedEntry(entry: RawEntry, rest: Pick<RejectedEntry, 'code' | 'message' | 'column' | 'cause_op_id'>): RejectedEntry {
  const f = entry.fields;
  const out: RejectedEntry = { op_id: entry.opId, code: rest.code, message: rest.message };
  if (entry.txId !== undefined) out.tx_id = entry.txId;
  if (typeof f.op === 'string') out.op = f.op;
  if (typeof f.type === 'string') out.type = f.type;
  if (typeof f.id === 'string') out.id = f.id;
  if (rest.column !== undefined) out.column = rest.column;
  if (rest.cause_op_id !== undefined) out.cause_op_id = rest.cause_op_id;
  return out;
}

function rejectionRecord(r: RejectedEntry, userId: string, clientId: string, entries: ReadonlyMap<number, RawEntry>): RejectionRecord {
  const f = entries.get(r.op_id)?.fields ?? {};
  return {
    userId,
    clientId,
    opId: r.op_id,
    txId: r.tx_id,
    op: r.op,
    type: r.type,
    rowId: r.id,
    data: f.data ?? null,
    old: f.old ?? null,
    metadata: typeof f.metadata === 'string' ? f.metadata : undefined,
    code: r.code,
    columnName: r.column,
    message: r.message,
  };
}

/** Entries per part of a large batch (see processInTransaction). */
const PART_ENTRIES = 10_000;

/** Consecutive runs of whole client transactions of about `size` entries. */
function* parts<T>(groups: ClientTransaction<T>[], size: number): Generator<ClientTransaction<T>[]> {
  let start = 0;
  let entries = 0;
  for (let i = 0; i < groups.length; i++) {
    entries += groups[i]!.entries.length;
    if (entries >= size) {
      yield groups.slice(start, i + 1);
      start = i + 1;
      entries = 0;
    }
  }
  if (start < groups.length) yield start === 0 ? groups : groups.slice(start);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
