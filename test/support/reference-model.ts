/**
 * An in-memory reference for the property test of the fast path: the two tables of
 * test/fast-path-equivalence.test.ts and what applying a batch entry by entry does to them,
 * written from PROTOCOL.md and Postgres's documented behaviour, not from the server's code.
 */

export type FkAction = 'cascade' | 'no action' | 'set null';
export type PutMode = 'merge' | 'replace';
type Value = string | number | boolean | null;
export type Row = Record<string, Value>;

export interface ModelEntry {
  op_id: number;
  tx_id?: number;
  op: 'PUT' | 'PATCH' | 'DELETE';
  type: 'lists' | 'todos';
  id: string;
  data?: Record<string, unknown>;
}

export interface ModelRejection {
  op_id: number;
  code: string;
  column?: string;
  cause_op_id?: number;
}

export interface ModelResponse {
  applied: number;
  duplicates: number;
  rejected: ModelRejection[];
}

class Refused extends Error {
  constructor(
    readonly code: string,
    readonly column?: string,
  ) {
    super(code);
  }
}

const VALID_SPANS: Record<string, string> = { '1 day': '1 day', '3 days': '3 days' };

interface Column {
  name: string;
  notNull?: boolean;
  /** The column default on insert. */
  fallback?: Value;
  /** Codec: the converted value, or undefined when the value does not convert. */
  convert(v: unknown): Value | undefined;
}

const text: Column['convert'] = (v) => (v === null || typeof v === 'string' ? v : undefined);
const int: Column['convert'] = (v) => (v === null || (typeof v === 'number' && Number.isInteger(v)) ? v : undefined);
const bool: Column['convert'] = (v) => (v === null ? null : v === 1 || v === true ? true : v === 0 || v === false ? false : undefined);

const COLUMNS: Record<'lists' | 'todos', Column[]> = {
  lists: [
    { name: 'name', notNull: true, convert: text },
    { name: 'n', convert: int },
    { name: 'tag', convert: text },
  ],
  todos: [
    { name: 'list_id', convert: text },
    { name: 'title', notNull: true, convert: text },
    { name: 'done', notNull: true, fallback: false, convert: bool },
    { name: 'prio', convert: int },
    // interval has no codec: anything textual passes and the database judges it.
    { name: 'span', convert: (v) => (v === null || typeof v === 'string' ? v : undefined) },
  ],
};

export class ReferenceModel {
  lists = new Map<string, Row>();
  todos = new Map<string, Row>();
  private ledger = 0;

  constructor(
    private readonly fk: FkAction,
    private readonly put: { lists: PutMode; todos: PutMode },
  ) {}

  /** One POST: duplicates skipped, client transactions applied completely or not at all. */
  post(entries: ModelEntry[]): ModelResponse {
    const fresh = entries.filter((e) => e.op_id > this.ledger);
    const response: ModelResponse = { applied: 0, duplicates: entries.length - fresh.length, rejected: [] };
    for (const group of groups(fresh)) {
      const saved = { lists: clone(this.lists), todos: clone(this.todos) };
      let cause: { entry: ModelEntry; error: Refused } | undefined;
      const converted = group.map((e) => this.convert(e));
      const bad = converted.findIndex((c) => c instanceof Refused);
      if (bad >= 0) cause = { entry: group[bad]!, error: converted[bad] as Refused };
      else {
        for (const [i, entry] of group.entries()) {
          try {
            this.apply(entry, converted[i] as Row);
          } catch (error) {
            if (!(error instanceof Refused)) throw error;
            cause = { entry, error };
            break;
          }
        }
      }
      if (!cause) {
        response.applied += group.length;
        continue;
      }
      this.lists = saved.lists;
      this.todos = saved.todos;
      for (const e of group) {
        response.rejected.push(
          e === cause.entry
            ? { op_id: e.op_id, code: cause.error.code, ...(cause.error.column !== undefined && { column: cause.error.column }) }
            : { op_id: e.op_id, code: 'transaction_rejected', cause_op_id: cause.entry.op_id },
        );
      }
    }
    this.ledger = Math.max(this.ledger, ...entries.map((e) => e.op_id));
    return response;
  }

