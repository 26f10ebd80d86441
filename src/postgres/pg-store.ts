import pg from 'pg';
import type { TableInfo } from '../core/schema.ts';
import type { FactsSource } from '../core/table-facts.ts';
import { DIGEST_RETENTION, type AuthContext, type Store, type StoreTransaction } from '../core/store.ts';
import type { PoolStats } from '../core/admin-store.ts';
import { toBatchError } from './error-map.ts';
import type { FastApplyOptions } from './fast-apply.ts';
import { RowLevelSecurity } from './row-level-security.ts';
import { introspect, type LiveSchema } from './introspect.ts';
import { PgAdmin } from './pg-admin.ts';
import { pgFactsSource } from './pg-facts.ts';
import { KnownLedgers } from './known-ledgers.ts';
import { forgetPrepared, preparedMismatch } from './prepared-statements.ts';
import { PgTransaction } from './pg-transaction.ts';
import { ensureServerTables } from './server-tables.ts';

export interface PgStoreOptions {
  url: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** How long a batch waits for a free connection before answering 503 (default 5000 ms). */
  connectTimeoutMs?: number;
  /** RLS mode: write the configured tables under this role (`auth.postgres_role`). */
  role?: string;
  /** Options of the set-based fast path, or false to apply everything entry by entry. */
  fastPath?: FastApplyOptions | false;
  /** Op_ids below a client's ledger whose digests are kept, at least (default `DIGEST_RETENTION`). */
  digestRetention?: number;
  /** Where a problem the operator should know of, but that fails no batch, is told (default: console.warn). */
  warn?: (message: string) => void;
}

/** MERGE, which the fast path's statements are made of, came with Postgres 15. */
const FAST_PATH_VERSION = 150000;

/**
 * The batch is to run again: a held-back statement failed (see PgTransaction), or the
 * connection's prepared statements were not what was recorded. `cause` says which.
 */
class RunAgain extends Error {}

/** Runs of one batch at most: a guess, then prepared statements, may each cost one. */
const MAX_RUNS = 3;

/** The Store for Postgres, on one pg pool. */
export class PgStore implements Store {
  private schema: LiveSchema | undefined;
  /** What the planner knows of the schema as last read; undefined: everything entry by entry. */
  private facts: FactsSource | undefined;
  /** The schema read in progress, and the one queued behind it (see refreshSchema). */
  private reading: Promise<void> | undefined;
  private nextRead: Promise<void> | undefined;
  /** The admin endpoints' queries (an optional Store capability). */
  readonly admin: PgAdmin;
  /** Ledger positions seen, for batches to guess from (see PgTransaction). */
  private readonly knownLedgers = new KnownLedgers();
  /** What transactions are given of the fast path's options; `preparedStatements` may be turned off while the server runs. */
  private readonly statementOptions: FastApplyOptions;

  private constructor(
    readonly pool: pg.Pool,
    private readonly connection: pg.ClientConfig,
    private readonly rls: RowLevelSecurity | undefined,
    private readonly fastPath: FastApplyOptions | false,
    private readonly digestRetention: number,
    private readonly warn: (message: string) => void,
  ) {
    this.admin = new PgAdmin(pool, () => this.facts);
    this.statementOptions = { ...(fastPath || {}) };
  }

  /** Connects, creates the server's tables when missing and reads the live schema. */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const connection: pg.ClientConfig = {
      connectionString: options.url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: 'writepath',
    };
    const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10 });
    // An idle client losing its connection (database restart) must not crash the process;
    // the next checkout gets a fresh one.
    pool.on('error', () => {});
    // A checked-out client has no 'error' listener of the pool's: a connection lost in the
    // middle of a batch (Postgres stopped, backend terminated, network cut) would be an
    // uncaught 'error' event and crash the process. Its running query fails all the same,
    // the client is marked unusable and is dropped on release.
    pool.on('connect', (client) => client.on('error', () => {}));
    const rls = options.role ? new RowLevelSecurity(options.role) : undefined;
    const warn = options.warn ?? ((message: string) => console.warn(`writepath: WARNING ${message}`));
    const store = new PgStore(pool, connection, rls, options.fastPath ?? {}, options.digestRetention ?? DIGEST_RETENTION, warn);
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

  /**
   * Re-reads the live schema over a connection of its own, outside the pool: the engine
   * calls this in the middle of a batch that holds a pool connection, and batches that each
   * hold one must not wait for another (on a full pool they would wait until the connect
   * timeout, a pool of one always). Calls made while a read runs share one read started
   * after it, so every caller sees the schema as of after its call, over one extra
   * connection at most.
   */
  refreshSchema(): Promise<void> {
    if (!this.reading) {
      this.reading = this.readSchema().finally(() => (this.reading = undefined));
      return this.reading;
    }
    this.nextRead ??= this.reading
      .catch(() => {})
      .then(() => {
        this.nextRead = undefined;
        return this.refreshSchema();
      });
    return this.nextRead;
  }

  private async readSchema(): Promise<void> {
    const client = new pg.Client(this.connection);
    client.on('error', () => {});
    try {
      await client.connect();
      this.schema = await introspect(client);
      this.facts = this.fastPath && this.schema.serverVersion >= FAST_PATH_VERSION ? pgFactsSource(this.schema) : undefined;
    } catch (error) {
      throw toBatchError(error);
    } finally {
      await client.end().catch(() => {});
    }
  }

  async transaction<T>(context: AuthContext, work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    // RLS mode sets the role around the writes: nothing is held back there.
    for (let run = 1; ; run++) {
      try {
        // Once a run failed, the next ones read the ledger first and narrow down any failure as usual.
        return await this.attempt(context, work, !this.rls && run === 1, run === MAX_RUNS);
      } catch (error) {
        if (!(error instanceof RunAgain)) throw error;
      }
    }
  }

  private async attempt<T>(context: AuthContext, work: (tx: StoreTransaction) => Promise<T>, guess: boolean, last: boolean): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toBatchError(error);
    }
    let broken: Error | undefined;
    let tx: PgTransaction | undefined;
    try {
      tx = new PgTransaction(client, () => this.facts, this.statementOptions, context, this.rls, this.digestRetention, this.knownLedgers, guess);
      const result = await work(tx);
      await tx.commit();
      return result;
    } catch (error) {
      // A failed ROLLBACK means the connection is gone: drop it rather than pool it.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      const mismatch = preparedMismatch(error);
      if (mismatch) {
        // Names this connection prepared are gone, or one is there already: a pooler in
        // transaction mode hands each transaction another server session. Every batch would
        // fail the same way: from now on statements are sent written out.
        forgetPrepared(client);
        broken ??= mismatch;
        if (this.statementOptions.preparedStatements !== false) {
          this.statementOptions.preparedStatements = false;
          this.warn(
            `the statements writepath prepared on a database connection are not as it recorded them (${mismatch.message}): is a pooler in transaction mode in between? Statements are no longer prepared; set database.prepared_statements: false to say so, or connect directly or in session mode to keep them.`,
          );
        }
        if (!last) throw new RunAgain('prepared statements out of step', { cause: error });
      }
      if (tx?.guessFailed && !last) {
        tx.forgetGuess();
        throw new RunAgain('a held-back statement failed', { cause: error });
      }
      const batchError = toBatchError(error);
      // The schema as last read no longer matches the database (a table or column dropped
      // while the server runs): read it again, or every retry would fail the same way until
      // a restart, where a dropped column the config does not name is to be rejected.
      if (batchError.code === 'schema_mismatch') await this.refreshSchema().catch(() => {});
      throw batchError;
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

  poolStats(): PoolStats {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
