/**
 * The fast path's proof of equivalence: random batches (repeated ids, every op mix, a list
 * and its todos under a foreign key, values the codecs pass but the database refuses,
 * retried posts) go through the fast path, the exact path and an in-memory reference;
 * all three must end with the same rows and the same rejections.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Segment } from '../src/core/segments.ts';
import { processBatch } from '../src/core/process-batch.ts';
import { PgStore } from '../src/postgres/pg-store.ts';
import type { BatchRequest } from '../src/protocol/wire.ts';
import { TableRules } from '../src/rules/table-rules.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { ReferenceModel, type FkAction, type ModelEntry, type PutMode, type Row } from './support/reference-model.ts';

const VARIANTS: Array<[FkAction, string]> = [
  ['cascade', 'c'],
  ['no action', 'n'],
  ['set null', 's'],
];

const tablesSql = (schema: string, action: FkAction) => `
  CREATE SCHEMA ${schema};
  CREATE TABLE ${schema}.lists (id text PRIMARY KEY, name text NOT NULL, n int CHECK (n >= 0), tag text);
  CREATE TABLE ${schema}.todos (id text PRIMARY KEY, list_id text REFERENCES ${schema}.lists (id) ON DELETE ${action},
    title text NOT NULL, done boolean NOT NULL DEFAULT false, prio int, span interval);`;

// FAST_PATH_RUNS=5000 for a long hunt; the default keeps `npm test` quick.
const RUNS = Number(process.env.FAST_PATH_RUNS ?? 120);

let db: string;
let store: PgStore;
/** The same fast path cut small: statement by statement, two rows per statement (the engine cuts the parts, see below). */
let chunked: PgStore;
const stats = { fastSegments: 0, exactSegments: 0, fastEntries: 0, narrowings: 0, runs: 0 };

beforeAll(async () => {
  db = await createTestDatabase('fast');
  await sql(db, VARIANTS.map(([action, s]) => tablesSql(`f_${s}`, action) + tablesSql(`e_${s}`, action)).join('\n'));
  const fastPath = {
    minFastEntries: 1,
    exactBelow: 1,
    onSegment: (s: Segment) => {
      if (s.path === 'fast') {
        stats.fastSegments++;
        stats.fastEntries += s.plan.placements.length;
      } else stats.exactSegments++;
    },
    onNarrow: () => void stats.narrowings++,
  };
  store = await PgStore.open({ url: db, fastPath });
  chunked = await PgStore.open({ url: db, fastPath: { ...fastPath, scriptEntries: 0, chunkRows: 2 } });
});
afterAll(async () => {
  await store?.close();
  await chunked?.close();
});

// Few ids, so rows come back again and again; L9 never exists.
const listId = fc.constantFrom('L1', 'L2', 'L3');
const todoId = fc.constantFrom('T1', 'T2', 'T3', 'T4');
const rare = <A, B>(common: fc.Arbitrary<A>, odd: fc.Arbitrary<B>): fc.Arbitrary<A | B> =>
  fc.oneof({ arbitrary: common, weight: 6 }, { arbitrary: odd, weight: 1 });
const listData = fc.record(
  { name: rare(fc.constantFrom('a', 'b'), fc.constant(null)), n: rare(fc.constantFrom(0, 2, null), fc.constantFrom(-1, 'x')), tag: fc.constantFrom('t', 'u', null) },
  { requiredKeys: [] },
);
const todoData = fc.record(
  {
    list_id: rare(fc.constantFrom('L1', 'L2', 'L3', null), fc.constant('L9')),
    title: rare(fc.constantFrom('x', 'y'), fc.constant(null)),
    done: rare(fc.constantFrom(0, 1), fc.constantFrom(null, 'yes')),
    prio: fc.constantFrom(1, 2, null),
    span: rare(fc.constantFrom('1 day', '3 days', null), fc.constant('garbage')),
  },
  { requiredKeys: [] },
);
type Draft = Omit<ModelEntry, 'op_id' | 'tx_id'>;
const entry: fc.Arbitrary<Draft> = fc.oneof(
  fc.record({ op: fc.constant('PUT' as const), type: fc.constant('lists' as const), id: listId, data: listData }),
  fc.record({ op: fc.constant('PATCH' as const), type: fc.constant('lists' as const), id: listId, data: listData }),
  fc.record({ op: fc.constant('DELETE' as const), type: fc.constant('lists' as const), id: listId }),
  fc.record({ op: fc.constant('PUT' as const), type: fc.constant('todos' as const), id: todoId, data: todoData }),
  fc.record({ op: fc.constant('PATCH' as const), type: fc.constant('todos' as const), id: todoId, data: todoData }),
  fc.record({ op: fc.constant('DELETE' as const), type: fc.constant('todos' as const), id: todoId }),
);
const seed = fc.record({
  lists: fc.subarray(['L1', 'L2', 'L3']),
  todos: fc.subarray(['T1', 'T2', 'T3', 'T4']),
  links: fc.array(fc.constantFrom('L1', 'L2', 'L3', null), { minLength: 4, maxLength: 4 }),
});
const scenario = fc.record({
  seed,
  transactions: fc.array(fc.array(entry, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 10 }),
  // First post: transactions [0, cut); second: [retry, end), so [retry, cut) are duplicates.
  cut: fc.nat(),
  retry: fc.nat(),
  put: fc.record({ lists: fc.constantFrom<PutMode>('merge', 'replace'), todos: fc.constantFrom<PutMode>('merge', 'replace') }),
  lonely: fc.boolean(),
  small: fc.boolean(),
});

