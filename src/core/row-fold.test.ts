import { describe, expect, it } from 'vitest';
import { facts, op, rule, table } from '../../test/support/planner-fixtures.ts';
import { INSERT, RowFold, shapeOf, UPDATE, type RowStep } from './row-fold.ts';
import type { TableFacts } from './table-facts.ts';

const notes = table('notes', ['title', 'body', 'owner']);
const merge = rule('notes');
const replace = rule('notes', { put: 'replace' });

function fold(f: TableFacts, ...ops: Array<[typeof merge, 'PUT' | 'PATCH' | 'DELETE', Record<string, string | null>?]>): RowStep[] {
  const row = new RowFold('n1', f, shape, 'id', new Set(f.foreignKeys.flatMap((k) => k.columns)));
  for (const [r, kind, data] of ops) row.add(op(notes, r, kind, 'n1', data));
  return row.steps;
}

const plain = facts(notes);
const shape = shapeOf(notes.columns.keys());
const view = (s: RowStep) => {
  const has = (bit: number) => shape.columns.filter((_, i) => s.flags[i]! & bit).sort();
  return {
    deleteFirst: s.deleteFirst,
    write: s.write,
    values: Object.fromEntries(shape.columns.flatMap((c, i) => (s.flags[i] ? [[c, s.cells[i]]] : []))),
    update: has(UPDATE),
    insert: has(INSERT),
  };
};

describe('RowFold', () => {
  it('folds PUT then PATCH into one upsert', () => {
    const steps = fold(plain, [merge, 'PUT', { title: 'a', body: 'b' }], [merge, 'PATCH', { body: 'c' }]);
    expect(steps.map(view)).toEqual([
      { deleteFirst: false, write: 'upsert', values: { title: 'a', body: 'c' }, update: ['body', 'title'], insert: ['body', 'title'] },
    ]);
  });

  it('makes DELETE then PUT a fresh row, not a merge into the old one', () => {
    const steps = fold(plain, [merge, 'PATCH', { owner: 'u1' }], [merge, 'DELETE'], [merge, 'PUT', { title: 'new' }]);
    expect(steps.map(view)).toEqual([{ deleteFirst: true, write: 'insert', values: { title: 'new' }, update: [], insert: ['title'] }]);
  });

  it('drops a PATCH after DELETE', () => {
    const steps = fold(plain, [merge, 'DELETE'], [merge, 'PATCH', { title: 'ghost' }]);
    expect(steps.map(view)).toEqual([{ deleteFirst: true, write: 'none', values: {}, update: [], insert: [] }]);
  });

  it('inserts only what a PUT carries after PATCHes of a row that may not exist', () => {
    const steps = fold(plain, [merge, 'PATCH', { owner: 'u1' }], [merge, 'PUT', { title: 't' }]);
    // Existing row: owner and title set. Missing row: the PATCH did nothing; insert title only.
    expect(steps.map(view)).toEqual([
      { deleteFirst: false, write: 'upsert', values: { owner: 'u1', title: 't' }, update: ['owner', 'title'], insert: ['title'] },
    ]);
  });

  it('under put: replace sets what a PUT lacks to NULL on an existing row and leaves it to defaults on a new one', () => {
    const steps = fold(plain, [replace, 'PUT', { title: 't' }]);
    expect(steps.map(view)).toEqual([
      { deleteFirst: false, write: 'upsert', values: { title: 't', body: null, owner: null }, update: ['body', 'owner', 'title'], insert: ['title'] },
    ]);
    const again = fold(plain, [replace, 'PUT', { title: 't' }], [replace, 'PUT', { body: 'b' }]);
    // The second PUT finds the row the first one made or updated: everything is explicit.
    expect(again.map(view)).toEqual([
      { deleteFirst: false, write: 'upsert', values: { title: null, body: 'b', owner: null }, update: ['body', 'owner', 'title'], insert: ['body', 'owner', 'title'] },
    ]);
  });

  it('starts a new round rather than fold away an image the database must judge', () => {
    // A CHECK constraint may refuse the first image: it is written for real first.
    const checked = fold(facts(notes, { opaqueRowChecks: true }), [merge, 'PUT', { title: 'a' }], [merge, 'PATCH', { title: 'b' }]);
    expect(checked.map((s) => s.write)).toEqual(['upsert', 'update']);
    // NOT NULL body set to null, then fixed: entry by entry the PATCH fails.
    const nulled = fold(facts(notes, { notNull: new Set(['id', 'body']) }), [merge, 'PATCH', { body: null }], [merge, 'PATCH', { body: 'x' }]);
    expect(nulled).toHaveLength(2);
    // A foreign key value overwritten before anything checked it.
    const linked = facts(notes, { foreignKeys: [{ table: 'notes', columns: ['owner'], references: 'users', referencedColumns: ['id'], onDelete: 'no action' }] });
    expect(fold(linked, [merge, 'PUT', { owner: 'u9' }], [merge, 'PATCH', { owner: 'u1' }])).toHaveLength(2);
    expect(fold(linked, [merge, 'PUT', { owner: 'u9' }], [merge, 'PATCH', { title: 'kept owner' }])).toHaveLength(1);
    // An unchecked (pass-through) value: overwritten, or sent to a deleted row.
    const loose = facts(notes, { unchecked: new Set(['body']) });
    expect(fold(loose, [merge, 'PUT', { body: '1 fortnight' }], [merge, 'PUT', { body: '1 day' }])).toHaveLength(2);
    expect(fold(loose, [merge, 'DELETE'], [merge, 'PATCH', { body: 'garbage' }])).toHaveLength(2);
    expect(fold(loose, [merge, 'DELETE'], [merge, 'PATCH', { title: 'ignored' }])).toHaveLength(1);
  });
});
