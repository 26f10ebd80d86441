// `npx tsx bench/staging.ts`: how to hand rows to one set-based MERGE. The same rows (half
// updates, half inserts) into the seeded bench table, each way in a transaction rolled
// back: one jsonb parameter (arrays, or objects through jsonb_to_recordset), text arrays
// through unnest, or COPY into a temporary table. The fast path's choice (jsonb arrays)
// rests on these figures; PG_BENCH_URL as for `npm run bench`.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createSchema } from './data.ts';
import { openBenchDatabase } from './database.ts';

const COLUMNS = ['done', 'due', 'doc', 'title', 'tags'];
const TYPES = ['boolean', 'timestamptz', 'jsonb', 'text', 'text[]'];
type Row = [id: string, ...values: string[]];

const merge = (source: string) => `MERGE INTO items t USING (${source}) s ON t.id = s.id::uuid
  WHEN MATCHED THEN UPDATE SET ${COLUMNS.map((c, i) => `${c} = s.v${i}::${TYPES[i]}`).join(', ')}
  WHEN NOT MATCHED THEN INSERT (id, ${COLUMNS.join(', ')}) VALUES (s.id::uuid, ${COLUMNS.map((_, i) => `s.v${i}::${TYPES[i]}`).join(', ')})`;
const fields = (at: (i: number) => string) => ['id', ...COLUMNS.map((_, i) => `v${i}`)].map((name, i) => `${at(i)} AS ${name}`).join(', ');

const WAYS: Record<string, (client: pg.ClientBase, rows: Row[]) => Promise<unknown>> = {
  'jsonb arrays': (client, rows) => client.query(merge(`SELECT ${fields((i) => `e->>${i}`)} FROM jsonb_array_elements($1::jsonb) e`), [JSON.stringify(rows)]),
  jsonb_to_recordset: (client, rows) =>
    client.query(
      merge(`SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id text, ${COLUMNS.map((_, i) => `v${i} text`).join(', ')})`),
      [JSON.stringify(rows.map((r) => Object.fromEntries(r.map((v, i) => [i === 0 ? 'id' : `v${i - 1}`, v]))))],
    ),
  unnest: (client, rows) =>
    client.query(
      merge(`SELECT * FROM unnest(${rows[0]!.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS x(id, ${COLUMNS.map((_, i) => `v${i}`).join(', ')})`),
      rows[0]!.map((_, i) => rows.map((r) => r[i])),
    ),
  'COPY + temp table': async (client, rows) => {
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS stage (id text, ${COLUMNS.map((_, i) => `v${i} text`).join(', ')}) ON COMMIT DELETE ROWS`);
    const escape = (v: string) => v.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
    await pipeline(Readable.from([rows.map((r) => r.map(escape).join('\t')).join('\n') + '\n']), client.query(copyFrom('COPY stage FROM STDIN')));
    await client.query(merge('SELECT * FROM stage'));
  },
};

async function main() {
  const database = await openBenchDatabase('writepath_staging');
  const existing = await createSchema(database.url);
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    for (const size of [1_000, 10_000, 100_000]) {
      const rows: Row[] = Array.from({ length: size }, (_, i) => [
        i % 2 ? existing[i]! : randomUUID(),
        i % 3 ? 't' : 'f',
        '2025-01-01 12:00:00+00',
        JSON.stringify({ n: i, note: `row "${i}"` }),
        `title ${i}\twith a tab`,
        `{"a","b ${i}"}`,
      ]);
      for (const [name, way] of Object.entries(WAYS)) {
        const times: number[] = [];
        for (let run = 0; run < 5; run++) {
          await client.query('BEGIN');
          const start = performance.now();
          await way(client, rows);
          times.push(performance.now() - start);
          await client.query('ROLLBACK');
        }
        times.sort((a, b) => a - b);
        console.log(`${String(size).padStart(6)} rows  ${name.padEnd(20)} median ${times[2]!.toFixed(1).padStart(7)} ms  (${times.map((t) => t.toFixed(0)).join(' ')})`);
      }
    }
  } finally {
    await client.end();
    await database.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
