import pg from 'pg';
import type { TableInfo } from '../core/schema.ts';
import type { AuthContext, Store, StoreTransaction } from '../core/store.ts';
import { toBatchError } from './error-map.ts';
import { applyExact } from './exact-apply.ts';
import { introspect, type LiveSchema } from './introspect.ts';
import { advanceLedger, ensureServerTables, insertRejections, lockLedger } from './server-tables.ts';

export interface PgStoreOptions {
  url: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** How long a batch waits for a free connection before answering 503 (default 5000 ms). */
  connectTimeoutMs?: number;
}

/** The Store for Postgres, on one pg pool. */
export class PgStore implements Store {
  private schema: LiveSchema | undefined;

  private constructor(readonly pool: pg.Pool) {}

  /** Connects, creates the server's tables when missing and reads the live schema. */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: 'writepath',
    });
    // An idle client losing its connection (database restart) must not crash the process;
    // the next checkout gets a fresh one.
    pool.on('error', () => {});
    const store = new PgStore(pool);
    try {
      await ensureServerTables(pool);
      await store.refreshSchema();
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
    return store;
  }

  findTable(name: string): TableInfo | undefined {
    return this.schema?.find(name);
  }

  /** All tables of the live schema, for start-up checks and `writepath init`. */
  tables(): TableInfo[] {
    return this.schema?.tables() ?? [];
  }

  async refreshSchema(): Promise<void> {
    try {
      this.schema = await introspect(this.pool);
    } catch (error) {
      throw toBatchError(error);
    }
  }

  async transaction<T>(_context: AuthContext, work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toBatchError(error);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(transactionOn(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A failed ROLLBACK means the connection is gone: drop it rather than pool it.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw toBatchError(error);
    } finally {
      client.release(broken);
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function transactionOn(client: pg.PoolClient): StoreTransaction {
  return {
    lockLedger: (userId, clientId) => lockLedger(client, userId, clientId),
    advanceLedger: (userId, clientId, lastOpId) => advanceLedger(client, userId, clientId, lastOpId),
    apply: (transactions) => applyExact(client, transactions),
    recordRejections: (rows) => insertRejections(client, rows),
  };
}
