import type { Operation } from './operation.ts';
import { writableColumns, type TableFacts } from './table-facts.ts';

export type Cell = string | null;

/** A table's columns by position: steps keep values in arrays, not maps (a batch has many rows). */
export interface Shape {
  columns: readonly string[];
  index: ReadonlyMap<string, number>;
}

export function shapeOf(columns: Iterable<string>): Shape {
  const list = [...columns];
  return { columns: list, index: new Map(list.map((c, i) => [c, i])) };
}

/** Flag bits of a step's column. */
export const UPDATE = 1;
export const INSERT = 2;

/**
 * What set-based statements do for one row in one round: the operations of the row folded
 * together, as far as folding is provably the same as applying them one by one.
 */
export interface RowStep {
  /** The row id, converted to the key column's type. */
  id: string;
  /** Delete the row as it stands before this step (a DELETE came in it). */
  deleteFirst: boolean;
  /**
   * Then: nothing; set the UPDATE columns when the row exists; insert with the INSERT
   * columns or, when it exists, set the UPDATE ones; insert (the row is known to be gone).
   */
  write: 'none' | 'update' | 'upsert' | 'insert';
  /**
   * Per column of the table's Shape: UPDATE when the step sets it on an existing row,
   * INSERT when it gives it on insert (the others take their defaults). For an upsert the
   * inserted columns are always among the updated ones.
   */
  flags: number[];
  /** Per column with flags: its value, the same for update and insert. */
  cells: Cell[];
}

/**
 * The state of the row after the operations folded into the current step, relative to the
 * row R as it stood when the step began (unknown to us: it may or may not exist).
 * untouched: R. absent: no row. fresh: a new row, defaults + the INSERT columns.
 * patched: R + the UPDATE columns if R exists, else no row. upserted: R + the UPDATE
 * columns if R exists, else defaults + the INSERT columns.
 */
type State = 'untouched' | 'absent' | 'fresh' | 'patched' | 'upserted';

const WRITE: Record<State, RowStep['write']> = { untouched: 'none', absent: 'none', fresh: 'insert', patched: 'update', upserted: 'upsert' };

/** What the database has not yet checked of the last row image of the step. */
interface PendingImage {
  /** Whether every NOT NULL column of the image is provably non-null, whether R exists or not. */
  notNullSafe: boolean;
  /** Columns whose value the database alone can judge (a foreign key, an unchecked type). */
  risky: string[];
}

/**
 * Folds one row's operations, in op order, into steps (rounds). Entries one by one pass
 * every intermediate row image through the database's checks; a fold skips them. So an
 * operation that would hide an image the planner cannot prove valid (a CHECK constraint, a
 * NOT NULL column that may be null, a foreign key or unchecked value that is then
 * overwritten) starts a new step instead, and that image is written for real one round
 * earlier. Lossless folds (DELETE then PUT, PATCH after DELETE, anything after an image
 * known to be valid) never cost a round.
 */
export class RowFold {
  readonly steps: RowStep[] = [];
  private state: State = 'untouched';
  private step: RowStep;
  /** Whether the last operation made a row image the database has not judged yet (worked out when needed). */
  private pending = false;

  constructor(
    readonly id: string,
    private readonly facts: TableFacts,
    private readonly shape: Shape,
    private readonly idColumn: string,
    /** Columns of this table under a foreign key: their values are checked against another table. */
    private readonly foreignKeyColumns: ReadonlySet<string>,
  ) {
    this.step = this.newStep();
  }

  /** Folds the next operation of the row and returns the index of the step it landed in. */
  add(operation: Operation): number {
    if ((this.pending && this.hides(operation)) || this.dropsUnchecked(operation)) this.step = this.newStep();
    this.apply(operation);
    return this.steps.length - 1;
  }

  private newStep(): RowStep {
    this.state = 'untouched';
    this.pending = false;
    const n = this.shape.columns.length;
    const step: RowStep = { id: this.id, deleteFirst: false, write: 'none', flags: new Array<number>(n).fill(0), cells: new Array<Cell>(n) };
    this.steps.push(step);
    return step;
  }

  /**
   * A PATCH of a deleted row does nothing, but entry by entry its values are still cast to
   * their types; one the codecs do not vouch for must reach the database, in a round of
   * its own, where it updates the missing row: nothing, after the cast.
   */
  private dropsUnchecked(operation: Operation): boolean {
    return (
      this.state === 'absent' &&
      operation.op === 'PATCH' &&
      operation.values.some(([column, value]) => value !== null && this.facts.unchecked.has(column))
    );
  }

