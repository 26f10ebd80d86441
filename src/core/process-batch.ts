import type { BatchResponse } from '../protocol/response.ts';
import type { BatchRequest, RawEntry } from '../protocol/wire.ts';
import type { TableRules } from '../rules/table-rules.ts';
import { LazyDigests } from './entry-digest.ts';
import { WritepathError } from './errors.ts';
import { hasValidators, runBeforeApply, validateData } from './entry-hooks.ts';
import type { Hooks } from './hooks.ts';
import { applyOwned } from './owned-apply.ts';
import { checkOwnership, ownershipReads, readOwnership } from './ownership.ts';
import { groupTransactions, transactionParts, type ClientTransaction, type EntryProblem, type Operation } from './operation.ts';
import { resolveEntries } from './resolve-entries.ts';
import { rejectInto, rejectionRecord, type Rejection } from './rejections.ts';
import { splitByLedger } from './rewind.ts';
import type { AuthContext, Store, StoreTransaction, TransactionOutcome } from './store.ts';

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
  /** Entries per part of a large batch, whole client transactions each (default 2,000). */
  partEntries?: number;
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
  // Of the content as sent, as a retry's will be (PROTOCOL.md 2.2), and once for every
  // attempt. Hooks may change entries: then all before any hook sees one; without hooks,
  // when needed or while the database applies a part (see applyParts).
  const digests = request.ledger !== false ? new LazyDigests(request.entries) : undefined;
  if (digests && options.hooks) digests.all();
  for (let attempt = 1; ; attempt++) {
    let result: BatchResponse;
    let rewound: number[];
    try {
      ({ result, rewound } = await options.store.transaction(auth, (tx) => processInTransaction(options, tx, request, digests, auth)));
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
  /** Of the request's entries, when it is tracked by the ledger. */
  digests: LazyDigests | undefined,
  auth: AuthContext,
): Promise<{ result: BatchResponse; rewound: number[] }> {
  const { clientId, entries } = request;
  // Without the client's op_ids (demo routes) there is nothing to deduplicate against.
  const tracked = digests !== undefined;
  const ledger = tracked ? await tx.lockLedger(auth.userId, clientId) : 0;
  const split = tracked ? await splitByLedger(tx, auth.userId, clientId, entries, digests, ledger) : undefined;
  const work = split?.work ?? entries;

  // A large batch is checked and applied a part at a time, whole client transactions each,
  // in order: what it holds in memory is bounded by the part, not the batch. Each part's
  // checks read the database as the parts before it left it.
  const tally: BatchTally = { rejected: [], stored: [], applied: 0, skipped: 0 };
  // The first part, which nothing overlaps, is small: the database starts on it sooner.
  const partEntries = options.partEntries ?? PART_ENTRIES;
  const parts = transactionParts(groupTransactions(work), partEntries, Math.ceil(partEntries / 4));
  await applyParts(options, tx, parts, auth, tally, digests);
  const { stored, applied, skipped } = tally;
  // Parts check ahead of each other: rejections come in out of op order.
  const rejected = tally.rejected.sort((a, b) => a.response.op_id - b.response.op_id);
  if (rejected.length + stored.length > 0) {
    await tx.recordRejections([...rejected, ...stored].map((r) => rejectionRecord(r, auth.userId, clientId)));
  }
  // op_ids are strictly increasing (checked when the request was parsed). Rewound entries
  // are below the ledger: it never moves back.
  const lastOpId = tracked ? Math.max(ledger, work.length > 0 ? work[work.length - 1]!.opId : ledger) : 0;
  if (tracked && lastOpId > ledger) await tx.advanceLedger(auth.userId, clientId, lastOpId);
  if (split?.record) await tx.recordDigests(auth.userId, clientId, { opIds: split.record.opIds, digests: split.record.digests() });
  const duplicates = split?.duplicates ?? 0;
  return {
    result: { client_id: clientId, last_op_id: lastOpId, applied, duplicates, skipped, rejected: rejected.map((r) => r.response) },
    rewound: split?.rewound ?? [],
  };
}

/** What the parts of a batch add up to. */
interface BatchTally {
  rejected: Rejection[];
  /** Skipped by `on_conflict: skip`: not in the response's `rejected`, but stored. */
  stored: Rejection[];
  applied: number;
  skipped: number;
}

/**
 * Checks and applies the parts in order. While the database applies one part, the server
 * checks the next and, when that needs no read (no ownership rule is involved), plans it
 * too: the server's work and the database's overlap instead of taking turns.
 */
async function applyParts(
  options: EngineOptions,
  tx: StoreTransaction,
  parts: Iterator<ClientTransaction<RawEntry>[]>,
  auth: AuthContext,
  tally: BatchTally,
  /** Worked out a slice at a time while the database applies a part and the next one is ready. */
  digests: LazyDigests | undefined,
): Promise<void> {
  let part = parts.next();
  let ready = part.done ? undefined : await readyPart(options, tx, await checkEntries(options, part.value, auth, tally), auth, tally);
  while (ready) {
    const applying = ready.apply();
    // Awaited below; until then a failure must not count as unhandled.
    let settled = false;
    applying.then(
      () => (settled = true),
      () => (settled = true),
    );
    let checked: CheckedPart | undefined;
    let next: ReadyPart | undefined;
    let ahead: { error: unknown } | undefined;
    part = parts.next();
    if (!part.done) {
      try {
        // Let the store's statements leave before the server gets busy with the next part.
        await new Promise((resolve) => setImmediate(resolve));
        checked = await checkEntries(options, part.value, auth, tally);
        if (!ownershipReads(checked.valid)) next = await readyPart(options, tx, checked, auth, tally);
      } catch (error) {
        ahead = { error };
      }
    }
    // Time the server would spend waiting: digests, between which the database's answer is read.
    while (!settled && !ahead && digests?.step(DIGESTS_PER_SLICE)) await new Promise((resolve) => setImmediate(resolve));
    // The part in flight settles first, whatever happened meanwhile: its error is the earlier one.
    settle(ready, await applying, tally);
    if (ahead) throw ahead.error;
    if (checked && !next) next = await readyPart(options, tx, checked, auth, tally);
    ready = next;
  }
}

/** A part after the checks that need no database: what is left to apply, in client transactions. */
interface CheckedPart {
  valid: ClientTransaction<Operation>[];
}

/** A part that passed every check, ready to apply. */
interface ReadyPart {
  allowed: ClientTransaction<Operation>[];
  apply: () => Promise<TransactionOutcome[]>;
}

/** Every check that needs no write, entry by entry: hooks, table and columns, values, validators. */
async function checkEntries(options: EngineOptions, groups: ClientTransaction<RawEntry>[], auth: AuthContext, tally: BatchTally): Promise<CheckedPart> {
  const { hooks } = options;
  const fresh = groups.length === 1 ? groups[0]!.entries : groups.flatMap((g) => g.entries);
  const problems = new Map<RawEntry, EntryProblem>();
  const prepared: RawEntry[] = [];
  for (const item of await runBeforeApply(fresh, hooks, auth)) {
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

  const valid: ClientTransaction<Operation>[] = [];
  for (const group of groupTransactions(prepared)) {
    const cause = problems.size > 0 ? group.entries.find((e) => problems.has(e)) : undefined;
    if (cause) rejectInto(tally.rejected, group.entries, cause.opId, problems.get(cause)!);
    else valid.push({ txId: group.txId, entries: group.entries.map((e) => operations.get(e)!) });
  }
  return { valid };
}

/** The ownership checks (which read the rows as the parts before left them), then the store's preparation. */
async function readyPart(options: EngineOptions, tx: StoreTransaction, checked: CheckedPart, auth: AuthContext, tally: BatchTally): Promise<ReadyPart> {
  const { valid } = checked;
  // Under an ownership rule the verdicts come with the outcomes: one may depend on whether
  // an earlier transaction of the part applies (see applyOwned).
  if ((tx.savepoint || tx.knownOutcomes) && ownershipReads(valid)) {
    const walk = await readOwnership(valid, auth.userId, options.rules, (name) => options.store.findTable(name), (...args) => tx.readRows(...args));
    return { allowed: valid, apply: () => applyOwned(tx, valid, walk) };
  }
  const verdicts = await checkOwnership(valid, auth.userId, options.rules, (name) => options.store.findTable(name), (...args) => tx.readRows(...args));
  const allowed = verdicts.some((v) => v)
    ? valid.filter((group, index) => {
        const verdict = verdicts[index];
        if (verdict) rejectInto(tally.rejected, group.entries.map((o) => o.entry), verdict.opId, verdict.problem);
        return !verdict;
      })
    : valid;
  const apply = tx.prepareApply ? tx.prepareApply(allowed) : () => tx.apply(allowed);
  return { allowed, apply };
}

/** Adds a part's outcomes to the tally. */
function settle(part: ReadyPart, outcomes: TransactionOutcome[], tally: BatchTally): void {
  part.allowed.forEach((group, index) => {
    const outcome = outcomes[index]!;
    if (outcome.ok) {
      tally.applied += group.entries.length;
      return;
    }
    const raw = group.entries.map((o) => o.entry);
    if (outcome.skip) tally.skipped += raw.length;
    // Dropped by `on_conflict: skip`: counted, and stored where the app can see it.
    rejectInto(outcome.skip ? tally.stored : tally.rejected, raw, outcome.opId, outcome.problem);
  });
}

/** Library mode: the handler for this table and op, carried by the operation to the store. */
function withHandler(operation: Operation, hooks: Hooks | undefined): Operation {
  const handler = hooks?.tables?.[operation.rule.clientName]?.handlers?.[operation.op];
  return handler ? { ...operation, handler } : operation;
}

/**
 * Entries per part of a large batch (see processInTransaction): small enough that the
 * first part, which nothing overlaps, is quick, and that a part's plan goes to the
 * database as one script; large enough that the statements of a part are few.
 */
const PART_ENTRIES = 2_000;

/** Digests worked out between two looks at whether the part in flight is done (about 0.5 ms). */
const DIGESTS_PER_SLICE = 500;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
