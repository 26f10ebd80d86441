import { createAuthenticator } from '../auth/authenticate.ts';
import { cachingAuthenticator } from '../auth/token-cache.ts';
import type { WritepathConfig } from '../config/schema.ts';
import type { Hooks } from '../core/hooks.ts';
import type { Store } from '../core/store.ts';
import { isMongoUrl, mongoConfigProblems } from '../mongodb/mongo-config.ts';
import { MongoStore } from '../mongodb/mongo-store.ts';
import { PgStore } from '../postgres/pg-store.ts';
import { checkRole } from '../postgres/row-level-security.ts';
import { TableRules } from '../rules/table-rules.ts';
import { checkTables } from './check-tables.ts';
import type { WritepathPluginOptions } from './plugin.ts';

/** Thrown when the start cannot go on; lists every problem, for the operator to fix at once. */
export class StartupError extends Error {
  constructor(readonly problems: string[]) {
    super(`cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StartupError';
  }
}

/** Everything the routes need, opened and checked; the caller owns `store` and closes it. */
export interface OpenedWritepath extends WritepathPluginOptions {
  store: Store;
}

/** What stops an open before any connection is made: the database URL. */
export function databaseProblems(url: string | undefined): string[] {
  if (!url) return ['database.url is not set'];
  if (url.startsWith('mongodb') && !isMongoUrl(url)) return ['database.url: a MongoDB URL starts with mongodb:// or mongodb+srv://'];
  return [];
}

/**
 * Opens the database, checks the configured tables against it, and prepares the
 * authenticator and the table rules: the start shared by the standalone server and
 * library mode. On a problem nothing stays open.
 *
 * @example
 * const opened = await openWritepath(config);
 * app.register(writepathPlugin, opened);
 * app.addHook('onClose', () => opened.store.close());
 */
export async function openWritepath(config: WritepathConfig, hooks?: Hooks): Promise<OpenedWritepath> {
  const problems = databaseProblems(config.database.url);
  if (problems.length > 0) throw new StartupError(problems);
  // Before connecting: a bad auth section fails without touching the database.
  const authenticate = cachingAuthenticator(createAuthenticator(config.auth));
  const rules = tableRules(config);
  const url = config.database.url!;
  if (isMongoUrl(url)) return openMongo(config, url, rules, authenticate, hooks);
  const role = config.auth?.postgres_role;
  const store = await PgStore.open({ url, role, fastPath: { preparedStatements: config.database.prepared_statements } });
  const tableProblems = checkTables(rules, (name) => store.findTable(name));
  if (role && tableProblems.length === 0) {
    const tables = rules.all().map((rule) => ({ where: `tables.${rule.clientName}`, ...store.findTable(rule.dbTable)! }));
    tableProblems.push(...(await checkRole(store.pool, role, tables)));
  }
  if (tableProblems.length > 0) {
    await store.close();
    throw new StartupError(tableProblems);
  }
  return { config, store, rules, authenticate, hooks };
}

/** The MongoDB Store: what it cannot honour stops the start before it connects. */
async function openMongo(config: WritepathConfig, url: string, rules: TableRules, authenticate: OpenedWritepath['authenticate'], hooks?: Hooks): Promise<OpenedWritepath> {
  const problems = mongoConfigProblems(config, hooks);
  if (problems.length > 0) throw new StartupError(problems);
  const store = await MongoStore.open({ url, tables: config.tables });
  const tableProblems = checkTables(rules, (name) => store.findTable(name));
  if (tableProblems.length > 0) {
    await store.close();
    throw new StartupError(tableProblems);
  }
  return { config, store, rules, authenticate, hooks };
}

/** The table rules; a `json_schema` that does not compile is a start problem, not a crash. */
function tableRules(config: WritepathConfig): TableRules {
  try {
    return new TableRules(config.tables);
  } catch (error) {
    throw new StartupError([(error as Error).message]);
  }
}
