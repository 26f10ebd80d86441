import type pg from 'pg';
import type { FastPlan } from '../core/fast-plan.ts';
import type { ClientTransaction, Operation } from '../core/operation.ts';
import { segment, type Segment, type SegmentOptions } from '../core/segments.ts';
import type { AuthContext, TransactionOutcome } from '../core/store.ts';
import type { FactsSource } from '../core/table-facts.ts';
import { classifyPgError } from './error-map.ts';
import { applyExact } from './exact-apply.ts';
import { castCheck, deleteStatement, insertImageChecks, mergeStatement, type FastStatement } from './fast-sql.ts';
import { executable, type PreparableStatement } from './prepared-statements.ts';
import { dollarQuoted } from './sql.ts';

export interface FastApplyOptions extends SegmentOptions {
  /** A failed range of at most this many entries is narrowed entry by entry, not bisected further (default 4). */
  exactBelow?: number;
  /**
   * A plan of at most this many entries runs as one script, in one round trip, its values
   * written in as literals; a larger one statement by statement with parameters (default
   * 2,500: above the engine's parts, 2,000 entries and the rest of the last transaction).
   */
  scriptEntries?: number;
  /** Rows per statement for larger plans (default 5,000). */
  chunkRows?: number;
  /**
   * Whether a script's statements are prepared once per connection and run by EXECUTE
   * (default true; off behind a pooler in transaction mode, see prepared-statements.ts).
   */
  preparedStatements?: boolean;
  /** Sees each segment before it runs (tests, metrics). */
  onSegment?: (segment: Segment) => void;
  /** Sees each failed fast attempt, with the number of client transactions it held. */
  onNarrow?: (transactions: number) => void;
}

const SCRIPT_ENTRIES = 2_500;
const CHUNK_ROWS = 5_000;

/**
 * Applies client transactions in order, each completely or not at all, folding where that
 * is provably the same as entry-by-entry application (see `segment`) and applying the rest
 * entry by entry. A fast segment runs under one savepoint; only when a set-based statement
 * fails with a permanent error does it narrow down, bisecting the segment's client
 * transactions under savepoints until the guilty ones stand alone, and those are applied
 * entry by entry, so they are rejected with exactly the codes and messages of the exact path.
 */
export async function applyPlanned(
  client: pg.ClientBase,
  transactions: ClientTransaction<Operation>[],
  facts: FactsSource,
  auth: AuthContext,
  options: FastApplyOptions = {},
): Promise<TransactionOutcome[]> {
  // The engine hands over a batch a part at a time: what a plan holds is one part's.
  return runPlanned(client, planApply(transactions, facts, options), facts, auth, options);
}

/** Segments ready to run; a small fast one carries its statements with their values written, built before they are needed. */
export type PlannedSegment = Segment & { script?: PreparableStatement[] };

/**
 * The part of `applyPlanned` that needs no database: segments, plans and, for plans small
 * enough to go as one script, the script. The engine plans the next part of a batch with it
 * while the database applies the current one.
 */
export function planApply(transactions: ClientTransaction<Operation>[], facts: FactsSource, options: FastApplyOptions = {}): PlannedSegment[] {
  return segment(transactions, facts, options).map((s) =>
    s.path === 'fast' && s.plan.placements.length <= (options.scriptEntries ?? SCRIPT_ENTRIES) ? { ...s, script: scriptOf(s.plan) } : s,
  );
}

/**
 * Entries a part may hold and still be held back for the next round trip (see
 * PgTransaction): a small batch then goes in one. Below the engine's first part of a large
 * batch (500 entries), so that a part the next one would wait for is never held back.
 */
const DEFERRABLE_ENTRIES = 200;

/**
 * The statements of a small plan that is all fast, to be sent later with other statements
 * and without a savepoint of its own; undefined when the plan is not such. Whoever holds
 * them back must answer their failure by applying the part again with `runPlanned`, which
 * narrows down to the guilty transactions (PgStore runs the whole batch again).
 */
export function deferredStatements(segments: PlannedSegment[], options: FastApplyOptions): PreparableStatement[] | undefined {
  let entries = 0;
  for (const s of segments) {
    if (s.path !== 'fast' || s.script === undefined) return undefined;
    entries += s.plan.placements.length;
  }
  if (entries > DEFERRABLE_ENTRIES) return undefined;
  return segments.flatMap((s) => {
    options.onSegment?.(s);
    return s.script!;
  });
}

