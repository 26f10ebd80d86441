import type { TablePlan } from '../core/fast-plan.ts';
import { INSERT, UPDATE, type RowStep } from '../core/row-fold.ts';
import type { TableInfo } from '../core/schema.ts';
import { ident, qualified } from './sql.ts';

/**
 * The set-based statements of the fast path, one table and one round at a time. Values
 * travel as one jsonb parameter of arrays of text (the codecs' input forms), each cast to
 * its column type in SQL, as the exact path casts its parameters: measured against COPY
 * into a temporary table and unnest of text arrays (bench/staging.ts), it is as fast,
 * needs one round trip and no temporary table.
 */

/**
 * A statement of the fast path: its one parameter is always jsonb text, so a plan can also
 * run as one script with the parameter written in (see prepared-statements.ts).
 */
export interface FastStatement {
  text: string;
  json: string;
}

/** Deletes rows by id. */
export function deleteStatement(plan: TablePlan, ids: string[]): FastStatement {
  const { table, idColumn } = plan;
  const keyType = table.columns.get(idColumn)!.type;
  return {
    // An array lets the planner see how many keys come, and read the table in key order.
    text: cachedText(
      table,
      ['delete', idColumn],
      () => `DELETE FROM ${qualified(table.schema, table.name)} WHERE ${ident(idColumn)} = ANY (ARRAY(SELECT d::${keyType} FROM jsonb_array_elements_text($1::jsonb) AS d))`,
    ),
    json: JSON.stringify(ids),
  };
}

/** The writes of a round as one jsonb parameter and the SQL that reads it back as rows `s`. */
interface Staged {
  /** Columns written by some step, in table order; value i is `s.v<i>`. */
  columns: string[];
  /** Their positions in the table's Shape. */
  positions: number[];
  /** Per insert group: the defaulted columns its steps leave out. */
  groups: string[][];
  /** `(SELECT ... ) AS s`: wp_id, wp_kind (u update, x upsert, i insert), wp_update, wp_insert (masks), wp_sig (group), v0... */
  source: () => string;
  json: string;
}

function stage(plan: TablePlan, writes: RowStep[]): Staged {
  const { table, idColumn, facts, shape } = plan;
  const positions = shape.columns.map((_, i) => i).filter((i) => writes.some((s) => s.flags[i] !== 0));
  const columns = positions.map((i) => shape.columns[i]!);
  const defaulted = positions.filter((i) => facts.withDefault.has(shape.columns[i]!));

  // A column's default can only be had by leaving the column out of an INSERT, so steps
  // are grouped by which defaulted columns they leave out: a handful, whatever the rows.
  const signatures = new Map<string, number>();
  const groups: string[][] = [];
  const rows = writes.map((s) => {
    const kind = s.write === 'update' ? 'u' : s.write === 'insert' ? 'i' : 'x';
    let signature = 0;
    if (kind !== 'u') {
      // Which defaulted columns the step leaves out, as one string of 0s and 1s: rows are many, groups few.
      let key = '';
      for (const i of defaulted) key += s.flags[i]! & INSERT ? '0' : '1';
      let index = signatures.get(key);
      if (index === undefined) {
        index = groups.length;
        signatures.set(key, index);
        groups.push(defaulted.filter((_, k) => key[k] === '1').map((i) => shape.columns[i]!));
      }
      signature = index;
    }
    let updates = '';
    let inserts = '';
    const row: (string | number | null)[] = [s.id, kind, '', '', signature];
    for (const i of positions) {
      const bits = s.flags[i]!;
      updates += bits & UPDATE ? '1' : '0';
      inserts += bits & INSERT ? '1' : '0';
      row.push(bits ? (s.cells[i] ?? null) : null);
    }
    row[2] = updates;
    row[3] = inserts;
    return row;
  });

  return { columns, positions, groups, source: () => sourceOf(plan, columns), json: JSON.stringify(rows) };
}

function sourceOf(plan: TablePlan, columns: string[]): string {
  const { table, idColumn } = plan;
  const typeOf = (c: string) => table.columns.get(c)!.type;
  const fields = [
    `(e->>0)::${typeOf(idColumn)} AS wp_id`,
    `e->>1 AS wp_kind`,
    `e->>2 AS wp_update`,
    `e->>3 AS wp_insert`,
    `(e->>4)::int AS wp_sig`,
    ...columns.map((c, i) => `(e->>${5 + i})::${typeOf(c)} AS v${i}`),
  ];
  // OFFSET 0 keeps the casts in the source, so each value is cast once, not once per action.
  return `(SELECT ${fields.join(', ')} FROM jsonb_array_elements($1::jsonb) AS e OFFSET 0) AS s`;
}

/**
 * Statement texts by table (as last read: a schema read again makes new TableInfos) and
 * shape. A table's shapes are few, and building a MERGE's text was a tenth of the server's
 * work on a 10-entry batch; the same string each time also makes it cheap to look up among
 * the connection's prepared statements.
 */
const textsByTable = new WeakMap<TableInfo, Map<string, string>>();
/** Shapes kept per table: past this, texts are built every time. */
const MAX_SHAPES_PER_TABLE = 256;

function cachedText(table: TableInfo, shape: unknown[], build: () => string): string {
  let texts = textsByTable.get(table);
  if (!texts) textsByTable.set(table, (texts = new Map()));
  // JSON, so that no column name can make two shapes look alike.
  const key = JSON.stringify(shape);
  let text = texts.get(key);
  if (text === undefined) {
    text = build();
    if (texts.size < MAX_SHAPES_PER_TABLE) texts.set(key, text);
  }
  return text;
}

