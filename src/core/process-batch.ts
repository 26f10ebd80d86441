import type { BatchResponse, RejectedEntry } from '../protocol/response.ts';
import type { BatchRequest, RawEntry } from '../protocol/wire.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { WritepathError } from './errors.ts';
import { runBeforeApply, validateData } from './entry-hooks.ts';
import type { Hooks } from './hooks.ts';
import { checkOwnership } from './ownership.ts';
import { groupTransactions, type ClientTransaction, type EntryProblem, type Operation } from './operation.ts';
import { resolveEntries } from './resolve-entries.ts';
import type { AuthContext, RejectionRecord, Store, StoreTransaction } from './store.ts';

export interface EngineOptions {
  store: Store;
  rules: TableRules;
  /** Attempts for a batch that hits a serialization failure or deadlock (default 3). */
  maxAttempts?: number;
  /** Library mode: custom logic around the entries. */
  hooks?: Hooks;
  /** Where an afterCommit hook's error is reported (it never changes the response). */
  onHookError?: (error: unknown) => void;
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
    try {
      result = await options.store.transaction(auth, (tx) => processInTransaction(options, tx, request, auth));
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
): Promise<BatchResponse> {
  const { clientId, entries } = request;
  const { hooks } = options;
  // Without the client's op_ids (demo routes) there is nothing to deduplicate against.
  const tracked = request.ledger !== false;
  const ledger = tracked ? await tx.lockLedger(auth.userId, clientId) : 0;
  const fresh = entries.filter((e) => e.opId > ledger);
  const duplicates = entries.length - fresh.length;

  // Every check that needs no write, entry by entry: hooks, table and columns, values, validators.
  const problems = new Map<RawEntry, EntryProblem>();
  const prepared: RawEntry[] = [];
  for (const item of await runBeforeApply(fresh, hooks, auth)) {
    if ('problem' in item) problems.set(item.entry, item.problem);
    prepared.push('problem' in item ? item.entry : item);
  }
  const checks = await resolveEntries(prepared.filter((e) => !problems.has(e)), options.rules, options.store);
  const operations = new Map<RawEntry, Operation>();
  for (const [entry, check] of checks) {
    if (check.kind === 'rejected') {
      problems.set(entry, check.problem);
      continue;
    }
    const invalid = await validateData(check.operation, hooks);
    if (invalid) problems.set(entry, invalid);
    else operations.set(entry, withHandler(check.operation, hooks));
  }

  const rejected: RejectedEntry[] = [];
  const stored: RejectedEntry[] = [];
  const reject = (raw: RawEntry[], opId: number, problem: EntryProblem) => {
    const cause = raw.find((e) => e.opId === opId) ?? raw[0]!;
    rejected.push(...rejectTransaction(raw, cause, problem));
  };
  const valid: ClientTransaction<Operation>[] = [];
  for (const group of groupTransactions(prepared)) {
    const cause = group.entries.find((e) => problems.has(e));
    if (cause) reject(group.entries, cause.opId, problems.get(cause)!);
    else valid.push({ txId: group.txId, entries: group.entries.map((e) => operations.get(e)!) });
  }

  const verdicts = await checkOwnership(valid, auth.userId, options.rules, (name) => options.store.findTable(name), tx.readRows);
  const allowed = valid.filter((group, index) => {
    const verdict = verdicts[index];
    if (verdict) reject(group.entries.map((o) => o.entry), verdict.opId, verdict.problem);
    return !verdict;
  });

  let applied = 0;
  let skipped = 0;
  const outcomes = await tx.apply(allowed);
  allowed.forEach((group, index) => {
    const outcome = outcomes[index]!;
    const raw = group.entries.map((o) => o.entry);
    if (outcome.ok) {
      applied += raw.length;
    } else if (outcome.skip) {
      // Dropped by `on_conflict: skip`: counted, and stored where the app can see it.
      skipped += raw.length;
      stored.push(...rejectTransaction(raw, raw.find((e) => e.opId === outcome.opId) ?? raw[0]!, outcome.problem));
    } else {
      reject(raw, outcome.opId, outcome.problem);
    }
  });
  rejected.sort((a, b) => a.op_id - b.op_id);

  const records = [...rejected, ...stored].map((r) => rejectionRecord(r, auth.userId, clientId, prepared));
  await tx.recordRejections(records);
  const lastOpId = tracked ? Math.max(ledger, ...fresh.map((e) => e.opId)) : 0;
  if (tracked && lastOpId > ledger) await tx.advanceLedger(auth.userId, clientId, lastOpId);
  return { client_id: clientId, last_op_id: lastOpId, applied, duplicates, skipped, rejected };
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

function rejectionRecord(r: RejectedEntry, userId: string, clientId: string, entries: RawEntry[]): RejectionRecord {
  const f = entries.find((e) => e.opId === r.op_id)?.fields ?? {};
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

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
