import { createMongoTestDatabase, withMongo } from './mongo.ts';
import { startJongodb } from './mongo-server.ts';
import { serverUrl, sql } from './pg.ts';
import { startTestServer, type TestServer } from './server.ts';
import { startTcpProxy } from './tcp-proxy.ts';

/** A rejection written straight into the database, as an older server or an operator would. */
export interface RawRejection {
  user_id: string;
  client_id: string;
  op_id: number;
  code: string;
  message: string;
  created_at?: Date;
}

/** The admin endpoints' tests on every Store: the example tables, and a way to write and to lose the database. */
export interface AdminBackend {
  name: string;
  /** A server on a fresh database with `lists` and `todos`, `config` merged over the defaults. */
  start(config: Record<string, unknown>): Promise<TestServer>;
  insertRejections(server: TestServer, rows: RawRejection[]): Promise<void>;
  /** A server whose database can be taken away while it runs. */
  startDoomed(config: Record<string, unknown>): Promise<{ server: TestServer; takeDown(): Promise<void> }>;
  /** What `/admin/stats` says of `lists`, a table nothing in the configuration sends the exact way. */
  listsSummary: Record<string, string>;
}

const postgres: AdminBackend = {
  name: 'postgres',
  start: (config) => startTestServer({ config }),
  async insertRejections(server, rows) {
    await sql(
      server.databaseUrl,
      `INSERT INTO writepath_rejections (user_id, client_id, op_id, code, message, created_at)
       SELECT user_id, client_id, op_id, code, message, coalesce(created_at, now()) FROM json_populate_recordset(null::writepath_rejections, $1)`,
      [JSON.stringify(rows)],
    );
  },
  async startDoomed(config) {
    const server = await startTestServer({ config });
    const name = new URL(server.databaseUrl).pathname.slice(1);
    return { server, takeDown: () => sql(serverUrl(), `DROP DATABASE ${name} WITH (FORCE)`).then(() => {}) };
  },
  listsSummary: { name: 'lists', table: 'lists', path: 'fast' },
};

/** The example tables as MongoDB collections: `todos` declares its types, `lists` takes any field. */
const MONGO_TYPES = { todos: { types: { _id: 'uuid', description: 'string', completed: 'bool', list_id: 'uuid', created_by: 'string' } } };

function mongoConfig(config: Record<string, unknown>): Record<string, unknown> {
  const tables = (config.tables ?? { lists: {}, todos: {} }) as Record<string, Record<string, unknown>>;
  const typed = Object.fromEntries(Object.entries(tables).map(([name, table]) => [name, { ...MONGO_TYPES[name as 'todos'], ...table }]));
  return { ...config, tables: typed };
}

const mongodb: AdminBackend = {
  name: 'mongodb',
  start: (config) => startTestServer({ databaseUrl: createMongoTestDatabase('admin'), config: mongoConfig(config) }),
  async insertRejections(server, rows) {
    await withMongo(server.databaseUrl, (db) => db.collection('writepath_rejections').insertMany(rows.map((r) => ({ created_at: new Date(), ...r }))));
  },
  async startDoomed(config) {
    // A server of its own, standalone and behind a proxy that can refuse every connection:
    // the shared one is a replica set, and the driver would go round the proxy to the
    // address the set advertises.
    const mongo = await startJongodb({ standalone: true });
    const proxy = await startTcpProxy(Number(new URL(mongo.url).port));
    const started = await startTestServer({ databaseUrl: `mongodb://127.0.0.1:${proxy.port}/doomed`, config: mongoConfig(config) }).catch(async (error) => {
      await Promise.all([proxy.close(), mongo.stop()]);
      throw error;
    });
    const close = () => started.close().finally(() => Promise.all([proxy.close(), mongo.stop()]));
    return {
      server: { ...started, close },
      takeDown: async () => {
        proxy.setDown(true);
        proxy.cut();
      },
    };
  },
  listsSummary: { name: 'lists', table: 'lists', path: 'exact', exact_reason: 'nothing is known of the table' },
};

export const ADMIN_BACKENDS: AdminBackend[] = [postgres, mongodb];
