import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWithAuthorization } from './support/auth-requests.ts';
import { exampleDatabase, newWritepath } from './support/library.ts';
import { postBatch, signTestToken, startTestServer, type TestServer } from './support/server.ts';

const ADMIN_TOKEN = 'metrics-admin-token-0123456789';

let server: TestServer;
let other: TestServer;

beforeAll(async () => {
  const config = { admin: { token: ADMIN_TOKEN }, tables: { lists: {}, todos: { on_unknown_column: 'hold' } } };
  // Two servers in one process: each must count only its own batches.
  [server, other] = await Promise.all([startTestServer({ config }), startTestServer({ config })]);
});
afterAll(async () => {
  await Promise.all([server?.close(), other?.close()]);
});

async function scrape(base: TestServer): Promise<{ text: string; contentType: string | null }> {
  const response = await fetch(`${base.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(response.status).toBe(200);
  return { text: await response.text(), contentType: response.headers.get('content-type') };
}

/** The value of one sample, `name{labels}` exactly as exported; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const list = (opId: number, data: Record<string, unknown> = { name: 'x' }, txId: number = opId) => ({ op_id: opId, tx_id: txId, op: 'PUT', type: 'lists', id: randomUUID(), data });
const todo = (opId: number, data: Record<string, unknown>, txId: number = opId) => ({ op_id: opId, tx_id: txId, op: 'PUT', type: 'todos', id: randomUUID(), data });

describe('GET /metrics', () => {
  it('counts batches by status and entries by outcome and rejection code, with the right values', async () => {
    const token = await server.token('u1');
    const bodies: string[] = [];
    const post = async (body: unknown) => {
      bodies.push(JSON.stringify(body));
      return postBatch(server, token, body);
    };
    const client = randomUUID();
    // 2 applied, 1 invalid_value.
    const first = { client_id: client, batch: [list(1), list(2), todo(3, { description: 'd', completed: 'yes' })] };
    expect((await post(first)).body).toMatchObject({ applied: 2, duplicates: 0, rejected: [{ code: 'invalid_value' }] });
    // The same batch again: 3 duplicates.
    expect((await post(first)).body).toMatchObject({ applied: 0, duplicates: 3, rejected: [] });
    // A two-entry transaction with one unknown table: unknown_table + transaction_rejected; then 1 applied.
    const second = { client_id: client, batch: [list(4, { name: 'y' }, 9), { ...list(5, {}, 9), type: 'nope' }, list(6)] };
    expect((await post(second)).body).toMatchObject({ applied: 1, rejected: [{ code: 'transaction_rejected' }, { code: 'unknown_table' }] });
    // Refused before any work: counted by status, not in entries.
    expect((await postWithAuthorization(server.url, undefined, first)).status).toBe(401);
    // An unknown column of a table held by on_unknown_column: hold is a 503 column_held.
    const held = await post({ client_id: randomUUID(), batch: [todo(1, { description: 'd', colour: 'red' })] });
    expect({ status: held.status, code: held.body.error?.code }).toEqual({ status: 503, code: 'column_held' });

    const { text, contentType } = await scrape(server);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const expected: Record<string, number> = {
      'writepath_batches_total{status="200"}': 3,
      'writepath_batches_total{status="401"}': 1,
      'writepath_batches_total{status="503"}': 1,
      'writepath_entries_total{outcome="applied"}': 3,
      'writepath_entries_total{outcome="duplicate"}': 3,
      'writepath_entries_total{outcome="skipped"}': 0,
      'writepath_entries_total{outcome="rejected"}': 3,
      'writepath_rejected_entries_total{code="invalid_value"}': 1,
      'writepath_rejected_entries_total{code="unknown_table"}': 1,
      'writepath_rejected_entries_total{code="transaction_rejected"}': 1,
      'writepath_unavailable_total{code="column_held"}': 1,
      writepath_batch_duration_seconds_count: 5,
      writepath_batches_in_flight: 0,
      // The 401 is refused before its body is read.
      writepath_request_body_bytes_count: 4,
      writepath_request_body_bytes_sum: bodies.reduce((sum, body) => sum + Buffer.byteLength(body), 0),
      writepath_rewinds_total: 0,
    };
    const actual = Object.fromEntries(Object.keys(expected).map((series) => [series, sample(text, series)]));
    expect(actual).toEqual(expected);
    expect(sample(text, 'writepath_db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'writepath_db_pool_waiting_requests')).toBe(0);
    expect(text).toContain('# TYPE writepath_batch_duration_seconds histogram');
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    // No user, client or client table ever becomes a label.
    for (const word of ['u1', client, 'nope', 'lists']) expect(text).not.toContain(`"${word}"`);
  });

  it('keeps each app instance to its own registry', async () => {
    const { text } = await scrape(other);
    expect(sample(text, 'writepath_entries_total{outcome="applied"}')).toBe(0);
    expect(sample(text, 'writepath_batches_total{status="200"}')).toBeUndefined();
    await postBatch(other, await other.token('u2'), { client_id: randomUUID(), batch: [list(1)] });
    expect(sample((await scrape(other)).text, 'writepath_entries_total{outcome="applied"}')).toBe(1);
    expect(sample((await scrape(server)).text, 'writepath_entries_total{outcome="applied"}')).toBe(3);
  });

  it('counts the entries of a restored client in writepath_rewinds_total', async () => {
    const token = await server.token('u3');
    const clientId = randomUUID();
    const before = sample((await scrape(server)).text, 'writepath_rewinds_total')!;
    expect((await postBatch(server, token, { client_id: clientId, batch: [list(1), list(2)] })).body).toMatchObject({ applied: 2 });
    // A backup taken at op 1, restored: op 2 comes again with other content.
    expect((await postBatch(server, token, { client_id: clientId, batch: [list(2, { name: 'after restore' })] })).body).toMatchObject({ applied: 1, duplicates: 0 });
    expect(sample((await scrape(server)).text, 'writepath_rewinds_total')).toBe(before + 1);
  });
});

describe('library mode', () => {
  it('serves /metrics through handle() with admin.token, and leaves the path to the host without it', async () => {
    const databaseUrl = await exampleDatabase();
    const wp = newWritepath(databaseUrl, { admin: { token: ADMIN_TOKEN } });
    const plain = newWritepath(databaseUrl);
    try {
      const batch = await wp.handle(new Request('http://app.test/api/data', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await signTestToken('u1')}` },
        body: JSON.stringify({ client_id: randomUUID(), batch: [list(1), list(2)] }),
      }));
      expect(batch.status).toBe(200);
      const metrics = await wp.handle(new Request('http://app.test/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
      expect(metrics.status).toBe(200);
      expect(sample(await metrics.text(), 'writepath_entries_total{outcome="applied"}')).toBe(2);
      expect((await wp.handle(new Request('http://app.test/metrics'))).status).toBe(401);
      expect((await plain.handle(new Request('http://app.test/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }))).status).toBe(404);
    } finally {
      await Promise.all([wp.close(), plain.close()]);
    }
  });
});