/** Runs what `planApply` planned, in order. */
export async function runPlanned(
  client: pg.ClientBase,
  segments: PlannedSegment[],
  facts: FactsSource,
  auth: AuthContext,
  options: FastApplyOptions,
): Promise<TransactionOutcome[]> {
  const outcomes: TransactionOutcome[] = [];
  for (const s of segments) {
    options.onSegment?.(s);
    if (s.path === 'exact') outcomes.push(...(await applyExact(client, s.transactions, auth)));
    else outcomes.push(...(await applyFast(client, s, facts, auth, options)));
  }
  return outcomes;
}

/** The whole plan, each statement's value written as a literal, to go as one script. */
function scriptOf(plan: FastPlan): PreparableStatement[] {
  return [...statementsOf(plan, Infinity)].map((s) => ({ text: s.text, types: JSONB, args: [dollarQuoted(s.json)] }));
}

const JSONB = ['jsonb'];

/** One round trip (after any new statement's PREPARE): the savepoint, the plan, and its release. */
async function scriptText(client: pg.ClientBase, statements: PreparableStatement[], options: FastApplyOptions): Promise<string> {
  return ['SAVEPOINT wp_fast', ...(await executable(client, statements, options)), 'RELEASE SAVEPOINT wp_fast'].join(';\n');
}

async function applyFast(
  client: pg.ClientBase,
  planned: PlannedSegment & { path: 'fast' },
  facts: FactsSource,
  auth: AuthContext,
  options: FastApplyOptions,
): Promise<TransactionOutcome[]> {
  const { transactions, plan, script } = planned;
  // Outside the try: a PREPARE has no values, so its failure is not the entries' fault.
  const text = script && (await scriptText(client, script, options));
  try {
    if (text !== undefined) {
      await client.query(text);
    } else {
      await client.query('SAVEPOINT wp_fast');
      // Each statement is built while the one before it runs: a large batch keeps both the
      // server and the database busy, and only one chunk's data is held at a time.
      let running: Promise<unknown> | undefined;
      for (const statement of statementsOf(plan, options.chunkRows ?? CHUNK_ROWS)) {
        if (running) await running;
        running = client.query({ text: statement.text, values: [statement.json] });
        running.catch(() => {});
      }
      if (running) await running;
      await client.query('RELEASE SAVEPOINT wp_fast');
    }
  } catch (error) {
    const meaning = classifyPgError(error);
    if (meaning.kind === 'batch') throw meaning.error;
    await client.query('ROLLBACK TO SAVEPOINT wp_fast; RELEASE SAVEPOINT wp_fast');
    options.onNarrow?.(transactions.length);
    return narrow(client, transactions, facts, auth, options);
  }
  return transactions.map(() => ({ ok: true }));
}

/** Some transaction of the range can never be applied: halves it until the guilty ones stand alone. */
async function narrow(
  client: pg.ClientBase,
  transactions: ClientTransaction<Operation>[],
  facts: FactsSource,
  auth: AuthContext,
  options: FastApplyOptions,
): Promise<TransactionOutcome[]> {
  const entries = transactions.reduce((n, t) => n + t.entries.length, 0);
  if (transactions.length === 1 || entries <= (options.exactBelow ?? 4)) return applyExact(client, transactions, auth);
  const half = transactions.length >> 1;
  const first = await applyPlanned(client, transactions.slice(0, half), facts, auth, options);
  return [...first, ...(await applyPlanned(client, transactions.slice(half), facts, auth, options))];
}

/**
 * The statements of a FastPlan's three phases (early deletes children first, writes parents
 * first, last deletes children first), each round cut into chunks of at most `chunk` rows:
 * rows of one table do not interact on the fast path, so a round may run in pieces.
 */
function* statementsOf(plan: FastPlan, chunk: number): Generator<FastStatement> {
  const childrenFirst = [...plan.tables].reverse();
  for (const table of childrenFirst) {
    const ids = (table.rounds[0] ?? []).filter((s) => s.deleteFirst).map((s) => s.id);
    for (const part of pieces(ids, chunk)) yield deleteStatement(table, part);
  }
  for (const table of plan.tables) {
    for (let round = 0; round < table.rounds.length; round++) {
      for (const steps of pieces(table.rounds[round]!, chunk)) {
        if (round > 0) {
          const ids = steps.filter((s) => s.deleteFirst).map((s) => s.id);
          if (ids.length > 0) yield deleteStatement(table, ids);
        }
        const cast = castCheck(table, steps);
        if (cast) yield cast;
        const merge = mergeStatement(table, steps);
        if (merge) yield merge;
        if (table.facts.opaqueRowChecks) yield* insertImageChecks(table, steps);
      }
    }
  }
  for (const table of childrenFirst) {
    for (const part of pieces(table.lastDeletes, chunk)) yield deleteStatement(table, part);
  }
}

function* pieces<T>(items: T[], size: number): Generator<T[]> {
  if (items.length <= size) {
    if (items.length > 0) yield items;
    return;
  }
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

