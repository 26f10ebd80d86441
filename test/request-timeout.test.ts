import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { configSchema } from '../src/config/schema.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { postBatch, startTestServer, type TestServer } from './support/server.ts';
import { SLOW_TABLE_SQL, slowPut } from './support/slow.ts';

/** The least the configuration allows; also the server's headers timeout here. */
const TIMEOUT_MS = 1000;

let server: TestServer;
let token: string;

beforeAll(async () => {
  const databaseUrl = await createTestDatabase('wp_timeout');
  await sql(databaseUrl, exampleSchemaSql + SLOW_TABLE_SQL);
  server = await startTestServer({ databaseUrl, config: { server: { request_timeout_ms: TIMEOUT_MS }, tables: { lists: {}, todos: {}, slow: {} } } });
  token = await server.token('u1');
});
afterAll(() => server?.close());

function oneList(clientId: string) {
  return { client_id: clientId, batch: [{ op_id: 1, op: 'PUT', type: 'lists', id: randomUUID(), data: { name: 'x' } }] };
}

/** Writes `bytes` on a fresh connection and resolves with all the server sends until it closes. */
function exchange(bytes: string): Promise<{ status: number; body: any; ms: number }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve({ status, body: body ? JSON.parse(body) : undefined, ms: performance.now() - started });
    });
    // A server that never answers fails the test here, not by the suite's timeout.
    setTimeout(() => socket.destroy(new Error('no answer within 10 s')), 10_000).unref();
  });
}

const post = (headers: string, body: string) => `POST /api/data HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n${headers}\r\n${body}`;

describe('requests Node cannot hand over', () => {
  it('answers 408 request_timeout when the body stops coming, and applies nothing', async () => {
    const clientId = randomUUID();
    const body = JSON.stringify(oneList(clientId));
    const answer = await exchange(post(`Authorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\n`, body.slice(0, 20)));
    expect(answer.status).toBe(408);
    expect(answer.body).toEqual({ error: { code: 'request_timeout', message: expect.stringContaining('server.request_timeout_ms') } });
    expect(answer.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(await sql(server.databaseUrl, 'SELECT 1 FROM writepath_ledger WHERE client_id = $1', [clientId])).toEqual([]);
  });

  it('does not count the time a batch takes once it has arrived', async () => {
    const answer = await postBatch(server, token, { client_id: randomUUID(), batch: [slowPut(1, TIMEOUT_MS * 2, randomUUID())] });
    expect(answer.status).toBe(200);
    expect(answer.body.applied).toBe(1);
  });

  it('gives Node the timeout of the configuration: 300 s unless set', () => {
    const base = { database: { url: 'postgres://x/y' }, auth: { jwt: { secret: 's'.repeat(32) } }, tables: {} };
    expect(configSchema.parse(base).server.request_timeout_ms).toBe(300_000);
    expect(configSchema.parse({ ...base, server: { request_timeout_ms: 1000 } }).server.request_timeout_ms).toBe(1000);
    const tooShort = configSchema.safeParse({ ...base, server: { request_timeout_ms: 10 } });
    expect(tooShort.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['server.request_timeout_ms']);
  });

  it('answers 400 malformed_request to what is not HTTP, and 431 headers_too_large to oversized headers', async () => {
    const garbage = await exchange('HELLO THERE\r\n\r\n');
    expect(garbage.status).toBe(400);
    expect(garbage.body).toEqual({ error: { code: 'malformed_request', message: expect.any(String) } });
    const huge = await exchange(post(`Authorization: Bearer ${token}\r\nX-Padding: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n`, '{}'));
    expect(huge.status).toBe(431);
    expect(huge.body).toEqual({ error: { code: 'headers_too_large', message: expect.any(String) } });
  });
});
