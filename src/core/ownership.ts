import type { TableRule, TableRules } from '../rules/table-rules.ts';
import type { ClientTransaction, EntryProblem, Operation } from './operation.ts';
import type { ReadRows, RowsById } from './row-reader.ts';
import type { TableInfo } from './schema.ts';

/** Why a client transaction may not be applied, or undefined when it may. */
export type Verdict = { opId: number; problem: EntryProblem } | undefined;

type Row = Record<string, string | null>;
type TableKey = string;

/**
 * The ownership rules of PROTOCOL.md section 6 (`owner_column`, `owner: { through, table,
 * column }`), checked for a whole batch with one read per table and then an in-memory walk
 * of the batch in op order: each check sees the rows as the batch has left them so far
 * (a parent created, or a child moved, earlier in the same batch). A transaction that is
 * refused leaves no trace in that walk. Fills in the owner column of a PUT that lacks it.
 */
export async function checkOwnership(...args: Parameters<typeof readOwnership>): Promise<Verdict[]> {
  const [transactions] = args;
  if (!ownershipReads(transactions)) return transactions.map(() => undefined);
  return (await readOwnership(...args)).walk().verdicts;
}

/** One walk of a part's transactions over the rows read once: verdicts, given which transactions fail at apply. */
export interface OwnershipWalk {
  /**
   * Walks in op order; the transactions at the indices in `failed` are known to fail at
   * apply: they are checked like the others but leave no trace. Every call walks anew over
   * the same rows, so a part can be walked again once some of its transactions failed.
   */
  walk(failed?: ReadonlySet<number>): WalkResult;
}

export interface WalkResult {
  verdicts: Verdict[];
  /**
   * The allowed transactions whose effect a later check (or a later change's starting
   * point) read: only if one of these fails at apply can a verdict after it be wrong.
   */
  reliedOn: Set<number>;
}

/** Reads what the checks of these transactions need (at most two queries per table); the walks read nothing more. */
export async function readOwnership(
  transactions: ClientTransaction<Operation>[],
  userId: string,
  rules: TableRules,
  findTable: (name: string) => TableInfo | undefined,
  readRows: ReadRows,
): Promise<OwnershipWalk> {
  const tracking = new Tracking(rules, findTable);
  const rows = await readCurrentRows(transactions, tracking, readRows);
  return {
    walk(failed = new Set()) {
      const state = new BatchState(rows, tracking);
      const verdicts = transactions.map((transaction, index): Verdict => {
        const draft = state.begin();
        for (const operation of transaction.entries) {
          const problem = checkOperation(operation, userId, rules, draft);
          if (problem) return { opId: operation.entry.opId, problem: { code: 'forbidden', message: problem } };
        }
        if (!failed.has(index)) state.commit(draft, index);
        return undefined;
      });
      return { verdicts, reliedOn: state.reliedOn };
    },
  };
}

/** Whether checking these transactions reads rows: some entry is under an ownership rule. */
export function ownershipReads(transactions: ClientTransaction<Operation>[]): boolean {
  return transactions.some((t) => t.entries.some((o) => o.rule.ownerColumn || o.rule.owner));
}

function checkOperation(operation: Operation, userId: string, rules: TableRules, draft: Draft): string | undefined {
  const { rule } = operation;
  const problem = rule.ownerColumn
    ? checkOwnerColumn(operation, rule.ownerColumn, userId, draft)
    : rule.owner
      ? checkThroughParent(operation, rule.owner, userId, rules, draft)
      : undefined;
  if (!problem) track(operation, draft);
  return problem;
}

function checkOwnerColumn(operation: Operation, ownerColumn: string, userId: string, draft: Draft): string | undefined {
  const { op, rule, id } = operation;
  const user = convertedUser(operation.table, ownerColumn, userId);
  if (user === undefined) return `${rule.clientName} ${id}: the user id does not fit the owner column ${ownerColumn}`;
  const current = draft.get(rule, id);
  if (current && current[ownerColumn] !== user) return `${rule.clientName} ${id}: the row belongs to another user`;
  const given = operation.values.find(([column]) => column === ownerColumn);
  if (given && given[1] !== user) {
    return op === 'PUT'
      ? `${rule.clientName} ${id}: ${ownerColumn} must be the token's user`
      : `${rule.clientName} ${id}: ${ownerColumn} cannot be changed`;
  }
  if (op === 'PUT' && !given) operation.values.push([ownerColumn, user]);
  return undefined;
}

