import type pg from 'pg';
import { ident } from './sql.ts';

/**
 * The fast path's statements, prepared once per connection (SQL PREPARE) and run by
 * EXECUTE inside a part's script. Postgres plans a 10-entry MERGE in more CPU than it runs
 * it (measured here: 0.44 ms planned each time, 0.25 ms from a prepared plan), and the fast
 * path's statement texts are few, as the values travel as one jsonb parameter: a table's
 * texts vary only with the columns a batch writes.
 *
 * SQL PREPARE rather than the protocol's prepared statements, because only the simple query
 * protocol carries a whole script in one round trip. PREPARE is not transactional: a
 * statement stays prepared whatever becomes of the batch's transaction, so each PREPARE
 * goes in a round trip of its own and is recorded once it succeeded (the first batch of a
 * shape on a connection pays that round trip).
 *
 * Poolers in transaction mode (PgBouncer, Supavisor) hand each transaction a different
 * server session, where a name prepared on another does not exist:
 * `database.prepared_statements: false` turns this off.
 */

/** Statement text to prepared name, per connection; a connection that closes takes its names along. */
const preparedByConnection = new WeakMap<pg.ClientBase, Map<string, string>>();

/**
 * Names a connection keeps at most. Each holds a plan in the backend's memory; past the
 * limit, statements are sent written out (planned every time), as without preparing.
 */
export const MAX_PREPARED_PER_CONNECTION = 64;

/** A statement of one jsonb parameter, its value already written as a dollar-quoted literal. */
export interface OneParameterStatement {
  /** The SQL with `$1::jsonb` where the value goes. */
  text: string;
  /** The value as an SQL string literal. */
  literal: string;
}

/** The statement with its value written in. */
export function writtenOut(statement: OneParameterStatement): string {
  // A function, not a string: `$&` or `$'` in the data must not be read as a replacement pattern.
  return statement.text.replace('$1::jsonb', () => `${statement.literal}::jsonb`);
}

/**
 * The statements as SQL to put in a script: EXECUTE of a name prepared on this connection
 * (prepared now, one round trip each, when new), or written out past the limit.
 */
export async function executable(client: pg.ClientBase, statements: OneParameterStatement[]): Promise<string[]> {
  let prepared = preparedByConnection.get(client);
  if (!prepared) preparedByConnection.set(client, (prepared = new Map()));
  const sql: string[] = [];
  for (const statement of statements) {
    let name = prepared.get(statement.text);
    if (name === undefined && prepared.size < MAX_PREPARED_PER_CONNECTION) {
      const candidate = `writepath_${prepared.size + 1}`;
      await client.query(`PREPARE ${ident(candidate)} (jsonb) AS ${statement.text}`);
      prepared.set(statement.text, (name = candidate));
    }
    sql.push(name === undefined ? writtenOut(statement) : `EXECUTE ${ident(name)} (${statement.literal})`);
  }
  return sql;
}
