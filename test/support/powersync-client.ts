/**
 * The real PowerSync client (`@powersync/node`) in tests, without a PowerSync sync service:
 * `connect()` is never called. Local writes go through the SDK's views and triggers into its
 * upload queue (`ps_crud`), exactly as in an app, and `uploadPending` drains that queue the
 * way a correct `uploadData` does.
 *
 * Notes on running the Node SDK under vitest:
 * - `@powersync/node` runs SQLite (better-sqlite3 + the PowerSync core extension) in
 *   `worker_threads`: one writer and `readWorkerCount` readers (default 5). The worker script
 *   is loaded from `node_modules/@powersync/node/lib/db/DefaultWorker.js` via
 *   `import.meta.url`; vitest externalizes node_modules, so this works unchanged. We open one
 *   reader only, to keep tests light.
 * - The worker loads the core extension from the package's own `lib/` folder itself; nothing
 *   to configure.
 * - better-sqlite3 cannot bind JS booleans: pass 0/1 as parameters.
 * - `close()` must be awaited: it terminates the workers. The temp directory is removed only
 *   afterwards (the database runs in WAL mode, so there are -wal/-shm files too).
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PowerSyncDatabase, Schema, Table, column, type CrudEntry, type NodeRemoteOptions } from '@powersync/node';
import { expect } from 'vitest';
import { postBatch } from './server.ts';

export type { PowerSyncDatabase } from '@powersync/node';

/** The client schema of the PowerSync to-do demo (matches src/playground/example-schema.ts). */
export const demoClientSchema = new Schema({
  lists: new Table({
    created_at: column.text,
    name: column.text,
    owner_id: column.text,
  }),
  todos: new Table({
    created_at: column.text,
    completed_at: column.text,
    description: column.text,
    completed: column.integer,
    created_by: column.text,
    completed_by: column.text,
    list_id: column.text,
  }),
});

export interface OpenClientOptions {
  /**
   * Directory for the database file. Given: it is created if needed and kept on close (so the
   * same client database can be reopened). Absent: a fresh temp dir, removed on close.
   */
  dir?: string;
  /** Database file name (default `client.db`). */
  dbFilename?: string;
  /** Client schema (default: the to-do demo's lists / todos). */
  schema?: Schema;
  /** How the SDK reaches the sync service, e.g. `{ customFetch }` (see support/sync-service.ts). */
  remoteOptions?: NodeRemoteOptions;
}

export interface TestClient {
  db: PowerSyncDatabase;
  /** The directory holding the database file. */
  dir: string;
  close(): Promise<void>;
}