function checkThroughParent(
  operation: Operation,
  owner: NonNullable<TableRule['owner']>,
  userId: string,
  rules: TableRules,
  draft: Draft,
): string | undefined {
  const { op, rule, id } = operation;
  const parentRule = rules.get(owner.table)!;
  /** Why the parent a link names is not the user's, or undefined when it is. */
  const notOwned = (link: string | null | undefined): string | undefined => {
    if (link === null || link === undefined) return `${owner.through} is empty, so the row has no owner`;
    const parent = draft.get(parentRule, link);
    if (!parent) return `the parent ${owner.table} ${link} does not exist`;
    const table = draft.tableOf(parentRule);
    const user = table ? convertedUser(table, owner.column, userId) : userId;
    return parent[owner.column] === user ? undefined : `the parent ${owner.table} ${link} belongs to another user`;
  };
  const current = draft.get(rule, id);
  if (current) {
    const problem = notOwned(current[owner.through]);
    if (problem) return `${rule.clientName} ${id}: the row belongs to another user (${problem})`;
  }
  if (op === 'DELETE' || (op === 'PATCH' && !current)) return undefined; // a PATCH of a missing row is a no-op
  const given = operation.values.find(([column]) => column === owner.through);
  if (!given && op === 'PATCH') return undefined;
  const link = given ? given[1] : rule.put === 'merge' ? current?.[owner.through] : null;
  const problem = notOwned(link);
  return problem ? `${rule.clientName} ${id}: ${problem}` : undefined;
}

/**
 * Records what an accepted operation did to the columns the walk follows (owner columns,
 * links, parents' owner columns), as applying it would.
 */
function track(operation: Operation, draft: Draft): void {
  const { op, rule, id } = operation;
  const columns = draft.trackedColumns(rule);
  if (columns.length === 0) return;
  const current = draft.get(rule, id);
  if (op === 'DELETE') return draft.set(rule, id, null);
  if (op === 'PATCH' && !current) return;
  const keeps = op === 'PATCH' || rule.put === 'merge';
  const next: Row = {};
  for (const column of columns) {
    const given = operation.values.find(([c]) => c === column);
    next[column] = given ? given[1] : keeps && current ? (current[column] ?? null) : null;
  }
  draft.set(rule, id, next);
}

/** The user id in the owner column's own form (a uuid column normalises case, say). */
function convertedUser(table: TableInfo, ownerColumn: string, userId: string): string | undefined {
  const converted = table.columns.get(ownerColumn)?.convert(userId);
  return converted?.ok && converted.value !== null ? converted.value : undefined;
}

/** Which columns of which tables the walk follows, from the table rules. */
class Tracking {
  private readonly columns = new Map<TableKey, Set<string>>();

  constructor(
    readonly rules: TableRules,
    readonly findTable: (name: string) => TableInfo | undefined,
  ) {
    for (const rule of rules.all()) {
      if (rule.ownerColumn) this.follow(rule, rule.ownerColumn);
      if (rule.owner) {
        this.follow(rule, rule.owner.through);
        const parent = rules.get(rule.owner.table);
        if (parent) this.follow(parent, rule.owner.column);
      }
    }
  }

  columnsOf(rule: TableRule): string[] {
    return [...(this.columns.get(tableKey(rule)) ?? [])];
  }

  private follow(rule: TableRule, column: string): void {
    const key = tableKey(rule);
    if (!this.columns.has(key)) this.columns.set(key, new Set());
    this.columns.get(key)!.add(column);
  }
}

/**
 * Reads what the walk needs in two rounds: first every followed row the batch touches
 * (owned rows, children with their links, parents written by the batch), then the parents
 * those children's current links point at and were not read yet. At most two queries per
 * table.
 */
