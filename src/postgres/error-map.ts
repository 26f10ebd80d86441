import { serverError, unavailable, WritepathError } from '../core/errors.ts';
import type { EntryProblem } from '../core/operation.ts';

/**
 * What a Postgres error means for the batch: the one place that reads SQLSTATEs.
 * - `permanent`: this client transaction can never succeed; it is rejected, the batch goes on.
 * - anything else becomes a WritepathError that fails the whole batch with nothing applied:
 *   503 for what may pass later, 500 for the server's own problems and the unexpected.
 */
export type PgErrorMeaning = { kind: 'permanent'; problem: EntryProblem } | { kind: 'batch'; error: WritepathError };

interface PgErrorLike {
  code?: string;
  message?: string;
  column?: string;
  constraint?: string;
  table?: string;
  detail?: string;
}

/** Node socket errors and pg's own messages for a connection that failed or went away. */
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECTION_MESSAGES = [/Connection terminated/i, /connection .* closed/i, /Client has encountered a connection error/i, /not queryable/i];

export function classifyPgError(error: unknown, clientTable?: string): PgErrorMeaning {
  if (error instanceof WritepathError) return { kind: 'batch', error };
  const e = (error ?? {}) as PgErrorLike;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = e.message ?? String(error);

  // P0001: a trigger or function raised an exception to refuse the row, a business rule.
  if (code.startsWith('23') || code === 'P0001') {
    const where = e.constraint ? ` (${e.constraint})` : '';
    return {
      kind: 'permanent',
      problem: {
        code: 'constraint_violation',
        message: `${clientTable ? `${clientTable}: ` : ''}${message}${where}${e.detail ? `: ${e.detail}` : ''}`,
        ...(e.column && { column: e.column }),
      },
    };
  }
  if (code.startsWith('22')) {
    return {
      kind: 'permanent',
      problem: { code: 'invalid_value', message: `${clientTable ? `${clientTable}: ` : ''}${message}`, ...(e.column && { column: e.column }) },
    };
  }
  if (code === '40001' || code === '40P01') {
    return { kind: 'batch', error: unavailable('write_conflict', 'the database could not serialize this batch with concurrent ones; retry', error) };
  }
  // 55P03: lock_timeout; 25006: a read-only transaction (a replica just after a failover).
  if ((code.startsWith('08') && code !== '08P01') || code.startsWith('53') || code.startsWith('57P') || code === '57014' || code === '55P03' || code === '25006') {
    return { kind: 'batch', error: unavailable('database_unavailable', `the database is temporarily unavailable (${code})`, error) };
  }
  if (CONNECTION_ERRORS.has(code) || (!code && CONNECTION_MESSAGES.some((re) => re.test(message)))) {
    return { kind: 'batch', error: unavailable('database_unavailable', 'the database connection failed or was lost', error) };
  }
  if (/timeout exceeded when trying to connect/i.test(message)) {
    return { kind: 'batch', error: unavailable('pool_exhausted', 'all database connections are busy; retry', error) };
  }
  // 42804: a column's type changed under the schema as last read.
  if (code === '42P01' || code === '42703' || code === '3F000' || code === '42804') {
    return { kind: 'batch', error: serverError('schema_mismatch', `the database schema does not match the configuration (${code})`, error) };
  }
  // The same SQLSTATE as a missing grant, but a policy refusing this user's row.
  if (code === '42501' && /row-level security/i.test(message)) {
    return { kind: 'permanent', problem: { code: 'forbidden', message: `${clientTable ? `${clientTable}: ` : ''}${message}` } };
  }
  if (code === '42501') {
    return { kind: 'batch', error: serverError('permission_denied', 'the server\'s database role lacks a permission it needs', error) };
  }
  return { kind: 'batch', error: serverError('internal', 'unexpected database error', error) };
}

/** Throws the batch-level error of a Postgres error, whatever it is. */
export function toBatchError(error: unknown): WritepathError {
  const meaning = classifyPgError(error);
  return meaning.kind === 'batch' ? meaning.error : serverError('internal', 'unexpected database error', error);
}
