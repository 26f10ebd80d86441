// The benchmark's table and batches: one seeded table of 100,000 rows and reproducible
// mixed batches, as a PowerSync client would upload them.
import pg from 'pg';

export const SEED_ROWS = 100_000;

export const SCHEMA_SQL = `
DROP TABLE IF EXISTS items, items_seed;
CREATE TABLE items (
  id uuid PRIMARY KEY,
  done boolean NOT NULL DEFAULT false,
  due timestamptz,
  doc jsonb,
  title text,
  tags text[]
);
CREATE TABLE items_seed (LIKE items INCLUDING ALL);
INSERT INTO items_seed
  SELECT md5('seed' || g)::uuid, g % 2 = 0, timestamptz '2024-01-01' + g * interval '1 minute',
    jsonb_build_object('n', g, 'note', 'seeded row ' || g), 'item ' || g, ARRAY['seed', 'g' || (g % 10)]
  FROM generate_series(1, ${SEED_ROWS}) g;
`;

/** Creates the seed (once) and the table every run starts from. */
export async function createSchema(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(SCHEMA_SQL);
    await resetTable(client);
    return (await client.query<{ id: string }>('SELECT id::text FROM items_seed ORDER BY id')).rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

export interface ResetOptions {
  /**
   * Checkpoint after writing the rows rather than before. The first change to a page after a
   * checkpoint writes the whole page to the WAL (full_page_writes): a 10,000-entry batch then
   * writes 20.5 MiB of WAL instead of 3, and every strategy pays that. A table under steady
   * writes meets it once per page per checkpoint interval (5 minutes by default), not every
   * batch. By default runs meet a table written since the last checkpoint, the best case
   * (close to a table of this size under steady writes); this option measures the worst
   * case instead (`npm run bench -- --after-checkpoint`).
   */
  afterCheckpoint?: boolean;
}

/**
 * Puts `items` back to the seeded 100,000 rows, so every run meets the same table, and a
 * checkpoint just behind it, so that none falls inside a run.
 */
export async function resetTable(client: pg.ClientBase, options: ResetOptions = {}): Promise<void> {
  await client.query('TRUNCATE items');
  if (!options.afterCheckpoint) await client.query('CHECKPOINT');
  await client.query('INSERT INTO items SELECT * FROM items_seed');
  await client.query('VACUUM ANALYZE items');
  if (options.afterCheckpoint) await client.query('CHECKPOINT');
}

export interface Entry {
  op_id: number;
  tx_id: number;
  op: 'PUT' | 'PATCH' | 'DELETE';
  type: 'items';
  id: string;
  data?: Record<string, unknown>;
}

/** A small, fast, seedable generator (mulberry32), so every strategy gets the same batch. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uuid(next: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function fullRow(next: () => number, n: number): Record<string, unknown> {
  return {
    done: next() < 0.5 ? 1 : 0,
    due: new Date(Date.UTC(2025, 0, 1) + Math.floor(next() * 1e10)).toISOString(),
    doc: JSON.stringify({ n, note: `client row ${n}`, score: Math.floor(next() * 1000) }),
    title: `title ${n} ${Math.floor(next() * 1e6)}`,
    tags: JSON.stringify(['bench', `t${n % 7}`]),
  };
}

const PATCHABLE = ['done', 'due', 'doc', 'title', 'tags'] as const;

/**
 * A mixed batch: 70% PUT (half new rows, half existing ones), 20% PATCH of one or two
 * columns, 10% DELETE; one entry in ten goes to a row the batch already touched; client
 * transactions of one to four entries.
 */
export function mixedBatch(size: number, seed: number, existing: string[], firstOpId = 1): Entry[] {
  const next = random(seed);
  const touched: string[] = [];
  const entries: Entry[] = [];
  let txId = 1;
  let left = 0;
  for (let i = 0; i < size; i++) {
    if (left === 0) {
      txId++;
      left = 1 + Math.floor(next() * 4);
    }
    left--;
    const kind = next();
    const op = kind < 0.7 ? 'PUT' : kind < 0.9 ? 'PATCH' : 'DELETE';
    let id: string;
    if (touched.length > 0 && next() < 0.1) id = touched[Math.floor(next() * touched.length)]!;
    else if (op === 'PUT' && next() < 0.5) id = uuid(next);
    else id = existing[Math.floor(next() * existing.length)]!;
    touched.push(id);
    const entry: Entry = { op_id: firstOpId + i, tx_id: txId, op, type: 'items', id };
    if (op === 'PUT') entry.data = fullRow(next, i);
    if (op === 'PATCH') {
      const row = fullRow(next, i);
      const a = PATCHABLE[Math.floor(next() * PATCHABLE.length)]!;
      const b = PATCHABLE[Math.floor(next() * PATCHABLE.length)]!;
      entry.data = { [a]: row[a], [b]: row[b] };
    }
    entries.push(entry);
  }
  return entries;
}