async function readCurrentRows(transactions: ClientTransaction<Operation>[], tracking: Tracking, readRows: ReadRows): Promise<Map<TableKey, RowsById>> {
  const operations = transactions.flatMap((t) => t.entries);
  const first = new Wanted(tracking);
  for (const o of operations) first.add(o.rule, o.id);
  for (const o of operations) {
    const link = o.rule.owner && o.values.find(([c]) => c === o.rule.owner!.through)?.[1];
    if (link) first.add(tracking.rules.get(o.rule.owner!.table)!, link);
  }
  const rows = await first.read(readRows);

  const second = new Wanted(tracking);
  for (const o of operations) {
    const owner = o.rule.owner;
    const link = owner && rows.get(tableKey(o.rule))?.get(o.id)?.[owner.through];
    if (!link) continue;
    const parentRule = tracking.rules.get(owner.table)!;
    if (!first.has(parentRule, link)) second.add(parentRule, link);
  }
  for (const [key, more] of await second.read(readRows)) {
    const known = rows.get(key);
    if (known) for (const [id, row] of more) known.set(id, row);
    else rows.set(key, more);
  }
  return rows;
}

class Wanted {
  private readonly byTable = new Map<TableKey, { rule: TableRule; ids: Set<string> }>();
  constructor(private readonly tracking: Tracking) {}

  add(rule: TableRule, id: string): void {
    if (this.tracking.columnsOf(rule).length === 0) return;
    const key = tableKey(rule);
    let entry = this.byTable.get(key);
    if (!entry) this.byTable.set(key, (entry = { rule, ids: new Set() }));
    entry.ids.add(id);
  }

  has(rule: TableRule, id: string): boolean {
    return this.byTable.get(tableKey(rule))?.ids.has(id) ?? false;
  }

  async read(readRows: ReadRows): Promise<Map<TableKey, RowsById>> {
    const result = new Map<TableKey, RowsById>();
    for (const [key, { rule, ids }] of this.byTable) {
      const table = this.tracking.findTable(rule.dbTable);
      if (table) result.set(key, await readRows(table, rule.idColumn, [...ids], this.tracking.columnsOf(rule)));
    }
    return result;
  }
}

/** Rows are keyed by database table, so two client names for one table share their rows. */
const tableKey = (rule: TableRule): TableKey => `${rule.dbTable}\u0000${rule.idColumn}`;

/** The rows as the batch has left them: what was read, overlaid by accepted transactions. */
class BatchState {
  private readonly accepted = new Map<string, { row: Row | null; by: number }>();
  /** The accepted transactions a later one read a row from. */
  readonly reliedOn = new Set<number>();
  constructor(
    private readonly read: Map<TableKey, RowsById>,
    private readonly tracking: Tracking,
  ) {}

  begin(): Draft {
    return new Draft((key) => {
      const change = this.accepted.get(key);
      if (!change) return this.readRow(key);
      this.reliedOn.add(change.by);
      return change.row;
    }, this.tracking);
  }

  /** Keeps the changes of the transaction at `index`, accepted. */
  commit(draft: Draft, index: number): void {
    for (const [key, row] of draft.changes) this.accepted.set(key, { row, by: index });
  }

  private readRow(key: string): Row | null {
    const [table, id] = splitKey(key);
    return this.read.get(table)?.get(id) ?? null;
  }
}

/** One transaction's view: its own changes over the batch state, dropped if it is refused. */
class Draft {
  readonly changes = new Map<string, Row | null>();
  constructor(
    private readonly base: (key: string) => Row | null,
    private readonly tracking: Tracking,
  ) {}

  get(rule: TableRule, id: string): Row | null {
    const key = rowKey(rule, id);
    return this.changes.has(key) ? this.changes.get(key)! : this.base(key);
  }

  /** Records a row's new state; returns undefined so a check can end with it. */
  set(rule: TableRule, id: string, row: Row | null): undefined {
    this.changes.set(rowKey(rule, id), row);
    return undefined;
  }

  trackedColumns(rule: TableRule): string[] {
    return this.tracking.columnsOf(rule);
  }

  tableOf(rule: TableRule): TableInfo | undefined {
    return this.tracking.findTable(rule.dbTable);
  }
}

const rowKey = (rule: TableRule, id: string) => `${tableKey(rule)}\u0001${id}`;
const splitKey = (key: string): [TableKey, string] => {
  const at = key.indexOf('\u0001');
  return [key.slice(0, at), key.slice(at + 1)];
};