/** Opens a real PowerSync client database (better-sqlite3 in worker threads). */
export async function openClient(options: OpenClientOptions = {}): Promise<TestClient> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'writepath-ps-client-')));
  if (!ownDir) await mkdir(dir, { recursive: true });
  const db = new PowerSyncDatabase({
    schema: options.schema ?? demoClientSchema,
    database: { dbFilename: options.dbFilename ?? 'client.db', dbLocation: dir, readWorkerCount: 1 },
    ...(options.remoteOptions && { remoteOptions: options.remoteOptions }),
  });
  try {
    await db.init();
  } catch (error) {
    await db.close().catch(() => {});
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let closed = false;
  return {
    db,
    dir,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await db.close();
      } finally {
        if (ownDir) await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The request body of one upload: what `uploadData` posts. */
export interface UploadBody {
  client_id: string;
  batch: CrudEntry[];
}

/** One request made by `uploadPending`, answered 200. */
export interface UploadResult {
  status: number;
  /** The parsed JSON response. */
  body: any;
  /** Exactly the JSON text that was posted. */
  sent: string;
  /** op_ids posted in this request. */
  opIds: number[];
}

/** A non-200 answer: the upload stopped there and the transactions stay in the queue. */
export class UploadError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly sent: string,
    readonly results: UploadResult[],
  ) {
    super(`POST /api/data answered ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.name = 'UploadError';
  }
}

export interface UploadOptions {
  /** Server base URL, e.g. http://127.0.0.1:1234 (the endpoint is `${url}/api/data`). */
  url: string;
  token: string;
  /** Overrides `db.getClientId()` in the body. */
  clientId?: string;
  /**
   * How many whole client transactions to post per request (default 1). Transactions are
   * read with `getCrudTransactions()`; a transaction is never split across requests.
   */
  transactionsPerRequest?: number;
}

/**
 * Drains the client's upload queue like a correct `uploadData`: reads whole transactions with
 * `getCrudTransactions()`, posts `JSON.stringify({client_id, batch})` (the entries serialize
 * through `CrudEntry.toJSON()`) and calls `complete()` on the last transaction of a request
 * only after a 200. Any other status stops the upload and throws an `UploadError`, leaving the
 * unconfirmed transactions queued.
 */
export async function uploadPending(db: PowerSyncDatabase, options: UploadOptions): Promise<UploadResult[]> {
  const perRequest = options.transactionsPerRequest ?? 1;
  if (!(perRequest >= 1)) throw new Error('transactionsPerRequest must be at least 1');
  const clientId = options.clientId ?? (await db.getClientId());
  const results: UploadResult[] = [];
  for (;;) {
    // A fresh iterator each round: it starts after the last completed entry.
    const batch: CrudEntry[] = [];
    let last: { complete(): Promise<void> } | undefined;
    let count = 0;
    for await (const tx of db.getCrudTransactions()) {
      batch.push(...tx.crud);
      last = tx;
      if (++count >= perRequest) break;
    }
    if (!last) return results;
    const body: UploadBody = { client_id: clientId, batch };
    const sent = JSON.stringify(body);
    const answer = await postBatch({ url: options.url }, options.token, sent);
    if (answer.status !== 200) throw new UploadError(answer.status, answer.body, sent, results);
    await last.complete();
    results.push({ status: answer.status, body: answer.body, sent, opIds: batch.map((e) => e.clientId) });
  }
}

// ---------------------------------------------------------------------------------------------
// Value-for-value comparison of client (SQLite) rows with server (Postgres) rows.
// ---------------------------------------------------------------------------------------------

/**
 * How a column is represented on each side, and the canonical form both are mapped to:
 *
 * | kind        | SQLite (client)                                  | Postgres (via `pg`)              | canonical                         |
 * |-------------|--------------------------------------------------|----------------------------------|-----------------------------------|
 * | `text`      | string                                           | string                           | the string                        |
 * | `uuid`      | string, any case                                 | string (lower case)              | lower-case string                 |
 * | `boolean`   | integer 0 / 1                                    | boolean false / true             | false / true                      |
 * | `timestamp` | text: ISO-8601 or `YYYY-MM-DD HH:MM:SS[.fff]`;    | `Date` (timestamptz, ms) or text | the instant, as                   |
 * |             | no zone means UTC                                | (`::text`, µs, with offset)      | `YYYY-MM-DDTHH:MM:SS.ffffffZ`     |
 * | `integer`   | integer                                          | number, or string for int8       | number                            |
 * | `real`      | real                                             | number, or string for numeric    | number                            |
 *
 * NULL is NULL on both sides (SQLite `null`, pg `null`); a NULL never equals a value.
 * Anything outside these representations (e.g. `completed = 2`, an unparseable timestamp)
 * throws instead of being compared loosely.
 */
export type ColumnKind = 'text' | 'uuid' | 'boolean' | 'timestamp' | 'integer' | 'real';

export type ColumnKinds = Record<string, ColumnKind>;

/** Column kinds of the demo schema, `id` included. */
export const demoColumns = {
  lists: { id: 'uuid', created_at: 'timestamp', name: 'text', owner_id: 'text' },
  todos: {
    id: 'uuid',
    created_at: 'timestamp',
    completed_at: 'timestamp',
    description: 'text',
    completed: 'boolean',
    created_by: 'text',
    completed_by: 'text',
    list_id: 'uuid',
  },
} as const satisfies Record<string, ColumnKinds>;

type Side = 'client' | 'server';
type Canonical = string | number | boolean | null;

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Parses a timestamp text to the canonical UTC form with microseconds; no zone means UTC. */
export function canonicalTimestamp(text: string): string {
  const m = TIMESTAMP.exec(text.trim());
  if (!m) throw new Error(`not a timestamp: ${JSON.stringify(text)}`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const micros = Number(frac.padEnd(6, '0').slice(0, 6));
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    ms -= sign * offsetMinutes * 60_000;
  }
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, 19)}.${String(micros).padStart(6, '0')}Z`;
}

function canonicalValue(kind: ColumnKind, value: unknown, side: Side, where: string): Canonical {
  if (value === null || value === undefined) return null;
  const bad = (): never => {
    throw new Error(`${where}: unexpected ${side} value for a ${kind} column: ${JSON.stringify(value)} (${typeof value})`);
  };
  switch (kind) {
    case 'text':
      return typeof value === 'string' ? value : bad();
    case 'uuid':
      return typeof value === 'string' ? value.toLowerCase() : bad();
    case 'boolean':
      if (side === 'server') return typeof value === 'boolean' ? value : bad();
      if (value === 0 || value === 1) return value === 1;
      return bad();
    case 'timestamp':
      if (value instanceof Date) {
        if (side === 'client') bad();
        return canonicalTimestamp(value.toISOString());
      }
      return typeof value === 'string' ? canonicalTimestamp(value) : bad();
    case 'integer':
    case 'real': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && side === 'server' ? Number(value) : NaN;
      if (Number.isNaN(n) || (kind === 'integer' && !Number.isInteger(n))) bad();
      return n;
    }
  }
}

/** Maps rows to their canonical form, keyed and sorted by canonical `id`. */
export function canonicalRows(
  rows: readonly Record<string, unknown>[],
  columns: ColumnKinds,
  side: Side,
  idColumn = 'id',
): Record<string, Canonical>[] {
  const idKind = columns[idColumn];
  if (!idKind) throw new Error(`columns must include the key column ${idColumn}`);
  const out = rows.map((row, i) => {
    const where = `${side} row ${i} (${idColumn}=${String(row[idColumn])})`;
    const result: Record<string, Canonical> = {};
    for (const [name, kind] of Object.entries(columns)) {
      if (!(name in row)) throw new Error(`${where}: column ${name} missing`);
      result[name] = canonicalValue(kind, row[name], side, `${where}.${name}`);
    }
    return result;
  });
  return out.sort((a, b) => String(a[idColumn]).localeCompare(String(b[idColumn])));
}

/**
 * Asserts that client (SQLite) rows and server (Postgres) rows hold the same rows, value for
 * value, for every column in `columns` (see `ColumnKind` for the mapping). Order does not
 * matter; rows are matched by `id`.
 */
export function expectSameRows(
  clientRows: readonly Record<string, unknown>[],
  serverRows: readonly Record<string, unknown>[],
  columns: ColumnKinds,
  idColumn = 'id',
): void {
  expect(canonicalRows(serverRows, columns, 'server', idColumn)).toEqual(
    canonicalRows(clientRows, columns, 'client', idColumn),
  );
}
