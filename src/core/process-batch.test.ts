/**
 * The engine's retry policy for a serialization failure or deadlock: a fake Store stands in
 * for the database (what the Store does with Postgres is tested against a real one in
 * test/failures-server.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { BatchRequest } from '../protocol/wire.ts';
import { TableRules } from '../rules/table-rules.ts';
import { serverError, unavailable, WritepathError } from './errors.ts';
import { processBatch } from './process-batch.ts';
import { memoryStore, textTable } from './testing.ts';

const LISTS = textTable('lists', ['name']);
const rules = new TableRules({ lists: { id_column: 'id', put: 'merge', apply: 'exact', on_unknown_column: 'reject' } });
const auth = { userId: 'u1', claims: {} };

const fakeStore = (failure: unknown, failAt: (attempt: number) => boolean) => memoryStore(LISTS, { failure, failAt });

const request = (...opIds: number[]): BatchRequest => ({
  clientId: 'c1',
  entries: opIds.map((opId) => ({ opId, txId: opId, fields: { op_id: opId, tx_id: opId, op: 'PUT', type: 'lists', id: `l${opId}`, data: { name: 'n' } } })),
});
const conflict = () => unavailable('write_conflict', 'the database could not serialize this batch with concurrent ones; retry');

describe('processBatch retries a write conflict', () => {
  it('runs the whole batch again after a serialization failure or deadlock and commits it once', async () => {
    const { store, state } = fakeStore(conflict(), (attempt) => attempt <= 2);
    const response = await processBatch({ store, rules }, request(1, 2), auth);
    expect(response).toEqual({ client_id: 'c1', last_op_id: 2, applied: 2, duplicates: 0, skipped: 0, rejected: [] });
    expect(state).toMatchObject({ attempts: 3, commits: 1, ledger: 2, applied: [1, 2] });
  });

  it('reads the ledger again on each attempt: what a concurrent batch committed meanwhile is a duplicate', async () => {
    const { store, state } = fakeStore(conflict(), (attempt) => {
      // The same client's other request committed op 1 while this attempt was rolled back.
      if (attempt === 1) state.ledger = 1;
      return attempt === 1;
    });
    const response = await processBatch({ store, rules }, request(1, 2), auth);
    expect(response).toMatchObject({ last_op_id: 2, applied: 1, duplicates: 1 });
    expect(state).toMatchObject({ attempts: 2, commits: 1, applied: [2] });
  });

  it('gives up after maxAttempts (3 by default) with the 503 write_conflict and Retry-After, nothing committed', async () => {
    const { store, state } = fakeStore(conflict(), () => true);
    const error = await processBatch({ store, rules }, request(1), auth).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WritepathError);
    expect(error).toMatchObject({ status: 503, code: 'write_conflict', retryable: true });
    expect((error as WritepathError).retryAfterSeconds).toBeGreaterThan(0);
    expect(state).toMatchObject({ attempts: 3, commits: 0, ledger: 0, applied: [] });
  });

  it('takes maxAttempts from the options', async () => {
    const { store, state } = fakeStore(conflict(), () => true);
    await expect(processBatch({ store, rules, maxAttempts: 5 }, request(1), auth)).rejects.toMatchObject({ code: 'write_conflict' });
    expect(state.attempts).toBe(5);
    const once = fakeStore(conflict(), () => true);
    await expect(processBatch({ store: once.store, rules, maxAttempts: 1 }, request(1), auth)).rejects.toMatchObject({ status: 503 });
    expect(once.state.attempts).toBe(1);
  });

  it.each([
    ['a 500', serverError('permission_denied', 'the server\'s database role lacks a permission it needs')],
    ['an error that is no WritepathError', new Error('boom')],
  ])('does not retry %s', async (_name, failure) => {
    const { store, state } = fakeStore(failure, () => true);
    await expect(processBatch({ store, rules }, request(1), auth)).rejects.toBe(failure);
    expect(state).toMatchObject({ attempts: 1, commits: 0 });
  });
});
