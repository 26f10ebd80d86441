import { describe, expect, it } from 'vitest';
import { configSchema } from '../config/schema.ts';
import { TableRules } from '../rules/table-rules.ts';
import type { ClientTransaction, Operation, OpKind } from './operation.ts';
import { checkOwnership, readOwnership } from './ownership.ts';
import type { ReadRows } from './row-reader.ts';
import type { TableInfo } from './schema.ts';
import { textTable } from './testing.ts';

const rules = new TableRules(
  configSchema.parse({
    tables: {
      lists: { owner_column: 'owner_id' },
      todos: { owner: { through: 'list_id', table: 'lists', column: 'owner_id' } },
    },
  }).tables,
);

const tables: Record<string, TableInfo> = { lists: textTable('lists', ['name', 'owner_id']), todos: textTable('todos', ['description', 'list_id']) };

let opId = 0;
function op(kind: OpKind, type: 'lists' | 'todos', id: string, values: Record<string, string | null> = {}): Operation {
  opId++;
  return { entry: { opId, txId: opId, fields: {} }, op: kind, rule: rules.get(type)!, table: tables[type]!, id, values: Object.entries(values), old: [], metadata: undefined };
}
const tx = (...entries: Operation[]): ClientTransaction<Operation> => ({ txId: entries[0]!.entry.txId, entries });

/** A reader over fixed rows that counts its queries. */
function reader(rows: Record<string, Record<string, Record<string, string | null>>>) {
  const calls: Array<{ table: string; ids: number }> = [];
  const read: ReadRows = async (t, _idColumn, ids, columns) => {
    calls.push({ table: t.name, ids: ids.length });
    const found = new Map<string, Record<string, string | null>>();
    for (const id of ids) {
      const row = rows[t.name]?.[id];
      if (row) found.set(id, Object.fromEntries(columns.map((c) => [c, row[c] ?? null])));
    }
    return found;
  };
  return { read, calls };
}

describe('checkOwnership', () => {
  it('reads each table at most twice for a whole batch, however many rows it touches', async () => {
    const rows: Record<string, Record<string, Record<string, string | null>>> = { lists: {}, todos: {} };
    const batch: ClientTransaction<Operation>[] = [];
    for (let i = 0; i < 50; i++) {
      rows.lists![`l${i}`] = { owner_id: i % 2 ? 'u1' : 'u2' };
      rows.todos![`t${i}`] = { list_id: `l${i}` };
      batch.push(tx(op('PATCH', 'todos', `t${i}`, { description: 'x' })), tx(op('PUT', 'todos', `n${i}`, { list_id: `l${i}` })));
      batch.push(tx(op('PATCH', 'lists', `l${i}`, { name: 'y' })));
    }
    const { read, calls } = reader(rows);
    const verdicts = await checkOwnership(batch, 'u1', rules, (name) => tables[name], read);
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(calls.filter((c) => c.table === 'todos')).toHaveLength(1);
    // Odd lists are u1's: their transactions pass, the others are refused.
    expect(verdicts.map((v) => v === undefined)).toEqual(batch.map((t) => Number(/\d+/.exec(t.entries[0]!.id)![0]) % 2 === 1));
  });

  it('reads nothing for a batch on tables without ownership rules', async () => {
    const plain = new TableRules(configSchema.parse({ tables: { lists: {} } }).tables);
    const { read, calls } = reader({});
    const operation = { ...op('PUT', 'lists', 'a', { name: 'n' }), rule: plain.get('lists')! };
    expect(await checkOwnership([tx(operation)], 'u1', plain, (name) => tables[name], read)).toEqual([undefined]);
    expect(calls).toEqual([]);
  });

  it('adds the owner to a PUT that lacks it, so the database row carries it', async () => {
    const { read } = reader({});
    const put = op('PUT', 'lists', 'new', { name: 'n' });
    await checkOwnership([tx(put)], 'u1', rules, (name) => tables[name], read);
    expect(put.values).toEqual([['name', 'n'], ['owner_id', 'u1']]);
  });
});

describe('readOwnership', () => {
  it('walks again without reading, knowing which transactions fail, and says which effects later checks relied on', async () => {
    const { read, calls } = reader({ lists: { old: { owner_id: 'u1' } } });
    const batch = [
      tx(op('PUT', 'lists', 'new', { name: 'n' })),
      tx(op('PUT', 'todos', 't1', { list_id: 'new' })),
      tx(op('PUT', 'todos', 't2', { list_id: 'old' })),
      tx(op('DELETE', 'lists', 'old')),
      tx(op('PUT', 'todos', 't3', { list_id: 'old' })),
    ];
    const walk = await readOwnership(batch, 'u1', rules, (name) => tables[name], read);
    const reads = calls.length;
    const first = walk.walk();
    expect(first.verdicts.map((v) => v?.problem.code)).toEqual([undefined, undefined, undefined, undefined, 'forbidden']);
    expect([...first.reliedOn].sort()).toEqual([0, 3]);
    // The list's creation and the deletion failed: the first todo has no parent, the last one has.
    const again = walk.walk(new Set([0, 3]));
    expect(again.verdicts.map((v) => v?.problem.code)).toEqual([undefined, 'forbidden', undefined, undefined, undefined]);
    expect(again.reliedOn.size).toBe(0);
    expect(calls.length).toBe(reads);
  });
});
