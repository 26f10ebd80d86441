import type { BatchResponse, RejectedEntry } from '../protocol/response.ts';
import type { BatchRequest, RawEntry } from '../protocol/wire.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { WritepathError } from './errors.ts';
import { hasValidators, runBeforeApply, validateData } from './entry-hooks.ts';
import type { Hooks } from './hooks.ts';
import { checkOwnership } from './ownership.ts';
import { groupTransactions, transactionParts, type ClientTransaction, type EntryProblem, type Operation } from './operation.ts';
import { resolveEntries } from './resolve-entries.ts';
import { splitByLedger } from './rewind.ts';
import type { AuthContext, RejectionRecord, Store, StoreTransaction } from './store.ts';

export interface EngineOptions {
  store: Store;
  rules: TableRules;
  /** Attempts for a batch that hits a serialization failure or deadlock (default 3). */
  maxAttempts?: number;
  /** Library mode: custom logic around the entries. */
  hooks?: Hooks;
  /** Where an afterCommit hook's or onRewind's error is reported (it never changes the response). */
  onHookError?: (error: unknown) => void;
  /**
   * Called after the commit when the batch held entries at or below the ledger whose
   * content differs from what was processed under their op_ids: a client database restored
   * from a backup (PROTOCOL.md 2.2). Those entries were processed like fresh ones.
   */
  onRewind?: (event: RewindEvent) => void;
}

/** A restored client's rewound entries, processed in one committed batch. */
export interface RewindEvent {
  userId: string;
  clientId: string;
  /** In op_id order. */
  opIds: number[];
}

/**
 * Processes one batch exactly once: skips what the ledger says is done, applies each client
 * transaction completely or rejects it, records rejections and moves the ledger, all in
 * one database transaction committed before this resolves. Knows nothing of HTTP.
 */
export async function processBatch(options: EngineOptions, request: BatchRequest, auth: AuthContext): Promise<BatchResponse> {
  const maxAttempts = options.maxAttempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    let result: BatchResponse;
    let rewound: number[];
    try {
      ({ result, rewound } = await options.store.transaction(auth, (tx) => processInTransaction(options, tx, request, auth)));
    } catch (error) {
      // Serialization failures and deadlocks usually pass on a second try; the client
      // would retry anyway, but an answer now is kinder than a 503.
      if (error instanceof WritepathError && error.code === 'write_conflict' && attempt < maxAttempts) {
        await delay(10 * attempt + Math.random() * 20);
        continue;
      }
      // The database changed under the schema as last read (a table or column dropped or
      // retyped): the store has read it again; one more try decides with the fresh one.
      if (error instanceof WritepathError && error.code === 'schema_mismatch' && attempt === 1) continue;
      throw error;
    }
    if (rewound.length > 0 && options.onRewind) {
      try {
        options.onRewind({ userId: auth.userId, clientId: request.clientId, opIds: rewound });
      } catch (error) {
        options.onHookError?.(error);
      }
    }
    if (options.hooks?.afterCommit) {
      try {
        await options.hooks.afterCommit(result, auth);
      } catch (error) {
        options.onHookError?.(error);
      }
    }
    return result;
  }
}

async function processInTransaction(
  options: EngineOptions,
  tx: StoreTransaction,
  request: BatchRequest,
  auth: AuthContext,
): Promise<{ result: BatchResponse; rewound: number[] }> {
  const { clientId, entries } = request;
  // Without the client's op_ids (demo routes) there is nothing to deduplicate against.
  const tracked = request.ledger !== false;
  const ledger = tracked ? await tx.lockLedger(auth.userId, clientId) : 0;
  const split = tracked ? await splitByLedger(tx, auth.userId, clientId, entries, ledger) : undefined;
  const work = split?.work ?? entries;

  // A large batch is checked and applied a part at a time, whole client transactions each,
  // in order: what it holds in memory is bounded by the part, not the batch. Each part's
  // checks read the database as the parts before it left it.
  const tally: BatchTally = { rejected: [], stored: [], prepared: [], applied: 0, skipped: 0 };
  for (const part of transactionParts(groupTransactions(work), PART_ENTRIES)) {
    await processPart(options, tx, part.length === 1 ? part[0]!.entries : part.flatMap((g) => g.entries), auth, tally);
  }
  const { rejected, stored, applied, skipped } = tally;
  rejected.sort((a, b) => a.op_id - b.op_id);

  if (rejected.length + stored.length > 0) {
    const byOpId = new Map(tally.prepared.map((e) => [e.opId, e]));
    await tx.recordRejections([...rejected, ...stored].map((r) => rejectionRecord(r, auth.userId, clientId, byOpId)));
  }
  // op_ids are strictly increasing (checked when the request was parsed). Rewound entries
  // are below the ledger: it never moves back.
  const lastOpId = tracked ? Math.max(ledger, work.length > 0 ? work[work.length - 1]!.opId : ledger) : 0;
  if (tracked && lastOpId > ledger) await tx.advanceLedger(auth.userId, clientId, lastOpId);
  if (split?.record) await tx.recordDigests(auth.userId, clientId, split.record);
  const duplicates = split?.duplicates ?? 0;
  return { result: { client_id: clientId, last_op_id: lastOpId, applied, duplicates, skipped, rejected }, rewound: split?.rewound ?? [] };
}

