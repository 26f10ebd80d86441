import { MongoBulkWriteError, MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { classifyMongoError } from './error-map.ts';

/** An error as the server reports one: a code, a name, labels. */
const serverError = (code: number, errmsg: string, errorLabels: string[] = []) => new MongoServerError({ ok: 0, code, errmsg, errorLabels });

const meaningOf = (error: unknown) => {
  const meaning = classifyMongoError(error, 'todos');
  return meaning.kind === 'permanent'
    ? { kind: meaning.kind, code: meaning.problem.code }
    : { kind: meaning.kind, status: meaning.error.status, code: meaning.error.code, retryAfter: meaning.error.retryAfterSeconds };
};

describe('classifyMongoError', () => {
  it.each([
    [11000, 'E11000 duplicate key error collection: app.todos index: code_1'],
    [121, 'Document failed validation'],
    [10334, 'BSONObj size is invalid'],
  ])('code %i can never succeed: a constraint_violation of the client transaction', (code, message) => {
    expect(meaningOf(serverError(code, message))).toEqual({ kind: 'permanent', code: 'constraint_violation' });
  });

  it('names the table in the rejection message', () => {
    const meaning = classifyMongoError(serverError(11000, 'E11000 duplicate key'), 'todos');
    expect(meaning.kind === 'permanent' && meaning.problem.message).toBe('todos: duplicate key: E11000 duplicate key');
  });

  it('a write conflict or a transient transaction error is a write_conflict the engine retries, else 503', () => {
    expect(meaningOf(serverError(112, 'WriteConflict'))).toEqual({ kind: 'batch', status: 503, code: 'write_conflict', retryAfter: 1 });
    expect(meaningOf(serverError(9999, 'something', ['TransientTransactionError']))).toMatchObject({ status: 503, code: 'write_conflict' });
  });

  it('an unknown commit result, a server not primary or shutting down, an unreachable server: 503', () => {
    expect(meaningOf(serverError(50, 'commit timed out', ['UnknownTransactionCommitResult']))).toMatchObject({ status: 503, code: 'database_unavailable' });
    expect(meaningOf(serverError(10107, 'not primary'))).toMatchObject({ status: 503, code: 'database_unavailable' });
    expect(meaningOf(serverError(91, 'shutdown in progress'))).toMatchObject({ status: 503, code: 'database_unavailable' });
    expect(meaningOf(new MongoNetworkError('connection reset'))).toMatchObject({ status: 503, code: 'database_unavailable' });
    expect(meaningOf(new MongoServerSelectionError('Server selection timed out after 5000 ms', { error: undefined } as never))).toMatchObject({ status: 503 });
  });

  it('a pool with no free connection in time is pool_exhausted, 503', () => {
    const waitQueueTimeout = Object.assign(new Error('Timed out while checking out a connection from connection pool'), { name: 'MongoWaitQueueTimeoutError' });
    expect(meaningOf(waitQueueTimeout)).toMatchObject({ status: 503, code: 'pool_exhausted' });
  });

  it('looks inside a bulk write error at what stopped it: a socket error is 503, a duplicate key a rejection', () => {
    const reset = Object.assign(new Error('write ECONNRESET'), { code: 'ECONNRESET', syscall: 'write' });
    const bulk = new MongoBulkWriteError(reset as never, {} as never);
    expect(meaningOf(bulk)).toMatchObject({ status: 503, code: 'database_unavailable' });
    const duplicate = new MongoBulkWriteError(serverError(11000, 'E11000 duplicate key') as never, {} as never);
    expect(meaningOf(duplicate)).toEqual({ kind: 'permanent', code: 'constraint_violation' });
  });

  it('a missing permission is the server\'s own problem, anything else unexpected: 500 without retry', () => {
    expect(meaningOf(serverError(13, 'not authorized on app to execute command'))).toEqual({ kind: 'batch', status: 500, code: 'permission_denied', retryAfter: undefined });
    expect(meaningOf(serverError(2, 'BadValue'))).toEqual({ kind: 'batch', status: 500, code: 'internal', retryAfter: undefined });
    expect(meaningOf(new TypeError('x is undefined'))).toMatchObject({ status: 500, code: 'internal' });
  });
});