const bit = (field: string, i: number) => `substr(s.${field}, ${i + 1}, 1) = '1'`;

/** The INSERT column list and values of an insert group. */
function insertOf(plan: TablePlan, staged: Staged, group: number): { columns: string; values: string } {
  const left = staged.groups[group]!;
  const given = staged.columns.map((c, i) => ({ c, i })).filter(({ c }) => !left.includes(c));
  // A defaulted column given in a group is given by every step of the group.
  const values = given.map(({ c, i }) => (plan.facts.withDefault.has(c) ? `s.v${i}` : `CASE WHEN ${bit('wp_insert', i)} THEN s.v${i} END`));
  return {
    columns: [plan.idColumn, ...given.map((g) => g.c)].map(ident).join(', '),
    values: ['s.wp_id', ...values].join(', '),
  };
}

/**
 * One MERGE for the writes of a round: an existing row gets its step's `update` columns
 * (the others kept); a missing one is inserted with its `insert` columns (the others take
 * their defaults), one WHEN NOT MATCHED clause per insert group.
 */
export function mergeStatement(plan: TablePlan, steps: RowStep[]): FastStatement | undefined {
  const writes = steps.filter((s) => s.write !== 'none');
  if (writes.length === 0) return undefined;
  const staged = stage(plan, writes);
  const { columns } = staged;
  const updates = writes.some((s) => s.write !== 'insert' && s.flags.some((bits) => bits & UPDATE));
  const { table, idColumn } = plan;
  const text = cachedText(table, ['merge', idColumn, updates, columns, staged.groups], () => {
    const clauses: string[] = [];
    if (updates) {
      const sets = columns.map((c, i) => `${ident(c)} = CASE WHEN ${bit('wp_update', i)} THEN s.v${i} ELSE t.${ident(c)} END`);
      clauses.push(`WHEN MATCHED AND s.wp_kind <> 'i' AND s.wp_update <> '${'0'.repeat(columns.length)}' THEN UPDATE SET ${sets.join(', ')}`);
    }
    staged.groups.forEach((_, group) => {
      const insert = insertOf(plan, staged, group);
      clauses.push(`WHEN NOT MATCHED AND s.wp_kind <> 'u' AND s.wp_sig = ${group} THEN INSERT (${insert.columns}) VALUES (${insert.values})`);
    });
    return `MERGE INTO ${qualified(table.schema, table.name)} AS t USING ${staged.source()} ON t.${ident(idColumn)} = s.wp_id ${clauses.join(' ')}`;
  });
  return { text, json: staged.json };
}

/**
 * Entry by entry, a PUT is an INSERT ... ON CONFLICT DO UPDATE, and Postgres checks the
 * row it would insert (NOT NULL, CHECK, generated columns) before it finds the conflict:
 * a PUT can be refused for its insert image even where the row exists. The MERGE updates
 * an existing row without building that image, so for tables whose checks the planner
 * cannot see, these statements build it once more, after the MERGE (every row exists by
 * then, so nothing is inserted): one INSERT ... ON CONFLICT DO NOTHING per insert group.
 */
export function insertImageChecks(plan: TablePlan, steps: RowStep[]): FastStatement[] {
  const upserts = steps.filter((s) => s.write === 'upsert');
  if (upserts.length === 0) return [];
  const staged = stage(plan, upserts);
  const { table, idColumn } = plan;
  return staged.groups.map((_, group) => ({
    text: cachedText(table, ['image', idColumn, staged.columns, staged.groups, group], () => {
      const insert = insertOf(plan, staged, group);
      return (
        `INSERT INTO ${qualified(table.schema, table.name)} (${insert.columns}) SELECT ${insert.values} FROM ${staged.source()}` +
        ` WHERE s.wp_sig = ${group} ON CONFLICT (${ident(idColumn)}) DO NOTHING`
      );
    }),
    json: staged.json,
  }));
}

/**
 * Entry by entry, every value is cast to its column type when the statement is planned,
 * whether a row matches or not: a PATCH of a missing row with a bad interval is refused.
 * A MERGE casts only what it writes, so values the codecs do not vouch for (types without
 * a codec) are cast here first, all of them, in one statement.
 */
export function castCheck(plan: TablePlan, steps: RowStep[]): FastStatement | undefined {
  const { table, facts, shape } = plan;
  const positions = shape.columns.map((_, i) => i).filter((i) => facts.unchecked.has(shape.columns[i]!));
  if (positions.length === 0) return undefined;
  const rows: (string | null)[][] = [];
  for (const s of steps) {
    const cells = positions.map((i) => (s.flags[i] ? (s.cells[i] ?? null) : null));
    if (cells.some((v) => v !== null)) rows.push(cells);
  }
  if (rows.length === 0) return undefined;
  const columns = positions.map((p) => shape.columns[p]!);
  // An aggregate's argument is computed for every row; a plain select list could be pruned.
  const text = cachedText(table, ['cast', columns], () => {
    const casts = columns.map((c, i) => `count((e->>${i})::${table.columns.get(c)!.type})`);
    return `SELECT ${casts.join(', ')} FROM jsonb_array_elements($1::jsonb) AS e`;
  });
  return { text, json: JSON.stringify(rows) };
}

