import type pg from 'pg';
import type { FastPlan } from '../core/fast-plan.ts';
import type { ClientTransaction, Operation } from '../core/operation.ts';
import { segment, type Segment, type SegmentOptions } from '../core/segments.ts';
import type { TransactionOutcome } from '../core/store.ts';
import type { FactsSource } from '../core/table-facts.ts';
import { classifyPgError } from './error-map.ts';
import { applyExact } from './exact-apply.ts';
import { castCheck, deleteStatement, inline, insertImageChecks, mergeStatement, type FastStatement } from './fast-sql.ts';

export interface FastApplyOptions extends SegmentOptions {
  /** A failed range of at most this many entries is narrowed entry by entry, not bisected further (default 4). */
  exactBelow?: number;
  /**
   * A plan whose data is at most this large runs as one script, in one round trip, its
   * values written in as literals; a larger one statement by statement with parameters
   * (default 1 MiB).
   */
  scriptBytes?: number;
  /** Sees each segment before it runs (tests, metrics). */
  onSegment?: (segment: Segment) => void;
  /** Sees each failed fast attempt, with the number of client transactions it held. */
  onNarrow?: (transactions: number) => void;
}

const SCRIPT_BYTES = 1 << 20;

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
  options: FastApplyOptions = {},
): Promise<TransactionOutcome[]> {
  const outcomes: TransactionOutcome[] = [];
  for (const s of segment(transactions, facts, options)) {
    options.onSegment?.(s);
    if (s.path === 'exact') outcomes.push(...(await applyExact(client, s.transactions)));
    else outcomes.push(...(await applyFast(client, s.transactions, s.plan, facts, options)));
  }
  return outcomes;
}

async function applyFast(
  client: pg.ClientBase,
  transactions: ClientTransaction<Operation>[],
  plan: FastPlan,
  facts: FactsSource,
  options: FastApplyOptions,
): Promise<TransactionOutcome[]> {
  const statements = statementsOf(plan);
  const bytes = statements.reduce((n, s) => n + s.json.length, 0);
  try {
    if (bytes <= (options.scriptBytes ?? SCRIPT_BYTES)) {
      // One round trip: the savepoint, the whole plan and its release as one script.
      await client.query(['SAVEPOINT wp_fast', ...statements.map(inline), 'RELEASE SAVEPOINT wp_fast'].join(';\n'));
    } else {
      await client.query('SAVEPOINT wp_fast');
      for (const s of statements) await client.query({ text: s.text, values: [s.json] });
      await client.query('RELEASE SAVEPOINT wp_fast');
    }
  } catch (error) {
    const meaning = classifyPgError(error);
    if (meaning.kind === 'batch') throw meaning.error;
    await client.query('ROLLBACK TO SAVEPOINT wp_fast; RELEASE SAVEPOINT wp_fast');
    options.onNarrow?.(transactions.length);
    return narrow(client, transactions, facts, options);
  }
  return transactions.map(() => ({ ok: true }));
}

/** Some transaction of the range can never be applied: halves it until the guilty ones stand alone. */
async function narrow(
  client: pg.ClientBase,
  transactions: ClientTransaction<Operation>[],
  facts: FactsSource,
  options: FastApplyOptions,
): Promise<TransactionOutcome[]> {
  const entries = transactions.reduce((n, t) => n + t.entries.length, 0);
  if (transactions.length === 1 || entries <= (options.exactBelow ?? 4)) return applyExact(client, transactions);
  const half = transactions.length >> 1;
  const first = await applyPlanned(client, transactions.slice(0, half), facts, options);
  return [...first, ...(await applyPlanned(client, transactions.slice(half), facts, options))];
}

/** The statements of a FastPlan's three phases: early deletes children first, writes parents first, last deletes children first. */
function statementsOf(plan: FastPlan): FastStatement[] {
  const out: FastStatement[] = [];
  const childrenFirst = [...plan.tables].reverse();
  for (const table of childrenFirst) {
    const ids = (table.rounds[0] ?? []).filter((s) => s.deleteFirst).map((s) => s.id);
    if (ids.length > 0) out.push(deleteStatement(table, ids));
  }
  for (const table of plan.tables) {
    for (let round = 0; round < table.rounds.length; round++) {
      const steps = table.rounds[round]!;
      if (round > 0) {
        const ids = steps.filter((s) => s.deleteFirst).map((s) => s.id);
        if (ids.length > 0) out.push(deleteStatement(table, ids));
      }
      const cast = castCheck(table, steps);
      if (cast) out.push(cast);
      const merge = mergeStatement(table, steps);
      if (merge) out.push(merge);
      if (table.facts.opaqueRowChecks) out.push(...insertImageChecks(table, steps));
    }
  }
  for (const table of childrenFirst) {
    if (table.lastDeletes.length > 0) out.push(deleteStatement(table, table.lastDeletes));
  }
  return out;
}
