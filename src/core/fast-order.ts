import type { FastPlan, Placement, TablePlan } from './fast-plan.ts';
import type { ForeignKeyFacts, TableFacts } from './table-facts.ts';

/** The first operation the plan would run in another order than the batch, relative to one it depends on. */
export interface OrderConflict {
  /** Index of the operation's client transaction in the plan. */
  tx: number;
  reason: string;
}

interface TableOps {
  plan: TablePlan;
  facts: TableFacts;
  /** Placement indexes of the table's operations, ascending. */
  indexes: number[];
  deletes: number[];
}

/**
 * Whether running the plan (round-0 deletes children first, then writes parents first) is
 * provably the same as running its operations in op order, across tables. Within a table
 * rows do not interact (`exactPathReason` sent tables where they could to the exact path),
 * so only foreign keys between two tables of the plan can tell the orders apart:
 *
 * - a child entry that references parent row v (a value of the key column it carries)
 *   must come after every PUT or DELETE of v: the plan writes parents first;
 * - a parent DELETE (NO ACTION / RESTRICT) must come before every child entry that may
 *   change what references the parent (a write carrying the key column, a DELETE in a
 *   later round), and after every child DELETE that runs in the first phase;
 * - a DELETE that cascades (or sets null / default) into a table the plan also writes,
 *   a foreign key the planner cannot follow (several columns, not the parent's key, values
 *   whose text is not one per value) and foreign-key cycles are not ordered at all.
 *
 * Returns the earliest operation at which one of these fails, so the caller can end the
 * segment just before its transaction; undefined when the whole plan is safe.
 */
export function firstConflict(plan: FastPlan): OrderConflict | undefined {
  const { placements } = plan;
  const tables = new Map<string, TableOps>();
  for (const t of plan.tables) tables.set(t.facts.key, { plan: t, facts: t.facts, indexes: [], deletes: [] });
  placements.forEach((p, index) => {
    const t = tables.get(p.facts.key)!;
    t.indexes.push(index);
    if (p.operation.op === 'DELETE') t.deletes.push(index);
  });

  let best: { index: number; reason: string } | undefined;
  const consider = (index: number, reason: string) => {
    if (!best || index < best.index) best = { index, reason };
  };
  const name = (t: TableOps) => t.plan.table.name;

  for (const t of tables.values()) {
    const firstDelete = t.deletes[0];
    if (firstDelete === undefined) continue;
    for (const key of t.facts.deleteAffects) {
      const other = tables.get(key);
      if (other) consider(Math.max(firstDelete, other.indexes[0]!), `a DELETE on ${name(t)} cascades into ${name(other)}, also written here`);
    }
  }
  for (const child of tables.values()) {
    for (const fk of child.facts.foreignKeys) {
      const parent = tables.get(fk.references);
      if (!parent || parent === child) continue;
      const later = Math.max(parent.indexes[0]!, child.indexes[0]!);
      if (plan.cyclic.has(child.facts.key) && plan.cyclic.has(parent.facts.key)) {
        consider(later, `${name(child)} and ${name(parent)} reference each other`);
      } else {
        // Whatever the key does on delete, a child must find its parent where op order puts
        // it; what cascades do is covered above through deleteAffects.
        const f = followable(fk, child, parent);
        if (f === undefined) consider(later, `${name(child)} references ${name(parent)} other than by its key`);
        else checkOrder(placements, f, child, parent, consider);
      }
    }
  }
  return best && { tx: placements[best.index]!.tx, reason: best.reason };
}

/** The child's column when the foreign key references the parent's key by one column of comparable text. */
function followable(fk: ForeignKeyFacts, child: TableOps, parent: TableOps): string | undefined {
  const [column] = fk.columns;
  const key = parent.plan.idColumn;
  if (fk.columns.length !== 1 || fk.referencedColumns.length !== 1 || fk.referencedColumns[0] !== key || column === undefined) return undefined;
  return child.facts.canonical.has(column) && parent.facts.canonical.has(key) ? column : undefined;
}

function checkOrder(
  placements: Placement[],
  column: string,
  child: TableOps,
  parent: TableOps,
  consider: (index: number, reason: string) => void,
): void {
  const firstReference = new Map<string, number>();
  let firstUnknown = Infinity;
  let firstRepoint = Infinity;
  let firstLateDelete = Infinity;
  const earlyDeletes: number[] = [];
  for (const index of child.indexes) {
    const p = placements[index]!;
    const operation = p.operation;
    if (operation.op === 'DELETE') {
      if (p.step === 0) earlyDeletes.push(index);
      else firstLateDelete = Math.min(firstLateDelete, index);
      continue;
    }
    const carried = operation.values.find(([c]) => c === column);
    if (carried) {
      firstRepoint = Math.min(firstRepoint, index);
      const value = carried[1];
      if (value !== null && !firstReference.has(value)) firstReference.set(value, index);
    } else if (operation.op === 'PUT' && child.facts.withDefault.has(column)) {
      // A new row takes the column's default: a parent we cannot name.
      firstUnknown = Math.min(firstUnknown, index);
      firstRepoint = Math.min(firstRepoint, index);
    }
  }
  const c = child.plan.table.name;
  const a = parent.plan.table.name;
  for (const index of parent.indexes) {
    const operation = placements[index]!.operation;
    if (operation.op === 'PATCH') continue;
    const reference = firstReference.get(operation.id);
    if ((reference !== undefined && reference < index) || firstUnknown < index) {
      consider(index, `a ${operation.op} on ${a} after a ${c} entry that references the row`);
    }
    if (operation.op === 'DELETE' && (firstRepoint < index || firstLateDelete < index)) {
      consider(index, `a DELETE on ${a} after ${c} entries that may have referenced the row`);
    }
  }
  const firstParentDelete = parent.deletes[0];
  if (firstParentDelete !== undefined) {
    const late = earlyDeletes.find((index) => index > firstParentDelete);
    if (late !== undefined) consider(late, `a DELETE on ${c} after a DELETE on ${a}`);
  }
}
