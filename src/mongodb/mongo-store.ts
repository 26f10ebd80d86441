import { MongoClient, type ClientSession, type Db } from 'mongodb';
import type { TableConfig } from '../config/schema.ts';
import type { PoolStats } from '../core/admin-store.ts';
import { serverError, WritepathError } from '../core/errors.ts';
import type { AuthContext, Store, StoreTransaction } from '../core/store.ts';
import { toBatchError } from './error-map.ts';
import { MongoAdmin } from './mongo-admin.ts';
import { RestartBatch, type ApplyState } from './mongo-apply.ts';
import { mongoTable, type MongoTableInfo } from './mongo-tables.ts';
import { ClientLocks } from './client-lock.ts';
import { MongoTransaction } from './mongo-transaction.ts';
import { PoolCounter } from './pool-stats.ts';
import { ensureServerCollections } from './server-collections.ts';

export interface MongoStoreOptions {
  /** `mongodb://…` or `mongodb+srv://…`; the database is the one the URL names (the driver's default: `test`). */
  url: string;
  /** The configured tables: a collection's fields and types come from here, not from the database. */
  tables: Record<string, TableConfig>;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** How long a batch waits for a server or a free connection before answering 503 (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Client transactions the database may refuse in one batch before it answers 413 (default `MAX_REFUSED`). */
  maxRefused?: number;
}

/**
 * Keeps a server session out of the driver's pool: its transaction may still be open on the
 * server. The driver does this itself after its own network errors, but not after a socket
 * error it passes through as it came (a connection reset while a bulk write is sent).
 */
function forget(session: ClientSession): void {
  if (!session.hasEnded) session.serverSession.isDirty = true;
}

/**
 * What the next attempt does differently; every restart must leave out one more client
 * transaction or write more carefully, so a batch restarts a bounded number of times.
 */
function learn(state: ApplyState, restart: RestartBatch, maxRefused: number): void {
  const { next } = restart;
  const progress = 'mode' in next ? next.mode !== state.mode : !state.excluded.has(next.key);
  if (!progress) throw serverError('internal', 'a batch restarted without leaving anything out', restart);
  if ('mode' in next) state.mode = next.mode;
  else if (state.excluded.size >= maxRefused) throw tooManyRefused(maxRefused);
  else state.excluded.set(next.key, next.outcome);
}

/**
 * Client transactions the database may refuse in one batch. Each costs the batch another
 * run from the start (MongoDB has no savepoints), so without a bound one request could
 * keep the server busy for as many runs as it has transactions.
 */
export const MAX_REFUSED = 64;

/**
 * A 413 like the other limits of a request: it states the limit, and a client that halves
 * its batch on a 413 (writepath/client does) gets through with fewer refusals per request.
 */
function tooManyRefused(limit: number): WritepathError {
  return new WritepathError({
    code: 'too_many_refused',
    status: 413,
    message: `more than ${limit} client transactions of this batch are refused by MongoDB, and each costs the batch another run (no savepoints): send fewer transactions per request`,
  });
}

/** The Store for MongoDB (a replica set or sharded cluster: transactions need one). */
export class MongoStore implements Store {
  private readonly clientLocks = new ClientLocks();
  /** The admin endpoints' queries (an optional Store capability). */
  readonly admin: MongoAdmin;

  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    private readonly tables: ReadonlyMap<string, MongoTableInfo>,
    private readonly pool: PoolCounter,
    private readonly maxRefused: number,
  ) {
    this.admin = new MongoAdmin(db);
  }

  /**
   * Connects and creates the server's indexes; the tables come from the configuration,
   * checked before with `mongoConfigProblems`.
   */
  static async open(options: MongoStoreOptions): Promise<MongoStore> {
    const tables = new Map<string, MongoTableInfo>();
    for (const [clientName, config] of Object.entries(options.tables)) {
      const table = mongoTable(clientName, config, []);
      if (!tables.has(table.name)) tables.set(table.name, table);
    }
    const timeout = options.connectTimeoutMs ?? 5000;
    const client = new MongoClient(options.url, {
      maxPoolSize: options.poolSize ?? 10,
      serverSelectionTimeoutMS: timeout,
      connectTimeoutMS: timeout,
      waitQueueTimeoutMS: timeout,
      appName: 'writepath',
    });
    // Before connecting, so that it sees every connection the pool opens.
    const pool = new PoolCounter(client);
    try {
      await client.connect();
      const db = client.db();
      await ensureServerCollections(db);
      return new MongoStore(client, db, tables, pool, options.maxRefused ?? MAX_REFUSED);
    } catch (error) {
      await client.close().catch(() => {});
      throw toBatchError(error);
    }
  }

  findTable(name: string): MongoTableInfo | undefined {
    return this.tables.get(name);
  }

  /** Nothing to read: a collection's fields are declared in the configuration. */
  async refreshSchema(): Promise<void> {}

  /**
   * Runs `work` in a session transaction (snapshot reads, majority writes). When a client
   * transaction fails for good, MongoDB cannot roll back just that part: the transaction is
   * aborted and `work` runs again in a new one that leaves it out (see mongo-apply.ts), so
   * `work` may run more than once; only the last run commits.
   */
  async transaction<T>(_context: AuthContext, work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const state: ApplyState = { excluded: new Map(), mode: 'collection' };
    const session = this.client.startSession();
    // Taken at the ledger, held through restarts of the batch, released when it has ended.
    let release: (() => void) | undefined;
    const lockClient = async (userId: string, clientId: string) => {
      release ??= await this.clientLocks.acquire(JSON.stringify([userId, clientId]));
    };
    try {
      for (;;) {
        session.startTransaction({ readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } });
        try {
          const result = await work(new MongoTransaction(this.db, session, state, lockClient));
          await session.commitTransaction();
          return result;
        } catch (error) {
          if (session.inTransaction()) await session.abortTransaction().catch(() => forget(session));
          if (!(error instanceof RestartBatch)) {
            const batchError = toBatchError(error);
            if (batchError.retryable) forget(session);
            throw batchError;
          }
          learn(state, error, this.maxRefused);
        }
      }
    } finally {
      release?.();
      await session.endSession().catch(() => {});
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.db.command({ ping: 1 });
      return true;
    } catch {
      return false;
    }
  }

  poolStats(): PoolStats {
    return this.pool.stats();
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
