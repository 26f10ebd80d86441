import type { ClientTransaction, Operation } from './operation.ts';
import { RowFold, shapeOf, type RowStep, type Shape } from './row-fold.ts';
import type { TableInfo } from './schema.ts';
import type { FactsSource, TableFacts } from './table-facts.ts';

/** One table's share of a fast segment: its rows' steps, round by round. */
export interface TablePlan {
  table: TableInfo;
  facts: TableFacts;
  idColumn: string;
  /** Column positions of the steps' flags and cells. */
  shape: Shape;
  /** `rounds[r]` holds the r-th step of every row that has one, but rows only deleted. */
  rounds: RowStep[][];
  /** Ids of the rows whose one step is a DELETE: deleted in the `last` phase. */
  lastDeletes: string[];
}

/** Where an operation took effect in the plan. */
export interface Placement {
  operation: Operation;
  facts: TableFacts;
  /** Index of its client transaction within the planned ones. */
  tx: number;
  /** The step (round) of its row it was folded into. */
  step: number;
  /**
   * When its effect on the row's existence happens: `delete` (round 0, before all writes:
   * a row deleted and made again), `write` (the rounds), `last` (after all writes: a row
   * whose only step is a DELETE).
   */
  phase: 'delete' | 'write' | 'last';
}

/**
 * A fast segment as statements will run it, in three phases:
 * 1. `delete`: round-0 deletes of rows that are then written again, children's tables first;
 * 2. `write`: each table, parents first, round by round (the round's deletes, then one
 *    merge of its writes);
 * 3. `last`: rows that are only deleted, children's tables first. Last, so that a parent
 *    deleted after its children were moved elsewhere or deleted is deleted after them.
 */
export interface FastPlan {
  /** Parents first. */
  tables: TablePlan[];
  /** Every operation, in op order. */
  placements: Placement[];
  /** Tables on a foreign-key cycle: no order puts all parents first. */
  cyclic: ReadonlySet<string>;
}

/**
 * Folds client transactions per row, in op order, into a plan of set-based steps. The
 * caller has checked every table with `exactPathReason`; whether the plan is the same as
 * entry-by-entry application across tables is `firstConflict`'s to say.
 */
export function planFast(transactions: ClientTransaction<Operation>[], facts: FactsSource): FastPlan {
  const tables = new Map<TableInfo, { plan: TablePlan; rows: Map<string, RowFold>; fkColumns: Set<string> }>();
  const placements: Placement[] = [];
  transactions.forEach((transaction, tx) => {
    for (const operation of transaction.entries) {
      let entry = tables.get(operation.table);
      if (!entry) {
        const f = facts.of(operation.table);
        if (!f) throw new Error(`planFast: no facts for ${operation.table.schema}.${operation.table.name}`);
        const plan: TablePlan = {
          table: operation.table,
          facts: f,
          idColumn: operation.rule.idColumn,
          shape: shapeOf(operation.table.columns.keys()),
          rounds: [],
          lastDeletes: [],
        };
        entry = { plan, rows: new Map(), fkColumns: new Set(f.foreignKeys.flatMap((fk) => fk.columns)) };
        tables.set(operation.table, entry);
      }
      let row = entry.rows.get(operation.id);
      if (!row) {
        row = new RowFold(operation.id, entry.plan.facts, entry.plan.shape, entry.plan.idColumn, entry.fkColumns);
        entry.rows.set(operation.id, row);
      }
      placements.push({ operation, facts: entry.plan.facts, tx, step: row.add(operation), phase: 'write' });
    }
  });
  // Phases depend on the whole of a row's operations: a DELETE then PUT is deleted early.
  for (const p of placements) {
    if (p.step > 0) continue;
    if (onlyDeleted(tables.get(p.operation.table)!.rows.get(p.operation.id)!.steps)) p.phase = 'last';
    else if (p.operation.op === 'DELETE') p.phase = 'delete';
  }
  for (const { plan, rows } of tables.values()) {
    for (const row of rows.values()) {
      if (onlyDeleted(row.steps)) {
        plan.lastDeletes.push(row.id);
        continue;
      }
      row.steps.forEach((step, round) => {
        if (!step.deleteFirst && step.write === 'none') return;
        (plan.rounds[round] ??= []).push(step);
      });
    }
    // A row whose only step was a no-op leaves a hole; later rounds stay in order.
    plan.rounds = plan.rounds.map((r) => r ?? []);
  }
  const { order, cyclic } = parentsFirst([...tables.values()].map((t) => t.plan));
  return { tables: order, placements, cyclic };
}

function onlyDeleted(steps: RowStep[]): boolean {
  return steps.length === 1 && steps[0]!.deleteFirst && steps[0]!.write === 'none';
}

/** Tables ordered so that every referenced table comes before the tables referencing it. */
function parentsFirst(plans: TablePlan[]): { order: TablePlan[]; cyclic: Set<string> } {
  const byKey = new Map(plans.map((p) => [p.facts.key, p]));
  const parents = new Map<string, Set<string>>();
  for (const p of plans) {
    const own = new Set<string>();
    for (const fk of p.facts.foreignKeys) if (fk.references !== p.facts.key && byKey.has(fk.references)) own.add(fk.references);
    parents.set(p.facts.key, own);
  }
  const order: TablePlan[] = [];
  const placed = new Set<string>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const p of plans) {
      const key = p.facts.key;
      if (placed.has(key) || [...parents.get(key)!].some((parent) => !placed.has(parent))) continue;
      order.push(p);
      placed.add(key);
      progress = true;
    }
  }
  const cyclic = new Set(plans.filter((p) => !placed.has(p.facts.key)).map((p) => p.facts.key));
  for (const p of plans) if (!placed.has(p.facts.key)) order.push(p);
  return { order, cyclic };
}
