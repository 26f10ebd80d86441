import { describe, expect, it } from 'vitest';
import { facts, fk, op, rule, source, table, txs } from '../../test/support/planner-fixtures.ts';
import { segment } from './segments.ts';
import { exactPathReason } from './table-facts.ts';

const lists = table('lists', ['name']);
const todos = table('todos', ['list_id', 'title']);
const L = rule('lists');
const T = rule('todos');
const listFacts = facts(lists);
const todoFacts = facts(todos, { foreignKeys: [fk('todos', 'list_id', 'lists')] });
const both = source([lists, listFacts], [todos, todoFacts]);

const shape = (s: ReturnType<typeof segment>) => s.map((g) => [g.path, g.transactions.length]);

describe('segment', () => {
  it('keeps a batch that makes parents before children and deletes children before parents in one fast segment', () => {
    const batch = txs(
      [op(lists, L, 'PUT', 'l1', { name: 'a' }), op(todos, T, 'PUT', 't1', { list_id: 'l1' })],
      [op(lists, L, 'PUT', 'l2', { name: 'b' }), op(todos, T, 'PUT', 't2', { list_id: 'l2' })],
      [op(todos, T, 'DELETE', 't0'), op(todos, T, 'PATCH', 't9', { list_id: 'l2' }), op(lists, L, 'DELETE', 'l0')],
    );
    expect(shape(segment(batch, both, { minFastEntries: 1 }))).toEqual([['fast', 3]]);
  });

  it('does not fold away a parent row that a child referenced while it existed', () => {
    // l1 made and deleted: folded, it never exists, and t1 could not be written in between.
    const batch = txs(
      [op(lists, L, 'PUT', 'l1', { name: 'a' }), op(todos, T, 'PUT', 't1', { list_id: 'l1' })],
      [op(todos, T, 'DELETE', 't1'), op(lists, L, 'DELETE', 'l1')],
    );
    expect(shape(segment(batch, both, { minFastEntries: 1 }))).toEqual([['exact', 1], ['fast', 1]]);
  });

  it('ends a fast segment before a parent written after a child that references it', () => {
    const batch = txs(
      [op(todos, T, 'PUT', 't1', { list_id: 'l0' })],
      [op(lists, L, 'PUT', 'l9', { name: 'unrelated' })],
      [op(lists, L, 'PUT', 'l0', { name: 'late parent' })],
    );
    expect(shape(segment(batch, both, { minFastEntries: 1 }))).toEqual([['fast', 2], ['fast', 1]]);
    // Within one transaction nothing can be split off: that transaction goes entry by entry.
    const within = txs([op(todos, T, 'PUT', 't1', { list_id: 'l0' }), op(lists, L, 'PUT', 'l0', { name: 'p' })]);
    expect(segment(within, both, { minFastEntries: 1 })).toMatchObject([{ path: 'exact', reason: expect.stringContaining('references it') }]);
  });

  it('deletes parents last, so children moved or deleted first no longer hold them', () => {
    const moved = txs([op(todos, T, 'PATCH', 't1', { list_id: 'l2' })], [op(lists, L, 'DELETE', 'l1')]);
    expect(shape(segment(moved, both, { minFastEntries: 1 }))).toEqual([['fast', 2]]);
    // The other way round, the DELETE may fail entry by entry where the plan's would not.
    const late = txs([op(lists, L, 'DELETE', 'l1')], [op(todos, T, 'PATCH', 't1', { list_id: 'l2' })]);
    expect(shape(segment(late, both, { minFastEntries: 1 }))).toEqual([['fast', 1], ['fast', 1]]);
    const childrenFirst = txs([op(todos, T, 'DELETE', 't1')], [op(lists, L, 'DELETE', 'l1')]);
    expect(shape(segment(childrenFirst, both, { minFastEntries: 1 }))).toEqual([['fast', 2]]);
  });

  it('sends a DELETE that cascades into a table written in the same segment apart', () => {
    const cascading = source([lists, facts(lists, { deleteAffects: new Set(['todos']) })], [todos, facts(todos, { foreignKeys: [fk('todos', 'list_id', 'lists', 'cascade')] })]);
    const batch = txs([op(todos, T, 'PATCH', 't1', { title: 'x' })], [op(lists, L, 'DELETE', 'l1')], [op(todos, T, 'PUT', 't2', { title: 'y' })]);
    expect(shape(segment(batch, cascading, { minFastEntries: 1 }))).toEqual([['fast', 1], ['fast', 1], ['fast', 1]]);
  });

  it('applies the transactions of an exact table entry by entry and the rest around them fast', () => {
    const triggered = source([lists, facts(lists, { hasUserTriggers: true })], [todos, facts(todos)]);
    const batch = txs(
      [op(todos, T, 'PUT', 't1', { title: 'a' }), op(todos, T, 'PUT', 't2', { title: 'b' })],
      [op(lists, L, 'PUT', 'l1', { name: 'x' })],
      [op(lists, L, 'PATCH', 'l1', { name: 'y' })],
      [op(todos, T, 'PUT', 't3', { title: 'c' })],
    );
    expect(segment(batch, triggered, { minFastEntries: 1 }).map((s) => [s.path, s.transactions.length, s.path === 'exact' ? s.reason : ''])).toEqual([
      ['fast', 1, ''],
      ['exact', 2, 'lists: the table has triggers'],
      ['fast', 1, ''],
    ]);
    // Made too small to gain from folding: entry by entry.
    expect(shape(segment(batch, triggered, { minFastEntries: 3 }))).toEqual([['exact', 4]]);
  });
});

describe('exactPathReason', () => {
  it('names what makes folding unprovable', () => {
    const put = [op(lists, L, 'PUT', 'l1', { name: 'a' })];
    const patch = [op(lists, L, 'PATCH', 'l1', { name: 'a' })];
    expect(exactPathReason(L, listFacts, put)).toBeUndefined();
    expect(exactPathReason(rule('lists', { apply: 'exact' }), listFacts, put)).toBe('apply: exact');
    expect(exactPathReason(L, undefined, put)).toBe('nothing is known of the table');
    expect(exactPathReason(L, facts(lists, { foreignKeys: [fk('lists', 'name', 'lists')] }), put)).toMatch(/itself/);
    expect(exactPathReason(L, facts(lists, { uniqueKeys: [['name']] }), put)).toMatch(/unique/);
    expect(exactPathReason(L, facts(lists, { uniqueKeys: [['name']] }), patch)).toMatch(/unique/);
    expect(exactPathReason(L, facts(lists, { uniqueKeys: [['other']] }), patch)).toBeUndefined();
    expect(exactPathReason(L, facts(lists, { notNull: new Set(['id', 'name']) }), [op(lists, L, 'PUT', 'l1', {})])).toMatch(/NOT NULL/);
    expect(exactPathReason(L, facts(lists, { deleteFiresTriggers: true }), [op(lists, L, 'DELETE', 'l1')])).toMatch(/cascades/);
  });
});