  /** Whether the operation writes over the pending image without the database seeing it. */
  private hides(operation: Operation): boolean {
    if (operation.op === 'PATCH' && (operation.values.length === 0 || this.state === 'absent')) return false;
    if (this.facts.opaqueRowChecks) return true;
    const pending = this.image();
    if (!pending) return false;
    if (!pending.notNullSafe) return true;
    if (pending.risky.length === 0) return false;
    if (operation.op === 'DELETE' || (operation.op === 'PUT' && operation.rule.put === 'replace')) return true;
    return operation.values.some(([column]) => pending.risky.includes(column));
  }

  /** Sets a column's value and adds flag bits. */
  private set(column: string, value: Cell, bits: number): void {
    const i = this.shape.index.get(column)!;
    this.step.cells[i] = value;
    this.step.flags[i]! |= bits;
  }

  private clear(bits: number): void {
    const flags = this.step.flags;
    for (let i = 0; i < flags.length; i++) flags[i]! &= ~bits;
  }

  private apply(operation: Operation): void {
    const s = this.step;
    if (operation.op === 'DELETE') {
      this.state = 'absent';
      s.deleteFirst = true;
      this.clear(UPDATE | INSERT);
      this.pending = false;
    } else if (operation.op === 'PATCH') {
      if (operation.values.length === 0 || this.state === 'absent') return;
      if (this.state === 'untouched') this.state = 'patched';
      const bits = (this.state !== 'fresh' ? UPDATE : 0) | (this.state !== 'patched' ? INSERT : 0);
      for (const [column, value] of operation.values) this.set(column, value, bits);
    } else if (operation.rule.put === 'replace') {
      this.putReplace(operation);
    } else {
      this.putMerge(operation);
    }
    s.write = WRITE[this.state];
    // The image is judged only if another operation comes to hide it (one row in ten, say).
    if (operation.op !== 'DELETE') this.pending = this.state !== 'untouched' && this.state !== 'absent';
  }

  private putMerge(operation: Operation): void {
    const from = this.state;
    // A missing row ignored the PATCHes: an insert carries only what this PUT carries.
    if (from === 'patched') this.clear(INSERT);
    const bits = INSERT | (from !== 'absent' && from !== 'fresh' ? UPDATE : 0);
    for (const [column, value] of operation.values) this.set(column, value, bits);
    this.state = from === 'absent' || from === 'fresh' ? 'fresh' : 'upserted';
  }

  /** A PUT merge of every writable column (absent ones NULL) on an existing row; an insert of what it carries on a new one. */
  private putReplace(operation: Operation): void {
    const from = this.state;
    if (from === 'absent') {
      for (const [column, value] of operation.values) this.set(column, value, INSERT);
      this.state = 'fresh';
      return;
    }
    const given = new Map(operation.values);
    // Up to now the insert branch was a missing row (PATCHes ignored): it inserts what this PUT carries.
    if (from === 'untouched' || from === 'patched') this.clear(INSERT);
    for (const column of writableColumns(operation)) {
      const present = given.has(column);
      const bits = (from !== 'fresh' ? UPDATE : 0) | (present || from === 'fresh' || from === 'upserted' ? INSERT : 0);
      this.set(column, present ? given.get(column)! : null, bits);
    }
    this.state = from === 'fresh' ? 'fresh' : 'upserted';
  }

  /** What the database will not have checked of the image the last operation made. */
  private image(): PendingImage | undefined {
    const { state, step, facts, shape } = this;
    if (state === 'untouched' || state === 'absent') return undefined;
    const onUpdate = state !== 'fresh';
    const onInsert = state !== 'patched';
    const flag = (column: string) => step.flags[shape.index.get(column)!] ?? 0;
    const value = (column: string) => step.cells[shape.index.get(column)!];
    let notNullSafe = true;
    for (const column of facts.notNull) {
      if (column === this.idColumn || !shape.index.has(column)) continue;
      const bits = flag(column);
      if (onUpdate && bits & UPDATE && value(column) === null) notNullSafe = false;
      if (onInsert && (bits & INSERT ? value(column) === null : !facts.withDefault.has(column))) notNullSafe = false;
    }
    const risky: string[] = [];
    const cellBit = state === 'fresh' ? INSERT : UPDATE;
    shape.columns.forEach((column, i) => {
      if (step.flags[i]! & cellBit && step.cells[i] !== null && (facts.unchecked.has(column) || this.foreignKeyColumns.has(column))) risky.push(column);
    });
    // A default in a foreign key column references a row we cannot name.
    if (onInsert) for (const column of this.foreignKeyColumns) if (!(flag(column) & INSERT) && facts.withDefault.has(column)) risky.push(column);
    return { notNullSafe, risky };
  }
}