  /** The codecs: values converted, or the first that does not convert. */
  private convert(entry: ModelEntry): Row | Refused {
    const out: Row = {};
    if (entry.op === 'DELETE') return out;
    for (const [name, value] of Object.entries(entry.data ?? {})) {
      const converted = COLUMNS[entry.type].find((c) => c.name === name)!.convert(value);
      if (converted === undefined) return new Refused('invalid_value', name);
      out[name] = converted;
    }
    return out;
  }

  private apply(entry: ModelEntry, given: Row): void {
    const table = this[entry.type];
    const columns = COLUMNS[entry.type];
    // Every value is cast to its type when the statement is planned, row or no row.
    for (const [name, value] of Object.entries(given)) {
      if (name === 'span' && value !== null && !(String(value) in VALID_SPANS)) throw new Refused('invalid_value');
    }
    const existing = table.get(entry.id);
    if (entry.op === 'DELETE') {
      if (existing && entry.type === 'lists') this.deleteList(entry.id);
      table.delete(entry.id);
      return;
    }
    if (entry.op === 'PATCH') {
      if (!existing || Object.keys(given).length === 0) return;
      const row = { ...existing, ...given };
      this.check(entry.type, row, 'list_id' in given);
      table.set(entry.id, row);
      return;
    }
    // PUT is INSERT ... ON CONFLICT: the insert image is checked first, row or no row.
    const inserted: Row = {};
    for (const c of columns) inserted[c.name] = c.name in given ? given[c.name]! : (c.fallback ?? null);
    this.checkRow(entry.type, inserted);
    if (!existing) {
      this.check(entry.type, inserted, true);
      table.set(entry.id, inserted);
      return;
    }
    if (this.put[entry.type] === 'merge') {
      if (Object.keys(given).length === 0) return;
      const row = { ...existing, ...given };
      this.check(entry.type, row, 'list_id' in given);
      table.set(entry.id, row);
    } else {
      const row: Row = {};
      for (const c of columns) row[c.name] = c.name in given ? given[c.name]! : null;
      this.check(entry.type, row, true);
      table.set(entry.id, row);
    }
  }

  /** NOT NULL in column order, then CHECK, then the foreign key (checked after the row is written). */
  private check(type: 'lists' | 'todos', row: Row, keyWritten: boolean): void {
    this.checkRow(type, row);
    if (type === 'todos' && keyWritten && row.list_id !== null && !this.lists.has(String(row.list_id))) {
      throw new Refused('constraint_violation');
    }
  }

  private checkRow(type: 'lists' | 'todos', row: Row): void {
    for (const c of COLUMNS[type]) if (c.notNull && row[c.name] === null) throw new Refused('constraint_violation', c.name);
    if (type === 'lists' && typeof row.n === 'number' && row.n < 0) throw new Refused('constraint_violation');
  }

  private deleteList(id: string): void {
    for (const [todoId, todo] of this.todos) {
      if (todo.list_id !== id) continue;
      if (this.fk === 'no action') throw new Refused('constraint_violation');
      if (this.fk === 'cascade') this.todos.delete(todoId);
      else this.todos.set(todoId, { ...todo, list_id: null });
    }
  }
}

function clone(map: Map<string, Row>): Map<string, Row> {
  return new Map([...map].map(([k, v]) => [k, { ...v }]));
}

/** Runs of consecutive entries with the same tx_id; an entry without one stands alone. */
function groups(entries: ModelEntry[]): ModelEntry[][] {
  const out: ModelEntry[][] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last && e.tx_id !== undefined && last[0]!.tx_id === e.tx_id) last.push(e);
    else out.push([e]);
  }
  return out;
}
