// The two SQL references writepath is measured against, hand-written for the bench table:
// the floor (fold, COPY, MERGE: what set-based application costs with nothing else) and
// the naive baseline (one statement per entry, as the official demo backend does).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Entry } from './data.ts';

const COLUMNS = ['done', 'due', 'doc', 'title', 'tags'] as const;
type Column = (typeof COLUMNS)[number];

/** The bench table's values in Postgres text form, converted by hand (no general codecs). */
function toText(column: Column, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (column === 'done') return value === 1 || value === true ? 't' : 'f';
  if (column === 'tags') {
    const items = JSON.parse(String(value)) as string[];
    return `{${items.map((s) => `"${s.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
  }
  return String(value);
}

interface Folded {
  id: string;
  del: boolean;
  kind: 'u' | 'x' | 'i' | '-';
  set: Map<Column, string | null>;
}

/** Per row, in op order: DELETE then PUT is a fresh row, PATCH after DELETE nothing. */
function fold(entries: Entry[]): Folded[] {
  const rows = new Map<string, Folded>();
  for (const e of entries) {
    let row = rows.get(e.id);
    if (!row) rows.set(e.id, (row = { id: e.id, del: false, kind: '-', set: new Map() }));
    if (e.op === 'DELETE') {
      row.del = true;
      row.kind = '-';
      row.set.clear();
      continue;
    }
    if (e.op === 'PATCH' && row.del && row.kind === '-') continue;
    for (const [c, v] of Object.entries(e.data ?? {})) row.set.set(c as Column, toText(c as Column, v));
    if (e.op === 'PUT') row.kind = row.del ? 'i' : row.kind === 'i' ? 'i' : 'x';
    else if (row.kind === '-') row.kind = 'u';
  }
  return [...rows.values()];
}

const STAGE = `CREATE TEMP TABLE IF NOT EXISTS bench_stage (id uuid, del boolean, kind text, mask text,
  done text, due text, doc text, title text, tags text) ON COMMIT DELETE ROWS`;

const copyText = (v: string | null) => (v === null ? '\\N' : v.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!));

const MERGE = `MERGE INTO items t USING bench_stage s ON t.id = s.id
  WHEN MATCHED AND s.kind IN ('u', 'x') THEN UPDATE SET
    ${COLUMNS.map((c, i) => `${c} = CASE WHEN substr(s.mask, ${i + 1}, 1) = '1' THEN s.${c}::${typeOf(c)} ELSE t.${c} END`).join(', ')}
  WHEN NOT MATCHED AND s.kind IN ('x', 'i') THEN INSERT (id, ${COLUMNS.join(', ')})
    VALUES (s.id, coalesce(s.done::boolean, false), s.due::timestamptz, s.doc::jsonb, s.title, s.tags::text[])`;

function typeOf(c: Column): string {
  return { done: 'boolean', due: 'timestamptz', doc: 'jsonb', title: 'text', tags: 'text[]' }[c];
}

/** The floor: fold, COPY into a temporary table, one DELETE and one MERGE, one transaction. */
export async function applyFloor(client: pg.ClientBase, entries: Entry[]): Promise<void> {
  const rows = fold(entries);
  const lines = rows.map((r) =>
    [r.id, r.del ? 't' : 'f', r.kind, COLUMNS.map((c) => (r.set.has(c) ? '1' : '0')).join(''), ...COLUMNS.map((c) => r.set.get(c) ?? null)]
      .map(copyText)
      .join('\t'),
  );
  await client.query('BEGIN');
  await client.query(STAGE);
  await pipeline(Readable.from([lines.join('\n') + '\n']), client.query(copyFrom('COPY bench_stage FROM STDIN')));
  await client.query('DELETE FROM items t USING bench_stage s WHERE s.del AND t.id = s.id');
  await client.query(MERGE);
  await client.query('COMMIT');
}

/** The naive baseline: one statement per entry, in op order, in one transaction. */
export async function applyNaive(client: pg.ClientBase, entries: Entry[]): Promise<void> {
  await client.query('BEGIN');
  for (const e of entries) {
    if (e.op === 'DELETE') {
      await client.query('DELETE FROM items WHERE id = $1', [e.id]);
      continue;
    }
    const data = Object.entries(e.data ?? {}) as Array<[Column, unknown]>;
    const values = data.map(([c, v]) => toText(c, v));
    const cast = (i: number) => `$${i + 2}::${typeOf(data[i]![0])}`;
    if (e.op === 'PATCH') {
      await client.query(`UPDATE items SET ${data.map(([c], i) => `${c} = ${cast(i)}`).join(', ')} WHERE id = $1`, [e.id, ...values]);
    } else {
      await client.query(
        `INSERT INTO items (id${data.map(([c]) => `, ${c}`).join('')}) VALUES ($1${data.map((_, i) => `, ${cast(i)}`).join('')})
         ON CONFLICT (id) DO UPDATE SET ${data.map(([c]) => `${c} = EXCLUDED.${c}`).join(', ')}`,
        [e.id, ...values],
      );
    }
  }
  await client.query('COMMIT');
}
