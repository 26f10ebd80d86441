/**
 * Shutdown (PROTOCOL.md 2.5, "server shutting down"): close() lets the batch in flight commit
 * and answer, ends promptly, and nothing that arrives after it started is applied.
 */
import { randomUUID } from 'node:crypto';
import { createConnection } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { exampleSchemaSql } from '../src/playground/example-schema.ts';
import { createTestDatabase, sql } from './support/pg.ts';
import { postBatch, startTestServer, signTestToken } from './support/server.ts';
import { SLOW_TABLE_SQL, slowPut, sleep, waitForSleepingBackend } from './support/slow.ts';

const TABLES = { lists: {}, todos: {}, slow: {} };
let databaseUrl: string;
let token: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase('wp_shutdown');
  await sql(databaseUrl, exampleSchemaSql + SLOW_TABLE_SQL);
  token = await signTestToken('u1');
});

function listPut(opId: number, id: string) {
  return { op_id: opId, tx_id: opId, op: 'PUT', type: 'lists', id, data: { name: 'l', owner_id: 'u1' } };
}

async function stateOf(clientId: string, lists: string[]) {
  const [row] = await sql(
    databaseUrl,
    `SELECT (SELECT count(*) FROM lists WHERE id = ANY($2::uuid[]))::int AS lists,
            (SELECT last_op_id FROM writepath_ledger WHERE client_id = $1)::int AS ledger`,
    [clientId, lists],
  );
  return row;
}

/** Requests written on one raw connection; resolves with its responses once the server closes it. */
function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  const socket = createConnection(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  const ended = new Promise<{ status: number; headers: Record<string, string>; body: any }[]>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => resolve(parseResponses(Buffer.concat(chunks).toString('utf8'))));
  });
  return {
    post(token: string, body: unknown) {
      const text = JSON.stringify(body);
      socket.write(
        `POST /api/data HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
      );
    },
    ended,
  };
}

function parseResponses(text: string) {
  const responses = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const headEnd = rest.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = rest.slice(0, headEnd).split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length']);
    const body = rest.slice(headEnd + 4, headEnd + 4 + length);
    responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(body) });
    rest = rest.slice(headEnd + 4 + length);
  }
  return responses;
}

/** close() must end; without a bound a hanging close would only show as the test's timeout. */
async function closesWithin(close: Promise<void>, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`close() did not finish within ${ms} ms`)), ms)));
  try {
    await Promise.race([close, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('shutdown', () => {
  it('lets an in-flight batch commit and answer 200 on close; a new connection after close started is refused', async () => {
    const own = await startTestServer({ databaseUrl, config: { tables: TABLES } });
    const clientId = randomUUID();
    const list = randomUUID();
    const inFlight = postBatch(own, token, { client_id: clientId, batch: [listPut(1, list), slowPut(2, 600, randomUUID())] });
    await waitForSleepingBackend(databaseUrl);
    const closed = own.close();
    await sleep(50);
    const late = randomUUID();
    const lateClient = randomUUID();
    const lateAnswer = await postBatch(own, token, { client_id: lateClient, batch: [listPut(1, late)] }).catch((error: Error) => error);
    // Not listening any more: the connection is refused (or reset, if it was accepted just before).
    expect(lateAnswer).toBeInstanceOf(Error);
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain((lateAnswer as Error & { cause?: { code?: string } }).cause?.code);

    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ applied: 2, last_op_id: 2, rejected: [] });
    // It closes its connection, so that no idle keep-alive connection holds close() up.
    expect(answer.headers.get('connection')).toBe('close');
    await closesWithin(closed, 10_000);
    expect(await stateOf(clientId, [list])).toEqual({ lists: 1, ledger: 2 });
    expect(await stateOf(lateClient, [late])).toEqual({ lists: 0, ledger: null });
  });

  it('leaves unprocessed a request sent on an open connection after close started: no answer, nothing applied', async () => {
    const own = await startTestServer({ databaseUrl, config: { tables: TABLES } });
    const clientId = randomUUID();
    const [list, late] = [randomUUID(), randomUUID()];
    const connection = rawConnection(own.url);
    connection.post(token, { client_id: clientId, batch: [listPut(1, list), slowPut(2, 600, randomUUID())] });
    await waitForSleepingBackend(databaseUrl);
    const closed = own.close();
    await sleep(50);
    // The same connection, busy with the slow batch and so still open, carries the next one.
    connection.post(token, { client_id: clientId, batch: [listPut(3, late)] });
    const responses = await connection.ended;
    await closesWithin(closed, 10_000);
    // The in-flight batch is answered and the connection closed after it: the late request is
    // never read, which an HTTP client sees as a closed connection and retries.
    expect(responses).toEqual([expect.objectContaining({ status: 200, body: expect.objectContaining({ applied: 2, last_op_id: 2 }) })]);
    expect(responses[0]!.headers.connection).toBe('close');
    expect(await stateOf(clientId, [list, late])).toEqual({ lists: 1, ledger: 2 });
  });
});
