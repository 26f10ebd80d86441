import { describe, expect, it } from 'vitest';
import { unavailable, WritepathError } from '../core/errors.ts';
import { classifyPgError, toBatchError } from './error-map.ts';

/** An error as pg reports one from the server: a SQLSTATE and, where Postgres knows them, the column and constraint. */
const pgError = (code: string, message: string, extra: Record<string, string> = {}) => Object.assign(new Error(message), { code, ...extra });
/** A Node socket error. */
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -1, syscall: 'connect' });

function batchError(error: unknown): WritepathError {
  const meaning = classifyPgError(error, 'todos');
  if (meaning.kind !== 'batch') throw new Error(`expected a batch error, got ${JSON.stringify(meaning)}`);
  return meaning.error;
}

function expectTemporary(error: unknown, code: string) {
  const e = batchError(error);
  expect(e).toMatchObject({ status: 503, code, retryable: true });
  expect(e.retryAfterSeconds).toBeGreaterThan(0);
}

function expectServerError(error: unknown, code: string) {
  const e = batchError(error);
  expect(e).toMatchObject({ status: 500, code, retryable: false, retryAfterSeconds: undefined });
}

describe('classifyPgError: what can never succeed is a rejection of the client transaction', () => {
  it.each([
    ['23505', 'duplicate key value violates unique constraint "todos_pkey"'],
    ['23503', 'insert or update on table "todos" violates foreign key constraint "todos_list_id_fkey"'],
    ['23514', 'new row for relation "todos" violates check constraint "todos_check"'],
    ['23P01', 'conflicting key value violates exclusion constraint "no_overlap"'],
    ['23000', 'integrity constraint violation'],
    ['P0001', 'a trigger said no'],
  ])('%s is constraint_violation, with no column when the error names none', (code, message) => {
    expect(classifyPgError(pgError(code, message), 'todos')).toEqual({
      kind: 'permanent',
      problem: { code: 'constraint_violation', message: expect.stringContaining(message) },
    });
  });

  it('names the column, the constraint and the detail when Postgres gives them', () => {
    const meaning = classifyPgError(
      pgError('23502', 'null value in column "description" of relation "todos" violates not-null constraint', {
        column: 'description',
        constraint: 'todos_description_not_null',
        detail: 'Failing row contains (…)',
      }),
      'todos',
    );
    expect(meaning).toEqual({ kind: 'permanent', problem: { code: 'constraint_violation', column: 'description', message: expect.any(String) } });
    const { message } = (meaning as { problem: { message: string } }).problem;
    expect(message).toMatch(/^todos: null value/);
    expect(message).toContain('todos_description_not_null');
    expect(message).toContain('Failing row contains');
  });

  it.each([
    ['22P02', 'invalid input syntax for type uuid: "x"'],
    ['22003', 'value "99999999999" is out of range for type integer'],
    ['22001', 'value too long for type character varying(3)'],
    ['22007', 'invalid input syntax for type timestamp with time zone: "soon"'],
    ['22023', 'invalid parameter value'],
  ])('%s is invalid_value', (code, message) => {
    expect(classifyPgError(pgError(code, message), 'todos')).toEqual({
      kind: 'permanent',
      problem: { code: 'invalid_value', message: `todos: ${message}` },
    });
    expect(classifyPgError(pgError(code, message, { column: 'due' }), 'todos')).toEqual({
      kind: 'permanent',
      problem: { code: 'invalid_value', column: 'due', message: `todos: ${message}` },
    });
  });
});

describe('classifyPgError: what may pass later fails the batch with 503', () => {
  it.each(['40001', '40P01'])('%s (serialization failure, deadlock) is write_conflict', (code) => {
    expectTemporary(pgError(code, 'could not serialize access'), 'write_conflict');
  });

  it.each([
    ['08000', 'connection exception'],
    ['08003', 'connection does not exist'],
    ['08006', 'connection failure'],
    ['08001', 'could not connect'],
    ['08004', 'server rejected the connection'],
    ['53000', 'insufficient resources'],
    ['53100', 'could not extend file: disk full'],
    ['53200', 'out of memory'],
    ['53300', 'sorry, too many clients already'],
    ['57P01', 'terminating connection due to administrator command'],
    ['57P02', 'terminating connection due to crash of another server process'],
    ['57P03', 'the database system is starting up'],
    ['57014', 'canceling statement due to statement timeout'],
    ['55P03', 'canceling statement due to lock timeout'],
    ['25006', 'cannot execute INSERT in a read-only transaction'],
  ])('%s (%s) is database_unavailable', (code, message) => {
    expectTemporary(pgError(code, message), 'database_unavailable');
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])(
    'the socket error %s is database_unavailable',
    (code) => expectTemporary(socketError(code), 'database_unavailable'),
  );

  it.each([
    'Connection terminated unexpectedly',
    'Connection terminated',
    'Client has encountered a connection error and is not queryable',
  ])('pg\'s "%s" is database_unavailable', (message) => {
    expectTemporary(new Error(message), 'database_unavailable');
  });

  it("pg pool's connect timeout is pool_exhausted", () => {
    expectTemporary(new Error('timeout exceeded when trying to connect'), 'pool_exhausted');
  });
});

describe("classifyPgError: the server's own problems and the unexpected fail the batch with 500", () => {
  it.each(['42P01', '42703'])('%s (table or column missing) is schema_mismatch', (code) => {
    expectServerError(pgError(code, 'relation "todos" does not exist'), 'schema_mismatch');
  });

  it('42501 (a privilege missing) is permission_denied, never a rejection', () => {
    expectServerError(pgError('42501', 'permission denied for table todos'), 'permission_denied');
  });

  it.each([
    ['08P01', 'protocol violation'],
    ['XX000', 'internal error'],
    ['42601', 'syntax error at or near "SELEC"'],
    ['0A000', 'feature not supported'],
    ['', 'something odd'],
  ])('%s is internal', (code, message) => {
    expectServerError(code ? pgError(code, message) : new Error(message), 'internal');
  });

  it('takes anything that is not an Error, null included', () => {
    expectServerError(null, 'internal');
    expectServerError('a string', 'internal');
  });
});

describe('batch errors on the wire', () => {
  it('keeps a WritepathError as it is', () => {
    const error = unavailable('column_held', 'held', undefined, 30);
    expect(classifyPgError(error)).toEqual({ kind: 'batch', error });
    expect(toBatchError(error)).toBe(error);
  });

  it('toBatchError makes a permanent error a 500: outside a client transaction it is unexpected', () => {
    expect(toBatchError(pgError('23505', 'duplicate key'))).toMatchObject({ status: 500, code: 'internal' });
    expect(toBatchError(pgError('40P01', 'deadlock detected'))).toMatchObject({ status: 503, code: 'write_conflict' });
  });

  it('never sends the database message or its cause to the client', () => {
    const secret = pgError('42501', 'permission denied for table payroll_secret');
    const body = JSON.stringify(toBatchError(secret).toJSON());
    expect(JSON.parse(body)).toEqual({ error: { code: 'permission_denied', message: expect.any(String) } });
    expect(body).not.toContain('payroll_secret');
    expect(toBatchError(secret).cause).toBe(secret);
  });
});