describe.each(VARIANTS)('the fast path, the exact path and the reference agree (ON DELETE %s)', (action, suffix) => {
  it('on random batches', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        stats.runs++;
        const entries: ModelEntry[] = [];
        s.transactions.forEach((tx, t) => {
          for (const draft of tx) {
            // A one-entry transaction sometimes comes without tx_id, as it may from the SDK.
            const txId = s.lonely && tx.length === 1 ? undefined : t + 1;
            entries.push({ ...draft, op_id: entries.length + 1, ...(txId !== undefined && { tx_id: txId }) });
          }
        });
        const bounds = s.transactions.map((_, t) => s.transactions.slice(0, t).reduce((n, tx) => n + tx.length, 0));
        const cut = s.cut % (s.transactions.length + 1);
        const retry = Math.min(cut, s.retry % (s.transactions.length + 1));
        const at = (t: number) => (t >= bounds.length ? entries.length : bounds[t]!);
        const posts = [entries.slice(0, at(cut)), entries.slice(at(retry))].filter((p) => p.length > 0);

        const model = new ReferenceModel(action, s.put);
        const initial = seedRows(s.seed);
        for (const l of initial.lists) model.lists.set(String(l.id), withoutId(l));
        for (const t of initial.todos) model.todos.set(String(t.id), withoutId(t));
        await reset(`f_${suffix}`, initial);
        await reset(`e_${suffix}`, initial);

        const clientId = randomUUID();
        const rules = (schema: string, apply: 'fast' | 'exact') =>
          new TableRules({
            lists: { table: `${schema}.lists`, id_column: 'id', put: s.put.lists, apply, on_unknown_column: 'reject' },
            todos: { table: `${schema}.todos`, id_column: 'id', put: s.put.todos, apply, on_unknown_column: 'reject' },
          });
        for (const post of posts) {
          const request: BatchRequest = {
            clientId,
            entries: post.map((e) => ({ opId: e.op_id, txId: e.tx_id, fields: { ...e } })),
          };
          const fastStore = s.small ? chunked : store;
          // Cut small, the engine also checks and plans each part while the one before it is applied.
          const fast = await processBatch({ store: fastStore, rules: rules(`f_${suffix}`, 'fast'), ...(s.small && { partEntries: 3 }) }, request, { userId: 'fast', claims: {} });
          const exact = await processBatch({ store, rules: rules(`e_${suffix}`, 'exact') }, request, { userId: 'exact', claims: {} });
          const expected = model.post(post);
          expect(fast).toEqual(exact);
          expect({
            applied: exact.applied,
            duplicates: exact.duplicates,
            rejected: exact.rejected.map((r) => ({
              op_id: r.op_id,
              code: r.code,
              ...(r.column !== undefined && { column: r.column }),
              ...(r.cause_op_id !== undefined && { cause_op_id: r.cause_op_id }),
            })),
          }).toEqual(expected);
        }
        const [fastRows, exactRows] = [await rows(`f_${suffix}`), await rows(`e_${suffix}`)];
        expect(fastRows).toEqual(exactRows);
        expect(exactRows).toEqual({ lists: sorted(model.lists), todos: sorted(model.todos) });
      }),
      { numRuns: RUNS },
    );
  }, 300 * RUNS);
});

it('exercised the fast path, its narrowing and the exact path', () => {
  // The property above is only as good as the paths it reached.
  expect(stats.runs).toBeGreaterThan(0);
  expect(stats.fastSegments).toBeGreaterThan(stats.runs);
  expect(stats.narrowings).toBeGreaterThan(10);
  expect(stats.exactSegments).toBeGreaterThan(10);
});

function seedRows(s: { lists: string[]; todos: string[]; links: (string | null)[] }): { lists: Row[]; todos: Row[] } {
  const lists = s.lists.map((id, i) => ({ id, name: `seed ${i}`, n: i, tag: null }));
  const todos = s.todos.map((id, i) => {
    const link = s.links[i] ?? null;
    return { id, list_id: link !== null && s.lists.includes(link) ? link : null, title: `seed ${i}`, done: i % 2 === 0, prio: null, span: null };
  });
  return { lists, todos };
}

function withoutId(row: Row): Row {
  const { id: _id, ...rest } = row;
  return rest;
}

async function reset(schema: string, initial: { lists: Row[]; todos: Row[] }): Promise<void> {
  await sql(
    db,
    `DELETE FROM ${schema}.todos; DELETE FROM ${schema}.lists;
     INSERT INTO ${schema}.lists SELECT * FROM jsonb_populate_recordset(null::${schema}.lists, '${JSON.stringify(initial.lists)}');
     INSERT INTO ${schema}.todos SELECT * FROM jsonb_populate_recordset(null::${schema}.todos, '${JSON.stringify(initial.todos)}');`,
  );
}

async function rows(schema: string): Promise<{ lists: Row[]; todos: Row[] }> {
  const lists = await sql(db, `SELECT id, name, n, tag FROM ${schema}.lists ORDER BY id`);
  const todos = await sql(db, `SELECT id, list_id, title, done, prio, span::text AS span FROM ${schema}.todos ORDER BY id`);
  return { lists, todos };
}

function sorted(map: Map<string, Row>): Row[] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, row]) => ({ id, ...row }));
}
