import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { ident } from './sql.ts';

/**
 * Statements prepared once per connection (SQL PREPARE) and run by EXECUTE inside a
 * batch's script. Postgres plans a 10-entry MERGE in more CPU than it runs it, and the
 * ledger's few statements cost more to parse and plan than to run (measured here, per
 * 10-entry batch: 0.43 ms of Postgres CPU with every statement planned, 0.31 ms with all
 * of them prepared). The texts are few: values travel as parameters, and a table's fast
 * path statements vary only with the columns a batch writes.
 *
 * SQL PREPARE rather than the protocol's prepared statements, because only the simple query
 * protocol carries a whole script in one round trip. PREPARE is not transactional: a
 * statement stays prepared whatever becomes of the batch's transaction, so the PREPAREs a
 * script needs go in a round trip before it (the first batch of a shape on a connection
 * pays that round trip), and are recorded once they succeeded.
 *
 * Poolers in transaction mode (PgBouncer, Supavisor) hand each transaction a different
 * server session, where a name prepared on another does not exist:
 * `database.prepared_statements: false` turns this off, and the store turns it off by
 * itself the first time a name it prepared is missing (see `preparedMismatch`).
 */

/** A statement with parameters `$1`…`$n`, their values written as SQL. */
export interface PreparableStatement {
  text: string;
  /** The parameters' types, for PREPARE. */
  types: string[];
  /** The parameters' values as SQL expressions (literals, mostly), in order. */
  args: string[];
}

/**
 * Per connection (one that closes takes its names along): parameter types, then text, to
 * prepared name. Two levels rather than one key of both: a text built once and looked up
 * again is hashed once.
 */
const preparedByConnection = new WeakMap<pg.ClientBase, { tag: string; count: number; byTypes: Map<string, Map<string, string>> }>();

/**
 * Names a connection keeps at most. Each holds a plan in the backend's memory; past the
 * limit, statements are sent written out (planned every time), as without preparing.
 */
export const MAX_PREPARED_PER_CONNECTION = 64;

/**
 * The statements as SQL to put in a script: EXECUTE of a name prepared on this connection
 * (the new ones prepared now, in one round trip), or written out when
 * `options.preparedStatements` is false or past the limit.
 */
export async function executable(client: pg.ClientBase, statements: PreparableStatement[], options: { preparedStatements?: boolean } = {}): Promise<string[]> {
  if (options.preparedStatements === false) return statements.map(writtenOut);
  let prepared = preparedByConnection.get(client);
  // A tag of the connection's own in its names: behind a pooler, a server session may hold
  // names another connection prepared there.
  if (!prepared) preparedByConnection.set(client, (prepared = { tag: randomBytes(8).toString('hex'), count: 0, byTypes: new Map() }));
  const sql: string[] = [];
  const toPrepare: string[] = [];
  const recorded: Array<{ byText: Map<string, string>; text: string }> = [];
  for (const statement of statements) {
    const types = statement.types.join(', ');
    let byText = prepared.byTypes.get(types);
    if (!byText) prepared.byTypes.set(types, (byText = new Map()));
    let name = byText.get(statement.text);
    if (name === undefined && prepared.count < MAX_PREPARED_PER_CONNECTION) {
      name = `writepath_${prepared.tag}_${++prepared.count}`;
      // Recorded now, so that a text that comes twice is prepared once.
      byText.set(statement.text, name);
      recorded.push({ byText, text: statement.text });
      toPrepare.push(`PREPARE ${ident(name)} (${types}) AS ${statement.text}`);
    }
    sql.push(name === undefined ? writtenOut(statement) : `EXECUTE ${ident(name)} (${statement.args.join(', ')})`);
  }
  if (toPrepare.length > 0) {
    try {
      await client.query(toPrepare.join(';\n'));
    } catch (error) {
      // Some may have been prepared before one failed: those texts get new names next time
      // (names are never reused), and the failed round trip's names still count toward the
      // limit, so what a connection keeps stays bounded.
      for (const { byText, text } of recorded) byText.delete(text);
      throw error;
    }
  }
  return sql;
}

/**
 * The Postgres error, if a failure says the connection's prepared names are not what was
 * recorded: one missing (26000: a pooler in transaction mode, or a DEALLOCATE) or one
 * already there (42P05). `error` may be a pg error or carry one as its `cause`.
 */
export function preparedMismatch(error: unknown): Error | undefined {
  for (let e = error as (Error & { code?: unknown }) | undefined, depth = 0; e && depth < 3; e = e.cause as typeof e, depth++) {
    if (e.code === '26000' || e.code === '42P05') return e;
  }
  return undefined;
}

/** Drops what was recorded of a connection's prepared names (it is to be closed). */
export function forgetPrepared(client: pg.ClientBase): void {
  preparedByConnection.delete(client);
}

/**
 * The statement with its values written in place of `$1`…`$n`, each as `(value)::type`.
 * Quoted identifiers and string literals are passed over: a column may be named `a$1`.
 */
export function writtenOut(statement: PreparableStatement): string {
  const { text, types, args } = statement;
  let out = '';
  let from = 0;
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (char === '"' || char === "'") {
      // To the closing quote; a doubled quote inside is an escaped one, passed over the same way.
      at = text.indexOf(char, at + 1);
      if (at < 0) break;
      continue;
    }
    if (char !== '$') continue;
    const digits = /^\d+/.exec(text.slice(at + 1, at + 8));
    if (!digits) continue;
    const index = Number(digits[0]) - 1;
    out += `${text.slice(from, at)}(${args[index]})::${types[index]}`;
    from = at = at + digits[0].length + 1;
    at--;
  }
  return out + text.slice(from);
}