/** What the parts of a batch add up to. */
interface BatchTally {
  rejected: RejectedEntry[];
  /** Skipped by `on_conflict: skip`: not in the response's `rejected`, but stored. */
  stored: RejectedEntry[];
  /** The entries as checked (after beforeApply), kept only while some are rejected. */
  prepared: RawEntry[];
  applied: number;
  skipped: number;
}

/** Checks and applies whole client transactions, in order, adding to the tally. */
async function processPart(options: EngineOptions, tx: StoreTransaction, work: RawEntry[], auth: AuthContext, tally: BatchTally): Promise<void> {
  const { hooks } = options;
  // Every check that needs no write, entry by entry: hooks, table and columns, values, validators.
  const problems = new Map<RawEntry, EntryProblem>();
  const prepared: RawEntry[] = [];
  for (const item of await runBeforeApply(work, hooks, auth)) {
    if ('problem' in item) problems.set(item.entry, item.problem);
    prepared.push('problem' in item ? item.entry : item);
  }
  const checks = await resolveEntries(problems.size > 0 ? prepared.filter((e) => !problems.has(e)) : prepared, options.rules, options.store);
  const operations = new Map<RawEntry, Operation>();
  for (const [entry, check] of checks) {
    if (check.kind === 'rejected') {
      problems.set(entry, check.problem);
      continue;
    }
    const invalid = hasValidators(check.operation, hooks) ? await validateData(check.operation, hooks) : undefined;
    if (invalid) problems.set(entry, invalid);
    else operations.set(entry, withHandler(check.operation, hooks));
  }

  const reject = (raw: RawEntry[], opId: number, problem: EntryProblem, into = tally.rejected) => {
    const cause = raw.find((e) => e.opId === opId) ?? raw[0]!;
    into.push(...rejectTransaction(raw, cause, problem));
  };
  const valid: ClientTransaction<Operation>[] = [];
  for (const group of groupTransactions(prepared)) {
    const cause = problems.size > 0 ? group.entries.find((e) => problems.has(e)) : undefined;
    if (cause) reject(group.entries, cause.opId, problems.get(cause)!);
    else valid.push({ txId: group.txId, entries: group.entries.map((e) => operations.get(e)!) });
  }

  const verdicts = await checkOwnership(valid, auth.userId, options.rules, (name) => options.store.findTable(name), (...args) => tx.readRows(...args));
  const allowed = verdicts.some((v) => v) ? valid.filter((group, index) => {
    const verdict = verdicts[index];
    if (verdict) reject(group.entries.map((o) => o.entry), verdict.opId, verdict.problem);
    return !verdict;
  }) : valid;

  const outcomes = await tx.apply(allowed);
  allowed.forEach((group, index) => {
    const outcome = outcomes[index]!;
    if (outcome.ok) {
      tally.applied += group.entries.length;
      return;
    }
    const raw = group.entries.map((o) => o.entry);
    if (outcome.skip) tally.skipped += raw.length;
    // Dropped by `on_conflict: skip`: counted, and stored where the app can see it.
    reject(raw, outcome.opId, outcome.problem, outcome.skip ? tally.stored : tally.rejected);
  });
  if (tally.rejected.length + tally.stored.length > 0) tally.prepared.push(...prepared);
}

/** Library mode: the handler for this table and op, carried by the operation to the store. */
function withHandler(operation: Operation, hooks: Hooks | undefined): Operation {
  const handler = hooks?.tables?.[operation.rule.clientName]?.handlers?.[operation.op];
  return handler ? { ...operation, handler } : operation;
}

/** Every entry of a rejected client transaction: the cause with its code, the rest pointing at it. */
function rejectTransaction(entries: RawEntry[], cause: RawEntry, problem: EntryProblem): RejectedEntry[] {
  return entries.map((entry) =>
    entry === cause
      ? rejectedEntry(entry, {
          code: problem.code,
          message: problem.message,
          ...(problem.column !== undefined && { column: problem.column }),
          ...(problem.current !== undefined && { current: problem.current }),
        })
      : rejectedEntry(entry, {
          code: 'transaction_rejected',
          message: `op ${cause.opId} of the same client transaction was rejected (${problem.code})`,
          cause_op_id: cause.opId,
        }),
  );
}

function rejectedEntry(entry: RawEntry, rest: Pick<RejectedEntry, 'code' | 'message' | 'column' | 'cause_op_id' | 'current'>): RejectedEntry {
  const f = entry.fields;
  const out: RejectedEntry = { op_id: entry.opId, code: rest.code, message: rest.message };
  if (entry.txId !== undefined) out.tx_id = entry.txId;
  if (typeof f.op === 'string') out.op = f.op;
  if (typeof f.type === 'string') out.type = f.type;
  if (typeof f.id === 'string') out.id = f.id;
  if (rest.column !== undefined) out.column = rest.column;
  if (rest.current !== undefined) out.current = rest.current;
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

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
