import type pg from 'pg';
import type { EntryProblem, Operation } from '../core/operation.ts';
import type { AuthContext } from '../core/store.ts';
import { ident, qualified } from './sql.ts';

/**
 * RLS mode (`auth.postgres_role`): the configured tables are written under the app's role
 * with the token's claims set for the transaction only, as PostgREST and Supabase do, so
 * existing row-level security policies apply unchanged. SET LOCAL and set_config(…, true)
 * end with the transaction: nothing reaches the next user of the pooled connection.
 */
export class RowLevelSecurity {
  constructor(readonly role: string) {}

  /** Runs `work` under the role with the claims set; back to the server's role afterwards. */
  async as<T>(client: pg.ClientBase, auth: AuthContext, work: () => Promise<T>): Promise<T> {
    await client.query(
      `SELECT set_config('request.jwt.claims', $1, true), set_config('request.jwt.claim.sub', $2, true)`,
      [JSON.stringify(auth.claims), auth.userId],
    );
    await client.query(`SET LOCAL ROLE ${ident(this.role)}`);
    const result = await work();
    // The server's own tables (ledger, rejections) are written under the server's role. Not
    // after a failure: the transaction is then aborted and rolled back, which ends the role
    // anyway, and a RESET would fail and hide the failure's own meaning (a 503, say).
    await client.query('RESET ROLE');
    return result;
  }

  /**
   * A PATCH or DELETE that changed no row either met a missing row (a no-op: deletes win)
   * or a row the policies hide. The client could only know a hidden row because it was
   * synced to it once, so that is `forbidden`, not a silent no-op.
   */
  async hiddenRow(client: pg.ClientBase, operation: Operation, rowCount: number | null): Promise<EntryProblem | undefined> {
    const changes = operation.op === 'DELETE' || (operation.op === 'PATCH' && operation.values.length > 0);
    if (!changes || rowCount !== 0) return undefined;
    const { table, rule } = operation;
    // Sequential, not try/finally: after a failure the transaction is lost anyway (see as()).
    await client.query('RESET ROLE');
    const found = await client.query(
      `SELECT 1 FROM ${qualified(table.schema, table.name)} WHERE ${ident(rule.idColumn)} = $1::${table.columns.get(rule.idColumn)!.type}`,
      [operation.id],
    );
    await client.query(`SET LOCAL ROLE ${ident(this.role)}`);
    if (found.rowCount === 0) return undefined;
    return { code: 'forbidden', message: `${rule.clientName} ${operation.id}: row-level security does not let this user change the row` };
  }
}

/**
 * What the role needs, checked at start: that the server may switch to it and that it has
 * the grants on every configured table. A missing grant found later would be a 5xx.
 */
export async function checkRole(pool: pg.Pool, role: string, tables: Array<{ where: string; schema: string; name: string }>): Promise<string[]> {
  const problems: string[] = [];
  const member = await pool.query<{ exists: boolean; member: boolean | null }>(
    `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists,
            CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN pg_has_role(current_user, $1, 'MEMBER') END AS member`,
    [role],
  );
  if (!member.rows[0]!.exists) return [`auth.postgres_role: role ${role} does not exist`];
  if (!member.rows[0]!.member) problems.push(`auth.postgres_role: the server's role cannot SET ROLE ${role} (GRANT ${role} TO ${'<server role>'})`);
  for (const table of tables) {
    const target = qualified(table.schema, table.name);
    const grants = await pool.query<Record<string, boolean>>(
      `SELECT has_table_privilege($1, $2, 'SELECT') AS select, has_table_privilege($1, $2, 'INSERT') AS insert,
              has_table_privilege($1, $2, 'UPDATE') AS update, has_table_privilege($1, $2, 'DELETE') AS delete`,
      [role, target],
    );
    const missing = Object.entries(grants.rows[0]!).filter(([, granted]) => !granted).map(([privilege]) => privilege.toUpperCase());
    if (missing.length > 0) problems.push(`${table.where}: role ${role} lacks ${missing.join(', ')} on ${table.schema}.${table.name}`);
  }
  return problems;
}
