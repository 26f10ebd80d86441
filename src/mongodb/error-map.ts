import { MongoError, MongoServerError } from 'mongodb';
import { serverError, unavailable, WritepathError } from '../core/errors.ts';
import type { EntryProblem } from '../core/operation.ts';

/**
 * What a MongoDB error means for the batch: the one place that reads MongoDB error codes
 * and labels (the counterpart of `postgres/error-map.ts`).
 * - `permanent`: this client transaction can never succeed; it is rejected, the batch goes on.
 * - anything else fails the whole batch with nothing applied: 503 for what may pass later,
 *   500 for the server's own problems and the unexpected.
 */
export type MongoErrorMeaning = { kind: 'permanent'; problem: EntryProblem } | { kind: 'batch'; error: WritepathError };

/** Codes of a write that can never succeed as sent. */
const CONSTRAINT_CODES = new Map<number, string>([
  [11000, 'duplicate key'],
  [11001, 'duplicate key'],
  [121, 'document failed validation'],
  [10334, 'document too large'],
  [17419, 'document too large'],
  [17420, 'document too large'],
]);

/** Codes of a concurrent write to the same document: the batch may pass when tried again. */
const CONFLICT_CODES = new Set([112, 251, 24, 225]); // WriteConflict, NoSuchTransaction, LockTimeout, TransactionTooOld

/**
 * Codes of a server that cannot serve now: stepping down, shutting down, not primary,
 * interrupted, over a time limit. From the driver's list of retryable errors and the
 * server's error_codes.yml.
 */
const UNAVAILABLE_CODES = new Set([6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 134, 133]);

/** Driver errors of a connection that failed, was lost or could not be had in time. */
const UNREACHABLE_ERRORS = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoPoolClearedError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoServerClosedError',
  'MongoPoolClosedError',
  'MongoOperationTimeoutError',
]);

/** Node socket errors, as a bulk write reports a connection lost while it was sent. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function classifyMongoError(error: unknown, clientTable?: string): MongoErrorMeaning {
  if (error instanceof WritepathError) return { kind: 'batch', error };
  // A bulk write wraps what stopped it (a network error, say) as its errorResponse.
  const inner = (error as { errorResponse?: unknown } | undefined)?.errorResponse;
  if (inner instanceof Error && inner !== error) {
    const meaning = classifyMongoError(inner, clientTable);
    if (meaning.kind === 'permanent' || meaning.error.code !== 'internal') return meaning;
  }
  const e = error as { name?: string; code?: unknown; message?: string } | undefined;
  const code = typeof e?.code === 'number' ? e.code : undefined;
  const message = e?.message ?? String(error);
  const hasLabel = (label: string) => error instanceof MongoError && error.hasErrorLabel(label);

  if (code !== undefined && CONSTRAINT_CODES.has(code)) {
    return {
      kind: 'permanent',
      problem: { code: 'constraint_violation', message: `${clientTable ? `${clientTable}: ` : ''}${CONSTRAINT_CODES.get(code)}: ${message}` },
    };
  }
  if (e?.name === 'MongoWaitQueueTimeoutError') {
    return { kind: 'batch', error: unavailable('pool_exhausted', 'all database connections are busy; retry', error) };
  }
  if ((code !== undefined && CONFLICT_CODES.has(code)) || hasLabel('TransientTransactionError')) {
    return { kind: 'batch', error: unavailable('write_conflict', 'a concurrent batch wrote the same documents; retry', error) };
  }
  if (hasLabel('UnknownTransactionCommitResult')) {
    return { kind: 'batch', error: unavailable('database_unavailable', 'the commit could not be confirmed; retry (what committed is skipped as duplicates)', error) };
  }
  if (UNREACHABLE_ERRORS.has(e?.name ?? '') || SOCKET_ERRORS.has(String(e?.code)) || (code !== undefined && UNAVAILABLE_CODES.has(code)) || hasLabel('RetryableWriteError')) {
    return { kind: 'batch', error: unavailable('database_unavailable', 'the database is unreachable or not ready', error) };
  }
  // 13: Unauthorized; 18: AuthenticationFailed. The operator's to fix, never the client's.
  if (code === 13 || code === 18) {
    return { kind: 'batch', error: serverError('permission_denied', 'the server\'s database user lacks a permission it needs', error) };
  }
  const what = error instanceof MongoServerError ? `unexpected database error (${code ?? 'no code'})` : 'unexpected database error';
  return { kind: 'batch', error: serverError('internal', what, error) };
}

/** The batch-level error of a MongoDB error, whatever it is. */
export function toBatchError(error: unknown): WritepathError {
  const meaning = classifyMongoError(error);
  return meaning.kind === 'batch' ? meaning.error : serverError('internal', 'unexpected database error', error);
}
