import type { FastPlan, Placement, TablePlan } from './fast-plan.ts';
import { writableColumns, type ForeignKeyFacts, type TableFacts } from './table-facts.ts';

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
 * Whether running the plan (see FastPlan's phases) is provably the same as running its
 * operations in op order, across tables. Within a table rows do not interact
 * (`exactPathReason` sent tables where they could to the exact path), so only foreign keys
 * between two tables of the plan can tell the orders apart. For a child table C
 * referencing a parent table P by P's key, the plan puts effects in this order: C's early
 * deletes, P's early deletes, P's writes, C's writes, C's last deletes, P's last deletes;
 * and every pair of operations that may see each other must come in that order in the
 * batch too:
 *
 * - a PUT or DELETE of parent row v, and a child entry carrying v in the key column (it
 *   must find v as the batch has left it so far), or a child PUT that may take a default;
 * - under NO ACTION / RESTRICT, a parent DELETE and any child entry that may change what
 *   references it: a DELETE, a write carrying the key column;
 * - a DELETE that cascades (or sets null / default) into a table the plan also writes, a
 *   foreign key the planner cannot follow (several columns, not the parent's key, values
 *   whose text is not one per value) and foreign-key cycles are not ordered at all.
 *
 * So the usual batch (parents made before their children; children moved or deleted before
 * their parent is deleted) is one segment. Returns the earliest operation at which the
 * orders part, so the caller can end the segment just before its transaction; undefined
 * when the whole plan is safe.
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
        else checkOrder(placements, f, child, parent, fk.onDelete !== 'no action' && fk.onDelete !== 'restrict', consider);
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

// Where an operation's effect lands relative to the other table of a foreign key, in plan
// order: child early deletes, parent early deletes, parent writes, child writes, child last
// deletes, parent last deletes.
const PARENT_RANK = { delete: 1, write: 2, last: 5 } as const;
const CHILD_RANK = { delete: 0, write: 3, last: 4 } as const;

interface Ranked {
  /** Placement indexes by rank, ascending. */
  byRank: Map<number, number[]>;
}

function ranked(): Ranked {
  return { byRank: new Map() };
}

function add(r: Ranked, rank: number, index: number): void {
  const list = r.byRank.get(rank);
  if (list) list.push(index);
  else r.byRank.set(rank, [index]);
}

/** The first index in an ascending list above `after`, if any. */
function firstAbove(list: number[], after: number): number | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! > after) hi = mid;
    else lo = mid + 1;
  }
  return list[lo];
}

/**
 * Every pair of a parent operation and a child operation must run in the plan in the
 * order they have in the batch. Reports the later operation of the earliest pair that does not.
 */
function orderPairs(parent: Ranked, child: Ranked, report: (index: number) => void): void {
  for (const [pr, ps] of parent.byRank) {
    for (const [cr, cs] of child.byRank) {
      // The plan runs the parent's first: a child operation before one of them breaks op order.
      const later = pr < cr ? firstAbove(ps, cs[0]!) : firstAbove(cs, ps[0]!);
      if (later !== undefined) report(later);
    }
  }
}

function checkOrder(
  placements: Placement[],
  column: string,
  child: TableOps,
  parent: TableOps,
  cascades: boolean,
  consider: (index: number, reason: string) => void,
): void {
  const references = new Map<string, Ranked>();
  const unknown = ranked();
  const changers = ranked();
  for (const index of child.indexes) {
    const p = placements[index]!;
    const operation = p.operation;
    const rank = CHILD_RANK[p.phase];
    if (operation.op === 'DELETE') {
      add(changers, rank, index);
      continue;
    }
    const carried = operation.values.find(([c]) => c === column);
    // put: replace writes the column even when it does not carry it: NULL on an existing row.
    const replaces = operation.op === 'PUT' && operation.rule.put === 'replace' && writableColumns(operation).includes(column);
    if (carried || replaces) add(changers, rank, index);
    if (carried) {
      const value = carried[1];
      if (value !== null) {
        let r = references.get(value);
        if (!r) references.set(value, (r = ranked()));
        add(r, rank, index);
      }
    } else if (operation.op === 'PUT' && child.facts.withDefault.has(column)) {
      // A new row takes the column's default: a parent we cannot name.
      add(unknown, rank, index);
      add(changers, rank, index);
    }
  }
  const byRow = new Map<string, Ranked>();
  const deletes = ranked();
  for (const index of parent.indexes) {
    const p = placements[index]!;
    if (p.operation.op === 'PATCH') continue;
    const rank = PARENT_RANK[p.phase];
    let r = byRow.get(p.operation.id);
    if (!r) byRow.set(p.operation.id, (r = ranked()));
    add(r, rank, index);
    if (p.operation.op === 'DELETE') add(deletes, rank, index);
  }
  const c = child.plan.table.name;
  const a = parent.plan.table.name;
  // A child entry finds its parent row as the batch has left it so far.
  for (const [id, writes] of byRow) {
    const refs = references.get(id);
    if (refs) orderPairs(writes, refs, (i) => consider(i, `${a} ${id} is written on the other side of a ${c} entry that references it`));
    if (unknown.byRank.size > 0) orderPairs(writes, unknown, (i) => consider(i, `a ${c} default may reference ${a} ${id}`));
  }
  // A parent DELETE fails while a child references the row (cascades are ordered apart).
  if (!cascades) orderPairs(deletes, changers, (i) => consider(i, `a DELETE on ${a} and ${c} entries that may reference the row`));
}
