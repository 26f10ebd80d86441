import type pg from 'pg';
import { Rejection, type HandlerContext } from '../core/hooks.ts';
import { entryView } from '../core/entry-hooks.ts';
import type { EntryProblem, Operation } from '../core/operation.ts';
import type { AuthContext } from '../core/store.ts';
import { conflictExtras, lostTo } from './conflict.ts';
import { classifyPgError } from './error-map.ts';
import type { RowLevelSecurity } from './row-level-security.ts';
import { statementFor, type StatementExtras } from './statements.ts';

export interface ApplyContext {
  client: pg.ClientBase;
  auth: AuthContext;
  rls?: RowLevelSecurity;
}

/**
 * Applies one operation in the batch's transaction and says why it cannot be, if so.
 * Throws for what fails the whole batch. A library handler runs instead of the write and
 * may call `apply()` to write as usual.
 */
export async function applyOperation(operation: Operation, context: ApplyContext): Promise<EntryProblem | undefined> {
  try {
    if (!operation.handler) return await write(operation, context);
    const handlerContext: HandlerContext = {
      userId: context.auth.userId,
      claims: context.auth.claims,
      query: async (text, params) => {
        const result = await context.client.query(text, params);
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      },
      apply: async () => {
        const outcome = await writeCounting(operation, context);
        // The write itself was refused (a lost conflict check, a hidden row): that ends the
        // handler too, with the write's own answer.
        if (outcome.problem) throw new RefusedWrite(outcome.problem);
        return outcome.rowCount;
      },
    };
    await operation.handler(entryView(operation.entry)!, handlerContext);
    return undefined;
  } catch (error) {
    if (error instanceof RefusedWrite) return error.problem;
    if (error instanceof Rejection) return { code: error.code, message: error.message };
    const meaning = classifyPgError(error, operation.rule.clientName);
    if (meaning.kind === 'batch') throw meaning.error;
    return meaning.problem;
  }
}

async function write(operation: Operation, context: ApplyContext): Promise<EntryProblem | undefined> {
  return (await writeCounting(operation, context)).problem;
}

/** writepath's own write: the statement, then what a changed-nothing result means. */
async function writeCounting(operation: Operation, context: ApplyContext): Promise<{ rowCount: number; problem?: EntryProblem }> {
  const { client, rls } = context;
  const extras: StatementExtras = operation.rule.conflict.strategy === 'last_write_wins' ? {} : await conflictExtras(client, operation);
  if (operation.rule.softDelete && operation.op === 'DELETE') extras.softDelete = softDelete(operation, operation.rule.softDelete);
  const result = await client.query(statementFor(operation, extras));
  const rowCount = result.rowCount ?? 0;
  if (rowCount > 0 || result.command === 'SELECT') return { rowCount };
  if (extras.guard) {
    const lost = await lostTo(client, operation);
    if (lost) return { rowCount, problem: lost };
  }
  const hidden = rls && (await rls.hiddenRow(client, operation, rowCount));
  return hidden ? { rowCount, problem: hidden } : { rowCount };
}

/** A soft delete marks the row: true for a boolean column, the time for any other. */
function softDelete(operation: Operation, column: string): { column: string; value: string } {
  const type = operation.table.columns.get(column)?.type;
  return { column, value: type === 'boolean' ? 'true' : 'now()' };
}

class RefusedWrite extends Error {
  constructor(readonly problem: EntryProblem) {
    super(problem.message);
  }
}
